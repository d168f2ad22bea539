"""Seed 002's sync payload (§API Specification), as sent: amounts in whole currency units."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from tos.channels.statuses import SEED_STATUSES
from tos.core.money import MAX_AMOUNT, is_currency_code

EVENTS = ("booking.created", "booking.updated", "booking.cancelled", "booking.refunded")
# Whole currency units, possibly with the currency's decimals (converted exactly later).
Units = Annotated[Decimal, Field(ge=0, le=Decimal(MAX_AMOUNT) / 1000, allow_inf_nan=False)]
Short = Annotated[str, Field(max_length=200)]
Text = Annotated[str, Field(max_length=5000)]
# The fields whose presence makes a payload a complete booking (a create, or an update for a
# booking TOS has never seen).
REQUIRED_FOR_CREATE = ("booking_ref", "package_name", "package_price", "activity_date",
                       "time_slot", "guest_count", "total_amount", "customer")  # fmt: skip


class Lenient(BaseModel):
    # Source websites may send more than the seed lists; extra fields are ignored, not refused.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class SyncCustomer(Lenient):
    # Required for a new booking (SyncEvent.missing_for_create); an update may send only what
    # changed (seed 002 §Sync Events: "Updated fields"), merged into what TOS has.
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    email: EmailStr | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    country_code: Annotated[str, Field(max_length=8)] | None = None
    special_requests: Text | None = None


class SyncTransport(Lenient):
    type: Annotated[str, Field(max_length=40)] | None = None  # hotel_pickup, self_arrange, private
    hotel_name: Short | None = None
    room_number: Annotated[str, Field(max_length=40)] | None = None
    non_players: int = Field(0, ge=0, le=10_000)
    private_passengers: int = Field(0, ge=0, le=10_000)
    cost: Units = Decimal(0)


class SyncAddon(Lenient):
    name: Annotated[str, Field(min_length=1, max_length=300)]
    quantity: int = Field(ge=0, le=10_000)
    unit_price: Units


class SyncEvent(Lenient):
    event: Literal["booking.created", "booking.updated", "booking.cancelled", "booking.refunded"]
    source_booking_id: Annotated[str, Field(min_length=1, max_length=100)]
    booking_ref: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    package_name: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    package_price: Units | None = None
    activity_date: dt.date | None = None
    time_slot: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    guest_count: int | None = Field(None, ge=1, le=10_000)
    total_amount: Units | None = None
    discount_amount: Units | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    status: Literal[SEED_STATUSES] | None = None  # type: ignore[valid-type]
    customer: SyncCustomer | None = None
    transport: SyncTransport | None = None
    addons: list[SyncAddon] | None = Field(None, max_length=200)
    stripe_payment_intent_id: Annotated[str, Field(max_length=200)] | None = None
    created_at: dt.datetime | None = None
    # Not in the seed's body: for `booking.refunded`, the amount refunded so far (whole units).
    # Cumulative, so a replayed event refunds nothing twice; without it, everything.
    refund_amount: Units | None = None
    reason: Text | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not is_currency_code(value.upper()):
            raise ValueError("not an ISO 4217 currency code")
        return value.upper() if value else value

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("created_at needs a timezone (e.g. Z)")
        return value

    def given(self) -> dict[str, Any]:
        """The fields the website sent, in the seed's units, JSON-ready (amounts as numbers)."""
        return _plain(self.model_dump(mode="python", exclude_unset=True))

    def missing_for_create(self) -> list[str]:
        missing = [f for f in REQUIRED_FOR_CREATE if getattr(self, f) is None]
        if self.customer is not None:
            missing += [f"customer.{f}" for f in ("name", "email")
                        if getattr(self.customer, f) is None]  # fmt: skip
        return missing

    def canonical_hash(self) -> str:
        """Two deliveries of the same booking.created hash alike (canonical JSON: sorted keys,
        numbers normalised), whatever their key order or spacing."""
        text = json.dumps(self.given(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class SyncOk(BaseModel):
    success: Literal[True] = True
    booking_id: str
    message: str


class SeedError(BaseModel):
    success: Literal[False] = False
    error: str
    code: str
    details: dict[str, Any] | None = None
