"""Customer request and response bodies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field, field_validator

from tos.catalog.fields import Currency, InModel, Language, Tags, not_null
from tos.core.contact import normalize_phone

# Seed 003's CustomerSource.
CustomerSource = Literal[
    "direct", "organic_search", "paid_search", "social", "referral", "ota", "repeat",
    "walk_in", "phone", "other",
]  # fmt: skip
ID_PATTERN = r"^[^\x00]+$"
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]


def _phone(value: str | None) -> str | None:
    # The same normalisation as a booking's customer phone, so both write one E.164 form.
    return normalize_phone(value) if value else None


Name = Annotated[str, Field(max_length=100)]
Phone = Annotated[str | None, Field(max_length=40), AfterValidator(_phone)]


class CustomerPatch(InModel):
    """Null clears the optional fields (phone, notes, source_detail, preferred_currency); the
    others cannot be null."""

    first_name: Name | None = None
    last_name: Name | None = None
    email: EmailStr | None = None
    phone: Phone = None
    notes: str | None = Field(None, max_length=10_000)
    tags: Tags | None = None
    marketing_consent: bool | None = None
    source: CustomerSource | None = None
    source_detail: str | None = Field(None, max_length=200)
    preferred_language: Language | None = None
    preferred_currency: Currency | None = None

    _not_null = field_validator(
        "first_name", "last_name", "email", "tags", "marketing_consent", "source",
        "preferred_language",
    )(not_null)  # fmt: skip


class MergeIn(InModel):
    other_id: Id = Field(description="the customer merged into this one, then retired")


class CustomerOut(BaseModel):
    id: str
    email: str
    first_name: str
    last_name: str
    phone: str | None
    notes: str | None
    tags: list[str]
    marketing_consent: bool
    marketing_consent_date: dt.datetime | None
    source: str
    source_detail: str | None
    preferred_language: str
    preferred_currency: str | None
    last_activity_at: dt.datetime
    merged_into_id: str | None = Field(description="set once merged into another customer")
    created_at: dt.datetime
    updated_at: dt.datetime
    bookings_count: int = Field(description="the bookings of this customer the caller may see")


class MoneyOut(BaseModel):
    amount: int
    currency: str


class BookingHistoryItem(BaseModel):
    id: str
    reference: str
    status: str
    payment_status: str
    total: MoneyOut
    created_at: dt.datetime
    tour_date: dt.date | None
    start_time: dt.time | None
    tour_name: str | None
    variant_name: str | None
    total_participants: int


class CustomerDetail(CustomerOut):
    bookings: list[BookingHistoryItem] = Field(
        description="newest departure first, unscheduled bookings last; at most the latest "
        "100 (bookings_count tells whether there are more)"
    )
