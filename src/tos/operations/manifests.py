"""Guide manifests: everything a guide prints for a departure (seed 003 "Daily manifest for
guides", `schedule.getManifest`). Read-only; four statements whatever the number of departures
and bookings (schedules, bookings with customers, their scheduled lines, ledger totals).

Payment status and balance due come from the bookings module's own derivation, so a manifest
never disagrees with the booking it lists."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tos.bookings.lifecycle import Status
from tos.bookings.models import Booking, BookingLine
from tos.bookings.queries import booking_out
from tos.catalog.models import UNIT_TYPES, Tour, Variant
from tos.core.errors import NotFound
from tos.core.money import currency_exponent, to_major
from tos.crm.models import Customer
from tos.inventory.availability import derived_status
from tos.inventory.generation import format_hhmm
from tos.inventory.models import Schedule
from tos.operations.models import Guide
from tos.payments.queries import totals_by_booking

# The bookings that hold seats on the departure: who the guide should expect. Leads and
# quotations hold none yet; cancelled and refunded ones have given theirs back.
ON_MANIFEST = tuple(
    s.value
    for s in (
        Status.BOOKING_CREATED,
        Status.PAYMENT_PENDING,
        Status.PAYMENT_CONFIRMED,
        Status.SUPPLIER_CONFIRMED,
        Status.DOCUMENTS_GENERATED,
        Status.COMPLETED,
        Status.NO_SHOW,
    )
)

_UNIT_RANK = {u: i for i, u in enumerate(UNIT_TYPES)}

_SCHEDULES = (
    select(
        Schedule,
        Tour.name,
        Tour.meeting_point,
        Variant.name,
        Guide.id,
        Guide.first_name,
        Guide.last_name,
        Guide.phone,
    )
    .join(Tour, Tour.id == Schedule.tour_id)
    .join(Variant, Variant.id == Schedule.variant_id)
    .outerjoin(Guide, Guide.id == Schedule.assigned_guide_id)
)


def manifest(session: Session, schedule_id: str, *, own_user_id: str | None = None) -> dict:
    """One departure's manifest. `own_user_id`: a guide-role caller sees only the departures
    it leads; any other one is 404, like another organization's."""
    stmt = _SCHEDULES.where(Schedule.id == schedule_id)
    if own_user_id is not None:
        stmt = stmt.where(Guide.user_id == own_user_id)
    found = _assemble(session, stmt)
    if not found:
        raise NotFound("schedule", schedule_id)
    return found[0]


def manifests_for_day(
    session: Session,
    day: dt.date,
    *,
    guide_id: str | None = None,
    own_user_id: str | None = None,
) -> list[dict]:
    """The manifests of the departures on a local date, in start order: of one guide, of the
    caller's own guide profile(s) (`own_user_id` without `guide_id`), or of every guide.
    Cancelled departures are left out: nobody runs them (the seed lists open and full ones;
    closed ones still run, they are only closed for sale)."""
    if guide_id is not None:
        # Another guide is as invisible to a guide as another organization's: 404, not 403.
        exists = select(Guide.id).where(Guide.id == guide_id)
        if own_user_id is not None:
            exists = exists.where(Guide.user_id == own_user_id)
        if session.scalar(exists) is None:
            raise NotFound("guide", guide_id)
    stmt = _SCHEDULES.where(Schedule.date == day, Schedule.status != "cancelled")
    if guide_id is not None:
        stmt = stmt.where(Schedule.assigned_guide_id == guide_id)
    elif own_user_id is not None:
        # No profile linked to the caller: this matches nothing, an empty day.
        stmt = stmt.where(Guide.user_id == own_user_id)
    stmt = stmt.order_by(Schedule.start_time, Tour.name, Schedule.id)
    return _assemble(session, stmt)


def _assemble(session: Session, stmt: Select[Any]) -> list[dict]:
    rows = session.execute(stmt).all()
    if not rows:
        return []
    schedule_ids = [row[0].id for row in rows]
    found = session.execute(
        select(Booking, Customer)
        .join(Customer, Customer.id == Booking.customer_id)
        .where(Booking.schedule_id.in_(schedule_ids), Booking.status.in_(ON_MANIFEST))
    ).all()
    # Sorted here rather than in SQL: SQLite and PostgreSQL collate names differently, and a
    # printed list must come out the same on both.
    pairs = sorted(found, key=lambda p: ((p[1].last_name or "").casefold(), p[0].reference))
    booking_ids = [b.id for b, _ in pairs]
    lines = _scheduled_lines(session, booking_ids)
    totals = totals_by_booking(session, booking_ids)

    by_schedule: dict[str, list[dict]] = {sid: [] for sid in schedule_ids}
    for booking, customer in pairs:
        by_schedule[booking.schedule_id].append(  # type: ignore[index]
            _booking_entry(booking, customer, totals[booking.id], lines.get(booking.id, []))
        )
    out = []
    for row in rows:
        bookings = by_schedule[row[0].id]
        out.append(
            {"schedule": _schedule_out(row), "bookings": bookings, "totals": _totals(bookings)}
        )
    return out


