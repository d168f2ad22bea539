"""HTML templates to PDF: Jinja2 (autoescaped: every customer-typed string is text, never
markup) rendered by WeasyPrint. Amounts are integer minor units formatted with the currency's
exponent; dates arrive already in the tour's (or organization's) timezone.

Babel is not a dependency: a small formatter covers digit grouping and the decimal mark per
language; month and weekday names are English for now (templates are English too)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from markupsafe import Markup

from tos.core.money import currency_exponent, to_major

TEMPLATES = Path(__file__).parent / "templates"

# (thousands separator, decimal mark) by language; English style otherwise.
_SEPARATORS = {
    **dict.fromkeys(("de", "pt", "es", "it", "nl", "da", "id", "tr", "ro", "el", "hr"), (".", ",")),
    **dict.fromkeys(("fr", "ru", "pl", "cs", "sv", "fi", "nb", "uk", "hu", "sk"), ("\u00a0", ",")),
}


def format_money(minor: int, currency: str, language: str = "en") -> str:
    """ "EUR 1,234.56" (en), "EUR 1.234,56" (pt), "JPY 1,235": the ISO code, then the amount with
    the currency's own number of decimals."""
    exp = currency_exponent(currency)
    value = to_major(abs(minor), currency).quantize(Decimal(1).scaleb(-exp), ROUND_HALF_EVEN)
    whole, _, frac = f"{value:f}".partition(".")
    group, decimal = _SEPARATORS.get(language.split("-")[0].lower(), (",", "."))
    grouped = f"{int(whole):,}".replace(",", group)
    number = grouped + (decimal + frac if exp else "")
    return f"{currency} {'-' if minor < 0 else ''}{number}"


def format_rate(rate_bp: int) -> str:
    """Basis points as a percentage: 2300 -> "23%", 650 -> "6.5%"."""
    return f"{(Decimal(rate_bp) / 100).normalize():f}%"


def format_date(value: dt.date, *, weekday: bool = False) -> str:
    text = f"{value.day} {value:%B %Y}"
    return f"{value:%A}, {text}" if weekday else text


def format_time(value: dt.time) -> str:
    return value.strftime("%H:%M")


def qr_svg(data: str) -> Markup:
    """The QR code of `data` as inline SVG (vector: sharp at any print size)."""
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    return Markup(img.to_string(encoding="unicode"))  # noqa: S704 - our own generated SVG


@pass_context
def _money_filter(ctx: Any, minor: int, currency: str | None = None) -> str:
    return format_money(minor, currency or ctx["currency"], ctx.get("language", "en"))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=_money_filter,
        rate=format_rate,
        date=format_date,
        time=format_time,
    )
    return env


def render_html(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(**context)


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    # Imported here: WeasyPrint takes a second to import, and only document jobs need it.
    import weasyprint

    html = render_html(template, context)
    return weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
