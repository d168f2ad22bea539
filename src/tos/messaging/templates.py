"""Which template a message is written from.

TOS ships a default for every kind × channel in English, and in Portuguese, as files under
messaging/defaults/ named `<kind>.<channel>.<language>.<part>` (part: `subject`, `txt`,
`html`; SMS has only `txt`). An organization overrides any of them for one language
(MessageTemplate rows, managed at /api/v1/message-templates).

Resolution for a message in language L (the customer's preferred language), first found wins:
  1. the organization's override for L;
  2. the organization's override for its default language ("en");
  3. TOS's shipped default for L;
  4. TOS's shipped default in English (always present).
So an override is used for its own language, and the organization's English override stands in
for languages it has not written, before TOS's generic text does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.messaging.models import CHANNELS, MESSAGE_KINDS, MessageTemplate

DEFAULTS_DIR = Path(__file__).with_name("defaults")
DEFAULT_LANGUAGE = "en"
# SMS is short and costs money: only the messages a customer needs on the day.
SMS_KINDS = ("confirmation", "reminder", "cancellation")
_PARTS = {"subject": "subject", "txt": "body_text", "html": "body_html"}


@dataclass(frozen=True, slots=True)
class Template:
    kind: str
    channel: str
    language: str
    subject: str | None
    body_text: str
    body_html: str | None
    default: bool  # shipped with TOS, not an organization's override
    id: str | None = None  # the override's row id


def applies(kind: str, channel: str) -> bool:
    return channel == "email" or (channel == "sms" and kind in SMS_KINDS)


def normalize_language(value: str | None) -> str:
    """ "pt-BR" / "pt_br" / " PT " -> "pt": templates are per ISO 639-1 language."""
    primary = (value or "").strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if len(primary) == 2 and primary.isalpha() else DEFAULT_LANGUAGE


@lru_cache(maxsize=1)
def shipped() -> dict[tuple[str, str, str], Template]:
    parts: dict[tuple[str, str, str], dict[str, str]] = {}
    for path in sorted(DEFAULTS_DIR.iterdir()):
        bits = path.name.split(".")
        if len(bits) != 4 or bits[3] not in _PARTS:
            continue
        kind, channel, language, part = bits
        parts.setdefault((kind, channel, language), {})[_PARTS[part]] = path.read_text("utf-8")
    return {
        key: Template(*key, subject=(p.get("subject") or "").strip() or None,
                      body_text=p["body_text"], body_html=p.get("body_html"), default=True)
        for key, p in parts.items()
    }  # fmt: skip


def shipped_default(kind: str, channel: str, language: str) -> Template | None:
    found = shipped().get((kind, channel, language))
    return found or shipped().get((kind, channel, DEFAULT_LANGUAGE))


def from_row(row: MessageTemplate) -> Template:
    return Template(row.kind, row.channel, row.language, row.subject, row.body_text,
                    row.body_html, default=False, id=row.id)  # fmt: skip


def resolve(session: Session, kind: str, channel: str, language: str | None) -> Template:
    """The template for one message, in the order of the module's docstring. `session` is
    scoped to the organization, so another organization's overrides are never seen."""
    lang = normalize_language(language)
    candidates = list(dict.fromkeys([lang, DEFAULT_LANGUAGE]))
    rows = session.scalars(
        select(MessageTemplate).where(
            MessageTemplate.kind == kind,
            MessageTemplate.channel == channel,
            MessageTemplate.language.in_(candidates),
        )
    ).all()
    by_language = {r.language: r for r in rows}
    for candidate in candidates:
        if candidate in by_language:
            return from_row(by_language[candidate])
    return fallback(kind, channel, lang)


def fallback(kind: str, channel: str, language: str) -> Template:
    """TOS's own text: what a broken override falls back to, so a message is never lost."""
    template = shipped_default(kind, channel, language)
    if template is None:  # a kind × channel TOS does not send; queue() never asks for one
        raise LookupError(f"no shipped template for {kind}/{channel}")
    return template


def check_kind_channel(kind: str, channel: str) -> None:
    if kind not in MESSAGE_KINDS:
        raise ValueError(f"unknown message kind {kind!r}; one of {', '.join(MESSAGE_KINDS)}")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
