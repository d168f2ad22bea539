"""Bookings in seed 002's shape (whole currency units, seed statuses) for `GET /api/bookings` and
`PUT /api/bookings/{id}` — synced ones from what their website sent, direct ones from TOS."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.bookings.lifecycle import Status
from tos.bookings.models import Booking, BookingLine
from tos.catalog.models import Tour
from tos.channels.models import SyncedBooking, Website
from tos.channels.schemas import SyncTransport
from tos.channels.statuses import SEED_STATUSES, to_seed
from tos.core.money import to_major
from tos.crm.models import Customer
from tos.inventory.models import Schedule
from tos.payments import ledger
from tos.payments.queries import totals_by_booking

Number = int | float


class SeedCustomerOut(BaseModel):
    name: str
    email: str
    phone: str | None
    country_code: str | None
    special_requests: str | None


class SeedBooking(BaseModel):
    id: str = Field(description="the booking's id in TOS (booking_id)")
    website_id: str | None = Field(description="the source website's id; null: a direct booking")
    source_booking_id: str | None
    booking_ref: str | None
    reference: str = Field(description="TOS's own reference")
    package_name: str | None
    package_price: Number | None
    activity_date: dt.date | None
    time_slot: str | None
    guest_count: int
    total_amount: Number
    discount_amount: Number
    currency: str
    status: str = Field(description="seed 002's vocabulary")
    tos_status: str = Field(description="the TOS lifecycle status")
    payment_status: str
    customer: SeedCustomerOut
    transport: dict[str, Any] | None
    addons: list[dict[str, Any]]
    stripe_payment_intent_id: str | None
    admin_notes: str | None
    source: str
    flags: list[str]
    source_created_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class SeedBookingList(BaseModel):
    success: Literal[True] = True
    bookings: list[SeedBooking]
    next_cursor: str | None
    total_count: int


class SeedCustomerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    email: EmailStr | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    country_code: Annotated[str, Field(max_length=8)] | None = None
    special_requests: Annotated[str, Field(max_length=5000)] | None = None


class SeedBookingPatch(BaseModel):
    """What staff may edit (seed 002: "Update booking (triggers sync back)")."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    status: Literal[SEED_STATUSES] | None = None  # type: ignore[valid-type]
    admin_notes: Annotated[str, Field(max_length=5000)] | None = None
    activity_date: dt.date | None = None
    time_slot: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    guest_count: int | None = Field(None, ge=1, le=10_000)
    customer: SeedCustomerPatch | None = None
    transport: SyncTransport | None = None
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        None, description="why, when cancelling"
    )


class SeedBookingUpdated(BaseModel):
    success: Literal[True] = True
    booking: SeedBooking
    updated_fields: list[str]
    message: str


def status_filter(text: str | None) -> list[str] | None:
    """Seed statuses expand to the TOS statuses shown as them; TOS names pass through."""
    if not text:
        return None
    out: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part in SEED_STATUSES:
            out += [s.value for s in Status if to_seed(s) == part]
        else:
            out.append(part)
    return out


def whole(minor: int, currency: str) -> Number:
    value = to_major(minor, currency)
    return int(value) if value == value.to_integral_value() else float(value)


