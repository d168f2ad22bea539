from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from tos.bookings.lifecycle import Status
from tos.bookings.models import SOURCES
from tos.core.contact import normalize_phone
from tos.core.money import MAX_AMOUNT

Source = Literal["website", "admin", "phone", "partner", "ota", "sync"]
assert set(SOURCES) == set(Source.__args__)  # type: ignore[attr-defined]
Text = Annotated[str, Field(max_length=5000)]
Name = Annotated[str, Field(max_length=100)]


def _phone(value: str | None) -> str | None:
    return normalize_phone(value) if value else None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(Strict):
    email: EmailStr
    first_name: Name = ""
    last_name: Name = ""
    phone: Annotated[str | None, Field(max_length=40), AfterValidator(_phone)] = None


class ParticipantIn(Strict):
    first_name: Name = ""
    last_name: Name = ""
    age: int | None = Field(None, ge=0, le=130)


class LineItemIn(Strict):
    """A scheduled line (pricing_tier_id: takes seats) or an unscheduled one (description and
    unit_amount: a package, an add-on, transport)."""

    pricing_tier_id: str | None = Field(None, max_length=36)
    description: str | None = Field(None, min_length=1, max_length=300)
    quantity: int = Field(ge=1, le=1000)
    unit_amount: int | None = Field(None, ge=0, le=MAX_AMOUNT)
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _one_kind(self) -> LineItemIn:
        if self.pricing_tier_id is not None:
            if self.description is not None or self.unit_amount is not None:
                raise ValueError(
                    "a tier line takes its price from the tier: no description or unit_amount"
                )
            if len(self.participants) > self.quantity:
                raise ValueError("more participants than quantity")
        elif self.description is None or self.unit_amount is None:
            raise ValueError("give pricing_tier_id, or description and unit_amount")
        return self


class BookingIn(Strict):
    schedule_id: str | None = Field(None, max_length=36)
    customer: CustomerIn
    line_items: list[LineItemIn] = Field(min_length=1, max_length=100)
    special_requests: Text | None = None
    dietary_restrictions: Text | None = None
    notes: Text | None = None
    source: Source = "admin"
    hold: bool = False
    expires_at: dt.datetime | None = None
    promotional_code: str | None = Field(None, min_length=1, max_length=64)
    assigned_to: str | None = Field(None, max_length=36)
    utm_source: str | None = Field(None, max_length=200)
    utm_medium: str | None = Field(None, max_length=200)
    utm_campaign: str | None = Field(None, max_length=200)
    utm_term: str | None = Field(None, max_length=200)
    utm_content: str | None = Field(None, max_length=200)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("expires_at needs a timezone offset")
        return value

    @model_validator(mode="after")
    def _check(self) -> BookingIn:
        if self.hold and self.expires_at is not None:
            raise ValueError("give hold or expires_at, not both")
        has_tier = any(li.pricing_tier_id for li in self.line_items)
        if has_tier and self.schedule_id is None:
            raise ValueError("tier lines need a schedule_id")
        return self

    def utm(self) -> dict[str, str]:
        fields = ("source", "medium", "campaign", "term", "content")
        return {f: v for f in fields if (v := getattr(self, f"utm_{f}"))}


class RebookIn(Strict):
    """The departure to move to (the booked one to change only the line items); without
    line_items the booking's own lines are asked for again (same tiers: the target must be a
    departure of the same tour, or give line_items with the other tour's tiers)."""

    schedule_id: str = Field(max_length=36)
    line_items: list[LineItemIn] | None = Field(None, min_length=1, max_length=100)


class BookingPatch(Strict):
    special_requests: Text | None = None
    dietary_restrictions: Text | None = None
    notes: Text | None = None
    assigned_to: str | None = Field(None, max_length=36)


class TransitionIn(Strict):
    to_status: Status
    note: Text | None = None
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)
    metadata: dict[str, Any] = Field(default_factory=dict)


class StageIn(Strict):
    stage: Status
    note: Text | None = None


class OwnerIn(Strict):
    owner_id: str | None = Field(max_length=36)


class CancelIn(Strict):
    reason: str = Field(min_length=1, max_length=500)
    refund_amount: int | None = Field(
        None, ge=0, le=MAX_AMOUNT,
        description="owner, admin, accountant only; default: all that was taken (others: the "
        "tour's cancellation policy amount)",
    )  # fmt: skip


class MoneyOut(BaseModel):
    amount: int
    currency: str


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    schedule_id: str | None
    pricing_tier_id: str | None
    name: str
    unit_type: str | None
    quantity: int
    unit_amount: int
    amount: int
    participants: list[dict[str, Any]]


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    status: str
    amount: int
    currency: str
    method: str | None
    reference: str | None
    reason: str | None
    provider: str | None
    actor_type: str
    actor_id: str | None
    created_at: dt.datetime


class LifecycleEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    booking_id: str
    from_status: str | None
    to_status: str
    actor_type: str
    actor_id: str | None
    note: str | None
    metadata: dict[str, Any] = Field(validation_alias="meta")
    idempotency_key: str | None
    created_at: dt.datetime


class BookingOut(BaseModel):
    id: str
    reference: str
    status: str
    payment_status: str
    source: str
    schedule_id: str | None
    tour_id: str | None
    customer: dict[str, Any]
    assigned_to: str | None
    currency: str
    subtotal: int
    discount_total: int
    tax_total: int
    total: int
    deposit_required: int
    paid: int
    refunded: int
    refund_pending: int
    balance_due: int
    credit: int = Field(description="paid beyond the total (e.g. after a cheaper rebooking)")
    held_seats: int
    overbooked_seats: int
    participants_count: int
    price_snapshot: dict[str, Any]
    special_requests: str | None
    dietary_restrictions: str | None
    notes: str | None
    utm: dict[str, Any]
    expires_at: dt.datetime | None
    cancel_reason: str | None
    promotional_code_id: str | None
    flags: list[str]
    website_id: str | None = Field(None, description="the source website of a `sync` booking")
    external_ref: str | None = Field(None, description="its id on the source website")
    created_at: dt.datetime
    updated_at: dt.datetime
    line_items: list[LineOut] | None = None
    ledger: list[LedgerEntryOut] | None = None
