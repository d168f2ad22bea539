"""Field types shared by the catalog's schemas, bounded so that no input reaches the database
in a shape it would refuse (PostgreSQL rejects NUL characters, over-long varchars and ints
beyond 32 bits with an error that would otherwise surface as a 500)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from tos.catalog.codes import COUNTRIES, LANGUAGES
from tos.core.money import MAX_AMOUNT
from tos.core.validation import check_currency, check_slug, check_timezone

T = TypeVar("T")

MAX_MINUTES = 60 * 24 * 366
MAX_PEOPLE = 100_000


def _no_nul(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _no_nul(item)


class InModel(BaseModel):
    """Request bodies: unknown fields are errors, strings are trimmed and NUL-free."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        _no_nul(value)
        return value


def not_null(value: Any) -> Any:
    # In a patch, null clears a nullable column; for the others it is a mistake, not a clear.
    if value is None:
        raise ValueError("cannot be null")
    return value


def _unique(items: list[T]) -> list[T]:
    return list(dict.fromkeys(items))


def _normalized(transform: Callable[[str], str]) -> BeforeValidator:
    return BeforeValidator(lambda v: transform(v.strip()) if isinstance(v, str) else v)


upper_case = _normalized(str.upper)


def _timezone(value: str) -> str:
    try:
        return check_timezone(value)
    except OSError:
        # zoneinfo answers a directory name ("America") or an over-long key with an OSError.
        raise ValueError(f"unknown IANA timezone {value!r}") from None


def _country(value: str) -> str:
    if value not in COUNTRIES:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return value


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"{value!r} is not an ISO 639-1 language code")
    return value


def _url(value: str) -> str:
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError("a URL cannot contain spaces or control characters")
    # Root-relative paths are images the backend hosts itself (seed 004's /public/v1/tour-images).
    if value.startswith("/") and not value.startswith("//"):
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL or a path starting with /")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200)]
Slug = Annotated[str, Field(max_length=120), AfterValidator(check_slug)]
Timezone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_timezone)]
Currency = Annotated[str, upper_case, Field(max_length=3), AfterValidator(check_currency)]
Url = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_url)]
Minutes = Annotated[int, Field(strict=True, gt=0, le=MAX_MINUTES)]
Capacity = Annotated[int, Field(strict=True, ge=1, le=MAX_PEOPLE)]
SortOrder = Annotated[int, Field(strict=True, ge=-1_000_000, le=1_000_000)]
Amount = Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT)]
Age = Annotated[int, Field(strict=True, ge=0, le=150)]

Country = Annotated[str, upper_case, Field(max_length=2), AfterValidator(_country)]
Language = Annotated[str, _normalized(str.lower), Field(max_length=2), AfterValidator(_language)]
Style = Annotated[str, _normalized(str.lower), Field(min_length=1, max_length=60)]
Tag = Annotated[str, Field(min_length=1, max_length=60)]
Highlight = Annotated[str, Field(min_length=1, max_length=300)]

Countries = Annotated[list[Country], Field(max_length=50), AfterValidator(_unique)]
Languages = Annotated[list[Language], Field(max_length=50), AfterValidator(_unique)]
Styles = Annotated[list[Style], Field(max_length=30), AfterValidator(_unique)]
Tags = Annotated[list[Tag], Field(max_length=50), AfterValidator(_unique)]
Highlights = Annotated[list[Highlight], Field(max_length=30)]
Gallery = Annotated[list[Url], Field(max_length=50), AfterValidator(_unique)]

EntityId = Annotated[str, Field(min_length=1, max_length=36)]
ShortText = Annotated[str, Field(max_length=1000)]
LongText = Annotated[str, Field(max_length=50_000)]
MetaTitle = Annotated[str, Field(max_length=200)]
MetaDescription = Annotated[str, Field(max_length=500)]
TierName = Annotated[str, Field(min_length=1, max_length=100)]
Question = Annotated[str, Field(min_length=1, max_length=2000)]
Answer = Annotated[str, Field(min_length=1, max_length=20_000)]
InclusionText = Annotated[str, Field(min_length=1, max_length=1000)]
Icon = Annotated[str, Field(min_length=1, max_length=64)]


def not_above_capacity(value: int | None, info: ValidationInfo) -> int | None:
    """min_participants may not exceed the capacity given beside it."""
    capacity = info.data.get("capacity")
    if value is not None and capacity is not None and value > capacity:
        raise ValueError(f"must not exceed capacity ({capacity})")
    return value


def not_before_valid_from(value: date | None, info: ValidationInfo) -> date | None:
    since = info.data.get("valid_from")
    if value is not None and since is not None and value < since:
        raise ValueError("must not be before valid_from")
    return value