def seed_bookings(session: Session, bookings: list[Booking]) -> list[SeedBooking]:
    """One query per related table for the whole page."""
    if not bookings:
        return []
    ids = [b.id for b in bookings]
    synced = {s.booking_id: s for s in session.scalars(
        select(SyncedBooking).where(SyncedBooking.booking_id.in_(ids)))}  # fmt: skip
    site_ids = {b.website_id for b in bookings if b.website_id}
    sites = select(Website.id, Website.slug).where(Website.id.in_(site_ids))
    slugs = dict(session.execute(sites).all()) if site_ids else {}
    customers = {c.id: c for c in session.scalars(
        select(Customer).where(Customer.id.in_({b.customer_id for b in bookings})))}  # fmt: skip
    totals = totals_by_booking(session, ids)
    direct = [b for b in bookings if b.id not in synced]
    schedules = _schedules(session, direct)
    packages = _package_names(session, direct)
    out = []
    for b in bookings:
        customer = customers[b.customer_id]
        t = totals[b.id]
        common = {
            "id": b.id, "website_id": slugs.get(b.website_id) if b.website_id else None,
            "reference": b.reference, "status": to_seed(b.status), "tos_status": b.status,
            "payment_status": ledger.payment_status(
                t, b.total, disputed="disputed" in b.flags).value,
            "admin_notes": b.notes, "source": b.source, "flags": list(b.flags),
            "created_at": b.created_at, "updated_at": b.updated_at,
        }  # fmt: skip
        s = synced.get(b.id)
        if s is not None:
            out.append(SeedBooking(**common, **_from_synced(s)))
        else:
            out.append(SeedBooking(**common, **_from_tos(b, customer, schedules, packages)))
    return out


def _from_synced(s: SyncedBooking) -> dict[str, Any]:
    d = s.data
    customer = d.get("customer") or {}
    return {
        "source_booking_id": s.source_booking_id, "booking_ref": s.booking_ref,
        "package_name": d.get("package_name"), "package_price": d.get("package_price"),
        "activity_date": d.get("activity_date"), "time_slot": d.get("time_slot"),
        "guest_count": d.get("guest_count") or 0, "total_amount": d.get("total_amount") or 0,
        "discount_amount": d.get("discount_amount") or 0, "currency": d.get("currency"),
        "customer": SeedCustomerOut(
            name=customer.get("name", ""), email=customer.get("email", ""),
            phone=customer.get("phone"), country_code=customer.get("country_code"),
            special_requests=customer.get("special_requests"),
        ),
        "transport": d.get("transport"), "addons": d.get("addons") or [],
        "stripe_payment_intent_id": d.get("stripe_payment_intent_id"),
        "source_created_at": s.source_created_at,
    }  # fmt: skip


def _from_tos(b: Booking, c: Customer, schedules: dict[str, Schedule],
              packages: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    schedule = schedules.get(b.schedule_id) if b.schedule_id else None
    return {
        "source_booking_id": None, "booking_ref": None,
        "package_name": packages.get(b.id), "package_price": None,
        "activity_date": schedule.date if schedule else None,
        "time_slot": schedule.start_time.strftime("%H:%M") if schedule else None,
        "guest_count": b.participants_count, "total_amount": whole(b.total, b.currency),
        "discount_amount": whole(b.discount_total, b.currency), "currency": b.currency,
        "customer": SeedCustomerOut(
            name=f"{c.first_name} {c.last_name}".strip(), email=c.email, phone=c.phone,
            country_code=None, special_requests=b.special_requests,
        ),
        "transport": None, "addons": [], "stripe_payment_intent_id": None,
        "source_created_at": None,
    }  # fmt: skip


def _schedules(session: Session, bookings: list[Booking]) -> dict[str, Schedule]:
    ids = {b.schedule_id for b in bookings if b.schedule_id}
    if not ids:
        return {}
    return {s.id: s for s in session.scalars(select(Schedule).where(Schedule.id.in_(ids)))}


def _package_names(session: Session, bookings: list[Booking]) -> dict[str, str]:
    """A direct booking's "package": its tour's name, else its first line's."""
    out: dict[str, str] = {}
    tour_ids = {b.tour_id for b in bookings if b.tour_id}
    tours = dict(session.execute(select(Tour.id, Tour.name).where(Tour.id.in_(tour_ids)))
                 .all()) if tour_ids else {}  # fmt: skip
    rest = [b.id for b in bookings if not b.tour_id]
    if rest:
        for booking_id, name in session.execute(
            select(BookingLine.booking_id, BookingLine.name)
            .where(BookingLine.booking_id.in_(rest))
            .order_by(BookingLine.created_at.desc())
        ):
            out[booking_id] = name  # the earliest line wins (rows come newest first)
    for b in bookings:
        if b.tour_id and b.tour_id in tours:
            out[b.id] = tours[b.tour_id]
    return out