def _scheduled_lines(session: Session, booking_ids: list[str]) -> dict[str, list[Any]]:
    if not booking_ids:
        return {}
    rows = session.execute(
        select(
            BookingLine.booking_id,
            BookingLine.name,
            BookingLine.unit_type,
            BookingLine.quantity,
            BookingLine.participants,
        )
        .where(BookingLine.booking_id.in_(booking_ids), BookingLine.kind == "scheduled")
        .order_by(BookingLine.created_at, BookingLine.id)
    ).all()
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(row.booking_id, []).append(row)
    return out


def _schedule_out(row: Any) -> dict:
    s: Schedule = row[0]
    tour_name, meeting_point, variant_name, guide_id, first, last, phone = row[1:]
    guide = None
    if guide_id is not None:
        guide = {"id": guide_id, "name": f"{first} {last}".strip(), "phone": phone}
    return {
        "id": s.id,
        "tour_id": s.tour_id,
        "tour_name": tour_name,
        "variant_id": s.variant_id,
        "variant_name": variant_name,
        "date": s.date,
        "start_time": format_hhmm(s.start_time),
        "end_time": format_hhmm(s.end_time),
        "timezone": s.timezone,
        "status": derived_status(s.status, s.capacity, s.seats_taken),
        "capacity": s.capacity,
        "seats_taken": s.seats_taken,
        "meeting_point": meeting_point,
        "special_instructions": s.special_instructions,
        "guide": guide,
    }


def _booking_entry(booking: Booking, customer: Customer, totals: Any, lines: list[Any]) -> dict:
    money = booking_out(booking, customer, totals)
    participants = [
        {
            "first_name": p.get("first_name", ""),
            "last_name": p.get("last_name", ""),
            "age": p.get("age"),
            "tier": line.name,
        }
        for line in lines
        for p in line.participants or []
    ]
    return {
        "booking_id": booking.id,
        "reference": booking.reference,
        "status": booking.status,
        "customer": {
            "name": f"{customer.first_name} {customer.last_name}".strip(),
            "email": customer.email,
            "phone": customer.phone,
        },
        "participants_count": booking.participants_count,
        "participants_by_tier": _by_tier((ln.name, ln.unit_type, ln.quantity) for ln in lines),
        "participants": participants,
        "special_requests": booking.special_requests,
        "dietary_restrictions": booking.dietary_restrictions,
        "payment_status": money["payment_status"],
        "balance_due": {"amount": money["balance_due"], "currency": booking.currency},
    }


def _by_tier(counts: Iterable[tuple[str, str | None, int]]) -> list[dict]:
    """Quantities summed per (tier name, unit type), adults first (UNIT_TYPES order)."""
    summed: dict[tuple[str, str | None], int] = {}
    for name, unit_type, quantity in counts:
        summed[(name, unit_type)] = summed.get((name, unit_type), 0) + quantity
    keys = sorted(summed, key=lambda k: (_UNIT_RANK.get(k[1] or "", len(_UNIT_RANK)), k[0]))
    return [{"tier": k[0], "unit_type": k[1], "quantity": summed[k]} for k in keys]


def _totals(bookings: Sequence[dict]) -> dict:
    return {
        "bookings": len(bookings),
        "participants": sum(b["participants_count"] for b in bookings),
        "participants_by_tier": _by_tier(
            (t["tier"], t["unit_type"], t["quantity"])
            for b in bookings
            for t in b["participants_by_tier"]
        ),
        # What the guide may have to collect or chase on the day.
        "unpaid_bookings": sum(1 for b in bookings if b["balance_due"]["amount"] > 0),
    }


# --- CSV, for printing ---------------------------------------------------------------------

CSV_COLUMNS = (
    "reference", "customer", "phone", "email", "participants", "tiers", "names",
    "special_requests", "dietary_restrictions", "status", "payment_status", "balance_due",
)  # fmt: skip
# A cell starting with one of these runs as a formula in spreadsheet apps (CSV injection);
# customers type special requests, so such cells get a leading quote. Plain numbers such as
# E.164 phones (+351…) are left as they are.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?[0-9][0-9 .]*$")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _major(amount: int, currency: str) -> str:
    return f"{to_major(amount, currency):.{currency_exponent(currency)}f} {currency}"


def to_csv(m: dict) -> str:
    """One row per booking, in the manifest's order."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for b in m["bookings"]:
        names = "; ".join(
            f"{p['first_name']} {p['last_name']}".strip()
            + (f" ({p['age']})" if p["age"] is not None else "")
            for p in b["participants"]
        )
        tiers = ", ".join(f"{t['quantity']} {t['tier']}" for t in b["participants_by_tier"])
        due = b["balance_due"]
        row = (
            b["reference"], b["customer"]["name"], b["customer"]["phone"],
            b["customer"]["email"], b["participants_count"], tiers, names,
            b["special_requests"], b["dietary_restrictions"], b["status"],
            b["payment_status"], _major(due["amount"], due["currency"]),
        )  # fmt: skip
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def csv_filename(m: dict) -> str:
    s = m["schedule"]
    return f"manifest-{s['date'].isoformat()}-{s['start_time'].replace(':', '')}.csv"
