"""Request and response bodies of the pricing rules: seasons, promotional codes, automatic rules.

Bounds here are per field (and keep every value storable: 32-bit int columns, NUL-free text);
rules that involve several fields, or the stored row on a patch, live in pricing/service.py."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from tos.catalog import fields as f
from tos.catalog.fields import InModel, not_null
from tos.core.money import MAX_AMOUNT

AdjustmentType = Literal["percentage", "fixed"]
DiscountType = Literal["percentage", "fixed"]
PromoStatus = Literal["active", "inactive", "expired"]
RuleKind = Literal["group", "early_bird"]

MAX_INT32 = 2**31 - 1
MAX_DAYS_BEFORE = 3660  # ten years ahead


def _utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # year 1 or 9999 with an offset that leaves the calendar
        raise ValueError("date out of range") from None


_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _code(value: str) -> str:
    # Checked before upper-casing: "ß".upper() is "SS", and codes are ASCII only.
    if not _CODE.fullmatch(value):
        raise ValueError("1 to 64 letters, digits, '-' or '_'")
    return value.upper()


Name = Annotated[str, Field(min_length=1, max_length=100)]
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
# Signed: basis points for a percentage, minor units for a fixed adjustment (the percentage's
# own bounds are checked with the type, in the service).
Adjustment = Annotated[int, Field(strict=True, ge=-MAX_AMOUNT, le=MAX_AMOUNT)]
# Basis points (at most 10 000, checked with the type) or minor units.
DiscountValue = Annotated[int, Field(strict=True, ge=1, le=MAX_AMOUNT)]
Priority = Annotated[int, Field(strict=True, ge=-1_000_000, le=1_000_000)]
Uses = Annotated[int, Field(strict=True, ge=1, le=MAX_INT32)]
MinAmount = Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT)]
Code = Annotated[str, AfterValidator(_code)]
Ids = Annotated[list[f.EntityId], Field(max_length=200)]
MinParticipants = Annotated[int, Field(strict=True, ge=2, le=f.MAX_PEOPLE)]
MinDaysBefore = Annotated[int, Field(strict=True, ge=1, le=MAX_DAYS_BEFORE)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- seasonal pricing


class SeasonIn(InModel):
    name: Name
    start_date: dt.date = Field(description="inclusive, the tour's local date")
    end_date: dt.date = Field(description="inclusive, not before start_date")
    adjustment_type: AdjustmentType
    adjustment_value: Adjustment = Field(
        description="signed; basis points (>= -10000) or minor units per unit"
    )
    priority: Priority = Field(default=0, description="higher wins where seasons overlap")


class SeasonPatch(InModel):
    name: Name | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    adjustment_type: AdjustmentType | None = None
    adjustment_value: Adjustment | None = None
    priority: Priority | None = None

    _not_null = field_validator("*")(not_null)


class SeasonOut(_Out):
    id: str
    tour_id: str
    name: str
    start_date: dt.date
    end_date: dt.date
    adjustment_type: str
    adjustment_value: int
    priority: int
    created_at: dt.datetime
    updated_at: dt.datetime


# --- promotional codes


class PromoIn(InModel):
    code: Code = Field(description="letters, digits, - and _; stored upper-case")
    description: Annotated[str, Field(max_length=300)] | None = None
    discount_type: DiscountType
    discount_value: DiscountValue = Field(description="basis points (1..10000) or minor units")
    currency: f.Currency | None = Field(
        default=None,
        description="of a fixed discount and min_booking_amount; default: the organization's",
    )
    min_booking_amount: MinAmount | None = None
    max_uses: Uses | None = None
    max_uses_per_customer: Uses | None = None
    valid_from: Instant | None = Field(default=None, description="default: now")
    valid_until: Instant
    applicable_tour_ids: Ids = Field(default=[], description="empty = all tours")
    applicable_variant_ids: Ids = Field(default=[], description="empty = all variants")
    status: PromoStatus = "active"


class PromoPatch(InModel):
    code: Code | None = None
    description: Annotated[str, Field(max_length=300)] | None = None
    discount_type: DiscountType | None = None
    discount_value: DiscountValue | None = None
    currency: f.Currency | None = None
    min_booking_amount: MinAmount | None = None
    max_uses: Uses | None = None
    max_uses_per_customer: Uses | None = None
    valid_from: Instant | None = None
    valid_until: Instant | None = None
    applicable_tour_ids: Ids | None = None
    applicable_variant_ids: Ids | None = None
    status: PromoStatus | None = None

    _not_null = field_validator(
        "code", "discount_type", "discount_value", "valid_from", "valid_until",
        "applicable_tour_ids", "applicable_variant_ids", "status",
    )(not_null)  # fmt: skip


class PromoOut(_Out):
    id: str
    code: str
    description: str | None
    discount_type: str
    discount_value: int
    currency: str | None
    min_booking_amount: int | None
    max_uses: int | None
    max_uses_per_customer: int | None
    valid_from: dt.datetime
    valid_until: dt.datetime
    applicable_tour_ids: list[str]
    applicable_variant_ids: list[str]
    current_uses: int
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime


# --- automatic rules (group, early bird)


class RuleIn(InModel):
    kind: RuleKind
    name: Name
    tour_id: f.EntityId | None = Field(default=None, description="null = every tour")
    discount_type: DiscountType
    discount_value: DiscountValue = Field(description="basis points (1..10000) or minor units")
    currency: f.Currency | None = Field(
        default=None, description="of a fixed discount; default: the organization's"
    )
    min_participants: MinParticipants | None = Field(default=None, description="group only")
    min_days_before: MinDaysBefore | None = Field(default=None, description="early_bird only")
    active: bool = True


class RulePatch(InModel):
    kind: RuleKind | None = None
    name: Name | None = None
    tour_id: f.EntityId | None = None
    discount_type: DiscountType | None = None
    discount_value: DiscountValue | None = None
    currency: f.Currency | None = None
    min_participants: MinParticipants | None = None
    min_days_before: MinDaysBefore | None = None
    active: bool | None = None

    _not_null = field_validator("kind", "name", "discount_type", "discount_value", "active")(
        not_null
    )


class RuleOut(_Out):
    id: str
    kind: str
    name: str
    tour_id: str | None
    discount_type: str
    discount_value: int
    currency: str | None
    min_participants: int | None
    min_days_before: int | None
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
