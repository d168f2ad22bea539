"""Small checks shared by schemas: IANA timezones, ISO currencies, slugs."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tos.core.money import is_currency_code

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown IANA timezone {value!r}") from None
    return value


def check_currency(value: str) -> str:
    if not is_currency_code(value):
        raise ValueError("must be an ISO 4217 code such as EUR")
    return value


def check_slug(value: str) -> str:
    if not _SLUG.match(value) or len(value) > 120:
        raise ValueError("lowercase letters, digits and single hyphens only")
    return value


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:120] or "item"
