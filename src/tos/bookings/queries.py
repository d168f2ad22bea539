"""Booking reads: one booking with its lines and ledger, and filtered lists."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from tos.bookings.lifecycle import expand_status_filter
from tos.bookings.models import Booking, BookingLine, LifecycleEvent
from tos.core.errors import ValidationFailed
from tos.crm.models import Customer
from tos.inventory.models import Schedule
from tos.payments import ledger
from tos.payments.queries import entries_of, totals_by_booking

# sort name -> (keyset columns, descending)
SORTS = {
    "created_at": ([Booking.created_at, Booking.id], False),
    "-created_at": ([Booking.created_at, Booking.id], True),
    "reference": ([Booking.reference, Booking.id], False),
    "-reference": ([Booking.reference, Booking.id], True),
}


def booking_out(
    booking: Booking,
    customer: Customer,
    totals: ledger.Totals,
    *,
    lines: list[BookingLine] | None = None,
    entries: list[Any] | None = None,
) -> dict[str, Any]:
    status = ledger.payment_status(totals, booking.total, disputed="disputed" in booking.flags)
    out = {c: getattr(booking, c) for c in _BOOKING_FIELDS}
    out.update(
        payment_status=status.value,
        customer={
            "id": customer.id,
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "phone": customer.phone,
        },
        paid=totals.paid_in,
        refunded=totals.refunded,
        refund_pending=totals.refund_pending,
        balance_due=max(booking.total - totals.net, 0),
        credit=max(totals.net - booking.total, 0),
        line_items=lines,
        ledger=entries,
    )
    return out


_BOOKING_FIELDS = (
    "id",
    "reference",
    "status",
    "source",
    "schedule_id",
    "tour_id",
    "assigned_to",
    "currency",
    "subtotal",
    "discount_total",
    "tax_total",
    "total",
    "deposit_required",
    "held_seats",
    "overbooked_seats",
    "participants_count",
    "price_snapshot",
    "special_requests",
    "dietary_restrictions",
    "notes",
    "utm",
    "expires_at",
    "cancel_reason",
    "promotional_code_id",
    "flags",
    "website_id",
    "external_ref",
    "created_at",
    "updated_at",
)


def booking_detail(session: Session, booking: Booking) -> dict[str, Any]:
    customer = session.scalar(select(Customer).where(Customer.id == booking.customer_id))
    assert customer is not None
    lines = list(
        session.scalars(
            select(BookingLine)
            .where(BookingLine.booking_id == booking.id)
            .order_by(BookingLine.created_at, BookingLine.id)
        )
    )
    entries = entries_of(session, booking.id)
    totals = ledger.totals(
        ledger.Entry(ledger.Kind(e.kind), ledger.EntryStatus(e.status), e.amount) for e in entries
    )
    return booking_out(booking, customer, totals, lines=lines, entries=entries)


def list_query(
    *,
    rule: Any,
    status: list[str] | None = None,
    schedule_id: str | None = None,
    customer_id: str | None = None,
    owner_id: str | None = None,
    tour_id: str | None = None,
    source: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    search: str | None = None,
    website_ids: list[str] | None = None,
) -> Select[Any]:
    from tos.channels.models import SyncedBooking

    stmt = select(Booking).where(rule)
    if website_ids is not None:
        stmt = stmt.where(Booking.website_id.in_(website_ids))
    if status:
        try:
            statuses = expand_status_filter(status)
        except ValueError:
            raise ValidationFailed("unknown status or stage", path=["query", "status"]) from None
        stmt = stmt.where(Booking.status.in_([s.value for s in statuses]))
    if schedule_id:
        stmt = stmt.where(Booking.schedule_id == schedule_id)
    if customer_id:
        stmt = stmt.where(Booking.customer_id == customer_id)
    if owner_id:
        stmt = stmt.where(Booking.assigned_to == owner_id)
    if tour_id:
        stmt = stmt.where(Booking.tour_id == tour_id)
    if source:
        stmt = stmt.where(Booking.source == source)
    if date_from or date_to:
        # The departure's local date (seed 003's dateFrom/dateTo).
        dates = select(Schedule.id)
        if date_from:
            dates = dates.where(Schedule.date >= date_from)
        if date_to:
            dates = dates.where(Schedule.date <= date_to)
        # A synced booking has the source website's activity date, departure or not.
        synced = select(SyncedBooking.booking_id)
        if date_from:
            synced = synced.where(SyncedBooking.activity_date >= date_from)
        if date_to:
            synced = synced.where(SyncedBooking.activity_date <= date_to)
        stmt = stmt.where(or_(Booking.schedule_id.in_(dates), Booking.id.in_(synced)))
    if search and search.strip():
        # The user's text is matched literally: %, _ and the escape character are escaped.
        escaped = search.strip().lower().replace("\\", "\\\\").replace("%", "\\%")
        term = "%" + escaped.replace("_", "\\_") + "%"
        matching = select(Customer.id).where(
            or_(
                Customer.email.like(term, escape="\\"),
                (Customer.first_name + " " + Customer.last_name).ilike(term, escape="\\"),
            )
        )
        by_source_ref = select(SyncedBooking.booking_id).where(
            SyncedBooking.booking_ref.ilike(term, escape="\\")
        )
        stmt = stmt.where(
            or_(
                Booking.reference.ilike(term, escape="\\"),
                Booking.customer_id.in_(matching),
                Booking.external_ref.ilike(term, escape="\\"),
                Booking.id.in_(by_source_ref),
            )
        )
    return stmt


def page_out(session: Session, bookings: list[Booking]) -> list[dict[str, Any]]:
    ids = [b.id for b in bookings]
    totals = totals_by_booking(session, ids)
    customer_ids = {b.customer_id for b in bookings}
    customers = (
        {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))}
        if customer_ids
        else {}
    )
    return [booking_out(b, customers[b.customer_id], totals[b.id]) for b in bookings]


def lifecycle_events(session: Session, booking_id: str) -> list[LifecycleEvent]:
    return list(
        session.scalars(
            select(LifecycleEvent)
            .where(LifecycleEvent.booking_id == booking_id)
            .order_by(LifecycleEvent.created_at, LifecycleEvent.id)
        )
    )
