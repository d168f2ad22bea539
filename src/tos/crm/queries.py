"""Customer reads: the list with booking counts, and one customer with its booking history
(seed 003's "customer booking history with tour details").

`rule` is the caller's row rule on bookings (staff see the bookings assigned to them), so a
customer's counts and history show only bookings the caller could open."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from tos.bookings.models import Booking
from tos.catalog.models import Tour, Variant
from tos.crm.models import Customer
from tos.inventory.models import Schedule
from tos.payments import ledger
from tos.payments.queries import totals_by_booking

HISTORY_LIMIT = 100
ORDER = [Customer.last_activity_at, Customer.id]  # descending
_CUSTOMER_FIELDS = (
    "id", "email", "first_name", "last_name", "phone", "notes", "tags", "marketing_consent",
    "marketing_consent_date", "source", "source_detail", "preferred_language",
    "preferred_currency", "last_activity_at", "merged_into_id", "created_at", "updated_at",
)  # fmt: skip
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")


def list_stmt(
    session: Session,
    *,
    search: str | None = None,
    tag: str | None = None,
    source: str | None = None,
) -> Select[Any]:
    # A merged customer lives on in its survivor; listing it would show the duplicate again.
    stmt = select(Customer).where(Customer.merged_into_id.is_(None))
    if search and search.strip():
        stmt = stmt.where(_matches(search.strip()))
    if tag:
        stmt = stmt.where(_has_tag(session, tag))
    if source:
        stmt = stmt.where(Customer.source == source)
    return stmt


def _matches(search: str) -> ColumnElement[bool]:
    """Case-insensitive substring of the email, the full name (which covers the first and last
    names) or the phone; the user's text is matched literally."""
    term = _like_term(search.lower())
    clauses = [
        Customer.email.like(term, escape="\\"),  # stored lower-case
        (Customer.first_name + " " + Customer.last_name).ilike(term, escape="\\"),
    ]
    # Phones are stored in E.164: "+351 912-345" finds "+351912345678".
    digits = _PHONE_PUNCTUATION.sub("", search)
    if re.fullmatch(r"\+?\d+", digits):
        clauses.append(Customer.phone.like(_like_term(digits)))
    return or_(*clauses)


def _like_term(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _has_tag(session: Session, tag: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(Customer.tags, JSONB).contains([tag])
    each = func.json_each(Customer.tags).table_valued("value")
    return select(literal(1)).select_from(each).where(each.c.value == tag).exists()


def page_out(session: Session, customers: list[Customer], rule: Any) -> list[dict[str, Any]]:
    counts = _bookings_counts(session, [c.id for c in customers], rule)
    return [customer_out(c, counts.get(c.id, 0)) for c in customers]


def customer_out(customer: Customer, bookings_count: int) -> dict[str, Any]:
    return {f: getattr(customer, f) for f in _CUSTOMER_FIELDS} | {"bookings_count": bookings_count}


def _bookings_counts(session: Session, customer_ids: list[str], rule: Any) -> dict[str, int]:
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Booking.customer_id, func.count(Booking.id))
        .where(Booking.customer_id.in_(customer_ids), rule)
        .group_by(Booking.customer_id)
    )
    return {customer_id: count for customer_id, count in rows}


def customer_detail(session: Session, customer: Customer, rule: Any) -> dict[str, Any]:
    counts = _bookings_counts(session, [customer.id], rule)
    out = customer_out(customer, counts.get(customer.id, 0))
    out["bookings"] = booking_history(session, customer.id, rule)
    return out


def booking_history(
    session: Session, customer_id: str, rule: Any, *, limit: int = HISTORY_LIMIT
) -> list[dict[str, Any]]:
    """Newest departure first; bookings without a departure (packages, custom quotes) last,
    newest first. Unlike the seed's inner joins, those are kept."""
    rows = session.execute(
        select(
            Booking.id,
            Booking.reference,
            Booking.status,
            Booking.total,
            Booking.currency,
            Booking.flags,
            Booking.created_at,
            Booking.participants_count,
            Schedule.date.label("tour_date"),
            Schedule.start_time,
            Tour.name.label("tour_name"),
            Variant.name.label("variant_name"),
        )  # fmt: skip
        .outerjoin(Schedule, Schedule.id == Booking.schedule_id)
        .outerjoin(Tour, Tour.id == Booking.tour_id)
        .outerjoin(Variant, Variant.id == Schedule.variant_id)
        .where(Booking.customer_id == customer_id, rule)
        .order_by(
            Schedule.date.desc().nulls_last(),
            Schedule.start_time.desc().nulls_last(),
            Booking.created_at.desc(),
            Booking.id.desc(),
        )
        .limit(limit)
    ).all()
    totals = totals_by_booking(session, [row.id for row in rows])
    return [_history_item(row, totals[row.id]) for row in rows]


def _history_item(row: Any, totals: ledger.Totals) -> dict[str, Any]:
    status = ledger.payment_status(totals, row.total, disputed="disputed" in row.flags)
    return {
        "id": row.id,
        "reference": row.reference,
        "status": row.status,
        "payment_status": status.value,
        "total": {"amount": row.total, "currency": row.currency},
        "created_at": row.created_at,
        "tour_date": row.tour_date,
        "start_time": row.start_time,
        "tour_name": row.tour_name,
        "variant_name": row.variant_name,
        "total_participants": row.participants_count,
    }
