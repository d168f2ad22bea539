"""Rendering message templates: Jinja2 in its sandbox (templates are written by organizations, so
they may read the context but call nothing unsafe), with autoescape for HTML and StrictUndefined
so a misspelt variable is an error when the template is saved, not a blank in a customer's mail.

Also the formatting the context needs (money, dates) for the languages TOS ships, kept here so it
is pure and testable without a database."""

from __future__ import annotations

import datetime as dt
import re
import traceback
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from tos.core.money import currency_exponent, to_major

SUBJECT_MAX = 300
SMS_MAX = 1600  # Twilio refuses longer bodies (error 21617)


def _env(*, html: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


_TEXT = _env(html=False)
_HTML = _env(html=True)


class RenderError(Exception):
    """A template that does not compile or render: which part, which line, Jinja's message."""

    def __init__(self, part: str, message: str, line: int | None = None) -> None:
        self.part, self.line, self.message = part, line, message
        where = f" (line {line})" if line else ""
        super().__init__(f"{part}{where}: {message}")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str | None
    text: str
    html: str | None


@lru_cache(maxsize=512)
def _compile(source: str, html: bool):  # noqa: ANN202 - jinja2.Template
    return (_HTML if html else _TEXT).from_string(source)


def render_part(part: str, source: str, context: dict[str, Any], *, html: bool = False) -> str:
    try:
        template = _compile(source, html)
    except TemplateSyntaxError as exc:
        raise RenderError(part, exc.message or str(exc), exc.lineno) from None
    try:
        return template.render(context)
    except TemplateError as exc:  # undefined names, sandbox refusals
        raise RenderError(part, exc.message or str(exc), _template_line(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise RenderError(part, f"{type(exc).__name__}: {exc}", _template_line(exc)) from None


def _template_line(exc: BaseException) -> int | None:
    # Jinja rewrites tracebacks so template frames carry the template's own line numbers.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
    return frames[-1].lineno if frames else None


def render(
    subject: str | None, body_text: str, body_html: str | None, context: dict[str, Any]
) -> Rendered:
    text = render_part("body_text", body_text, context).strip()
    return Rendered(
        subject=one_line(render_part("subject", subject, context)) if subject else None,
        text=text,
        html=render_part("body_html", body_html, context, html=True) if body_html else None,
    )


def one_line(value: str) -> str:
    # A subject is one header line: newlines would be header injection or a refused message.
    return " ".join(value.split())[:SUBJECT_MAX]


# --- formatting for the shipped languages --------------------------------------------------

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "INR": "₹", "BRL": "R$", "JPY": "¥"}
# language -> (thousands separator, decimal mark, symbol after the number)
_NUMBER_STYLE = {"en": (",", ".", False), "pt": (".", ",", True)}

_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "pt": [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ],
}
_WEEKDAYS = {  # Monday first, as date.weekday()
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "pt": [
        "segunda-feira",
        "terça-feira",
        "quarta-feira",
        "quinta-feira",
        "sexta-feira",
        "sábado",
        "domingo",
    ],
}


def format_money(minor: int, currency: str, language: str = "en") -> str:
    """`€1,234.50` in English, `1.234,50 €` in Portuguese; other languages read as English."""
    thousands, decimal_mark, after = _NUMBER_STYLE.get(language, _NUMBER_STYLE["en"])
    exp = currency_exponent(currency)
    value: Decimal = to_major(abs(minor), currency)
    whole, _, frac = f"{value:.{exp}f}".partition(".")
    grouped = re.sub(r"(\d)(?=(\d{3})+$)", rf"\1{thousands}", whole)
    number = grouped + (decimal_mark + frac if exp else "")
    sign = "-" if minor < 0 else ""
    symbol = _SYMBOLS.get(currency.upper())
    if symbol is None:
        return f"{sign}{number} {currency.upper()}"
    return f"{sign}{number} {symbol}" if after else f"{sign}{symbol}{number}"


def format_date(day: dt.date, language: str = "en") -> str:
    lang = language if language in _MONTHS else "en"
    weekday, month = _WEEKDAYS[lang][day.weekday()], _MONTHS[lang][day.month - 1]
    if lang == "pt":
        return f"{weekday}, {day.day} de {month} de {day.year}"
    return f"{weekday}, {day.day} {month} {day.year}"


def format_time(moment: dt.time) -> str:
    return moment.strftime("%H:%M")


# --- the context every template can read -----------------------------------------------------


def sample_context(language: str = "en") -> dict[str, Any]:
    """A context with every key a real one has, every optional one filled: templates are
    checked against it when saved, and it documents what a template may use."""
    day = dt.date(2026, 5, 18)
    money = lambda minor: format_money(minor, "EUR", language)  # noqa: E731
    return {
        "language": language,
        "organization": {"name": "Lisbon Walks", "slug": "lisbon-walks"},
        "customer": {
            "first_name": "Ana",
            "last_name": "Silva",
            "name": "Ana Silva",
            "email": "ana@example.com",
            "phone": "+351912345678",
        },
        "booking": {
            "id": "0190a1b2-0000-7000-8000-000000000000",
            "reference": "BK-2026-ABC123",
            "status": "payment_confirmed",
            "currency": "EUR",
            "participants": 2,
            "total": money(10000),
            "subtotal": money(10000),
            "tax_total": money(1870),
            "discount_total": money(0),
            "paid": money(8000),
            "balance_due": money(2000),
            "refunded": money(0),
            "cancel_reason": "Storm warning",
        },
        "tour": {"name": "Alfama & Fado Walking Tour", "duration_minutes": 180},
        "departure": {
            "date": format_date(day, language),
            "time": "09:00",
            "end_time": "12:00",
            "timezone": "Europe/Lisbon",
            "iso": "2026-05-18T09:00:00+01:00",
        },
        "meeting_point": {
            "name": "Largo do Chafariz de Dentro",
            "address": "1100-139 Lisboa",
            "instructions": "Look for the yellow umbrella.",
        },
        "amount": money(10000),
        "payment": {"amount": money(10000), "method": "card"},
        "refund": {"amount": money(5000), "reason": "Cancelled by the operator"},
        "reason": "Storm warning",
        "changes": "New date: Tuesday, 19 May 2026 at 09:00",
        "difference": "+" + money(2500),
        "schedule_cancelled": False,
        "documents": ["invoice", "voucher", "itinerary"],
        "extra": {},
    }
