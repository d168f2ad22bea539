"""Inbound sync (seed 002 §API Specification): a source website's event becomes, or changes, one
TOS booking — source `sync`, the website's id, its booking id as the external reference.

- `booking.created` retried with an identical payload answers the same booking; a different
  payload under a known source booking id is DUPLICATE_BOOKING ("use update event").
- `updated` / `cancelled` / `refunded` for an unknown id create the booking when the payload is
  complete, else INVALID_PAYLOAD naming the id. Events apply in the order they arrive.
- The booking walks the lifecycle to the status the website reports (channels.statuses), with
  money as the website states it: `external` before `payment_confirmed`, `external_refund` for
  `booking.refunded`. No expiry.
- A package mapped to a TOS variant and tier takes seats on the matching departure; when that is
  full (or closed) the booking is still accepted — the website has charged the customer — and
  its seats are counted in `seats_overbooked`, flagged `overbooked` for staff.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.bookings import events
from tos.bookings.errors import InvalidTransition
from tos.bookings.lifecycle import Status
from tos.bookings.models import Booking, BookingLine
from tos.bookings.seats import (
    CapacityExceeded,
    ScheduleNotOpen,
    overbook,
    release_overbooked,
    release_seats,
    take_seats,
)
from tos.bookings.service import new_reference
from tos.bookings.transitions import transition
from tos.catalog.models import PricingTier
from tos.channels.models import PackageMapping, SyncedBooking, Website
from tos.channels.schemas import SyncEvent
from tos.channels.statuses import path_to, to_seed
from tos.core.clock import utcnow
from tos.core.contact import normalize_phone
from tos.core.errors import Conflict, ValidationFailed
from tos.core.money import from_major
from tos.crm.service import find_or_create_customer
from tos.db.ids import new_id
from tos.identity.actors import Actor
from tos.identity.models import Organization
from tos.inventory.models import Schedule
from tos.payments.ledger import Kind
from tos.payments.models import LedgerEntry
from tos.payments.queries import ledger_totals
from tos.payments.service import record_channel_entry

OVERBOOKED = "overbooked"
NO_DEPARTURE = "no_departure"  # mapped package, but no departure at that date and time
_SEAT_FIELDS = ("package_name", "activity_date", "time_slot", "guest_count")
_MONEY_FIELDS = ("package_name", "package_price", "guest_count", "total_amount",
                 "discount_amount", "transport", "addons")  # fmt: skip
# Where a booking keeps its seats; elsewhere it has given them back (or used them).
_LIVE = frozenset({"pending", "confirmed"})


class DuplicateBooking(Conflict):
    code = "DUPLICATE_BOOKING"
    message = "Booking already exists (use update event)"


@dataclass(frozen=True, slots=True)
class Outcome:
    booking_id: str
    message: str
    created: bool = False
    replayed: bool = False


def channel_actor(website: Website) -> Actor:
    """Inbound changes are the website's own: actor type `channel`, id = the website's id (the
    outbound side recognises its own echo by it)."""
    return Actor(type="channel", id=website.id, organization_id=website.organization_id,
                 name=website.name)  # fmt: skip


def apply(session: Session, website: Website, event: SyncEvent) -> Outcome:
    actor = channel_actor(website)
    found = _find(session, website.id, event.source_booking_id)
    if found is None:
        missing = event.missing_for_create()
        if missing and event.event == "booking.created":
            raise ValidationFailed(
                f"a new booking needs {', '.join(missing)}",
                details={"fields": [{"path": f.split("."), "message": "required"}
                                    for f in missing]},
            )  # fmt: skip
        if missing:
            raise ValidationFailed(
                f"unknown source_booking_id {event.source_booking_id!r}: send the complete "
                f"booking (missing {', '.join(missing)}) to create it",
                path=["source_booking_id"],
            )
        booking = _create(session, actor, website, event)
        return Outcome(booking.id, "Booking synced successfully", created=True)
    booking, synced = found
    if event.event == "booking.created":
        if synced.created_hash == event.canonical_hash():
            return Outcome(booking.id, "Booking already synced", replayed=True)
        raise DuplicateBooking(details={"source_booking_id": event.source_booking_id,
                                        "booking_id": booking.id})  # fmt: skip
    apply_changes(session, actor, website, booking, synced, event)
    return Outcome(booking.id, "Booking synced successfully")


def _find(session: Session, website_id: str, source_id: str):
    booking = session.scalar(
        select(Booking)
        .where(Booking.website_id == website_id, Booking.external_ref == source_id)
        .with_for_update()
    )
    if booking is None:
        return None
    synced = session.scalar(select(SyncedBooking).where(SyncedBooking.booking_id == booking.id))
    assert synced is not None
    return booking, synced


def _create(session: Session, actor: Actor, website: Website, event: SyncEvent) -> Booking:
    org = session.get(Organization, website.organization_id)
    assert org is not None
    data = event.given()
    data.setdefault("currency", org.currency)
    data.setdefault("status", "confirmed")  # the seed's default
    data.setdefault("discount_amount", 0)
    now = utcnow()
    booking = Booking(
        id=new_id(), organization_id=org.id, reference=new_reference(session, org, now),
        status=Status.BOOKING_CREATED.value, source="sync", website_id=website.id,
        external_ref=event.source_booking_id, currency=data["currency"], subtotal=0,
        total=0, deposit_required=0, price_snapshot={}, held_seats=0, participants_count=0,
        utm={}, flags=[], created_by_type=actor.type, created_by_id=actor.id,
        customer_id=_customer(session, actor, data["customer"]),
        special_requests=data["customer"].get("special_requests"),
    )  # fmt: skip
    target = _seats_target(session, website, data)
    booking.lines = _price(booking, website, data, target)
    session.add(booking)
    events.record_change(session, actor, booking, from_status=None,
                         note=f"synced from {website.name}")  # fmt: skip
    session.add(SyncedBooking(
        organization_id=org.id, booking_id=booking.id, website_id=website.id,
        source_booking_id=event.source_booking_id, booking_ref=data.get("booking_ref"),
        activity_date=event.activity_date, data=data, created_hash=event.canonical_hash(),
        source_created_at=event.created_at,
    ))  # fmt: skip
    # The unique (website, external_ref) index answers a concurrent twin here, before any seat.
    session.flush()
    _place(session, booking, target, data["guest_count"], live=True)
    _reach(session, actor, website, booking, data, event, paid=0)
    return booking


def apply_changes(
    session: Session, actor: Actor, website: Website, booking: Booking,
    synced: SyncedBooking, event: SyncEvent, *, metadata: dict[str, Any] | None = None,
) -> set[str]:  # fmt: skip
    """An event's fields onto a known synced booking (the website's update, or a staff edit
    through PUT /api/bookings/{id}); returns the seed fields that changed."""
    given = event.given()
    given.pop("event", None)
    if "currency" in given and given["currency"] != booking.currency:
        raise ValidationFailed("a synced booking's currency cannot change", path=["currency"])
    for nested in ("customer", "transport"):  # an update sends only what changed in them
        if isinstance(given.get(nested), dict):
            given[nested] = {**(synced.data.get(nested) or {}), **given[nested]}
    data = {**synced.data, **given}
    changed = {k for k in given if synced.data.get(k) != given[k]}
    before = snapshot(booking)
    if "customer" in changed:
        booking.customer_id = _customer(session, actor, data["customer"])
        booking.special_requests = data["customer"].get("special_requests")
    seats_moved = bool(changed & set(_SEAT_FIELDS))
    if changed & set(_MONEY_FIELDS) or seats_moved:
        target = _seats_target(session, website, data) if seats_moved else _kept(session, booking)
        lines = _price(booking, website, data, target)
        session.execute(delete(BookingLine).where(BookingLine.booking_id == booking.id))
        session.add_all(lines)
        if seats_moved:
            _place(session, booking, target, data["guest_count"],
                   live=to_seed(booking.status) in _LIVE)  # fmt: skip
    if changed:
        synced.data = data
        synced.booking_ref = data.get("booking_ref")
        if "activity_date" in changed:
            synced.activity_date = dt.date.fromisoformat(data["activity_date"])
        record(session, actor, "booking.synced", booking, before=before)
    was = booking.status
    _reach(session, actor, website, booking, data, event, metadata=metadata)
    if to_seed(booking.status) != synced.data.get("status"):
        synced.data = {**synced.data, "status": to_seed(booking.status)}
    return (changed - {"status"}) | ({"status"} if to_seed(was) != to_seed(booking.status)
                                     else set())  # fmt: skip


# --- the departure a mapped package takes seats on ----------------------------------------------


@dataclass(frozen=True, slots=True)
class SeatTarget:
    schedule: Schedule | None
    tier: PricingTier | None
    flag: str | None = None  # NO_DEPARTURE when mapped but nothing runs then


def _kept(session: Session, booking: Booking) -> SeatTarget:
    """The departure and tier the booking has now (its price changed, its seats did not)."""
    if booking.schedule_id is None:
        return SeatTarget(None, None)
    tier_id = session.scalar(
        select(BookingLine.pricing_tier_id).where(
            BookingLine.booking_id == booking.id, BookingLine.kind == "scheduled"
        )
    )
    tier = session.get(PricingTier, tier_id) if tier_id else None
    return SeatTarget(session.get(Schedule, booking.schedule_id), tier)


def _seats_target(session: Session, website: Website, data: dict[str, Any]) -> SeatTarget:
    mapping = session.scalar(
        select(PackageMapping).where(
            PackageMapping.website_id == website.id,
            PackageMapping.package_name == data["package_name"],
        )
    )
    if mapping is None:
        return SeatTarget(None, None)
    tier = session.get(PricingTier, mapping.pricing_tier_id)
    day = dt.date.fromisoformat(data["activity_date"])
    schedules = list(session.scalars(
        select(Schedule).where(Schedule.variant_id == mapping.variant_id, Schedule.date == day)
    ))  # fmt: skip
    slot = _time_of(data["time_slot"])
    exact = [s for s in schedules if s.start_time == slot]
    if exact:
        return SeatTarget(exact[0], tier)
    if len(schedules) == 1 and slot is None:
        return SeatTarget(schedules[0], tier)  # one departure that day, slot not a clock time
    return SeatTarget(None, tier, NO_DEPARTURE)


def _time_of(slot: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(slot.strip())
    except ValueError:
        return None


def _place(session: Session, booking: Booking, target: SeatTarget, seats: int, *,
           live: bool) -> None:  # fmt: skip
    """Give back what the booking holds, then take `seats` on the target departure: by the
    guard when they fit, else counted as overbooked (the website has sold them already)."""
    if booking.schedule_id is not None:
        release_seats(session, booking.schedule_id, booking.held_seats)
        release_overbooked(session, booking.schedule_id, booking.overbooked_seats)
    booking.held_seats = booking.overbooked_seats = 0
    booking.participants_count = seats
    flags = [f for f in booking.flags if f not in (OVERBOOKED, NO_DEPARTURE)]
    schedule = target.schedule
    booking.schedule_id = schedule.id if schedule else None
    booking.tour_id = schedule.tour_id if schedule else None
    if target.flag:
        flags.append(target.flag)
    if schedule is not None and live:
        try:
            take_seats(session, schedule.id, seats)
            booking.held_seats = seats
        except (CapacityExceeded, ScheduleNotOpen):
            overbook(session, schedule.id, seats)
            booking.overbooked_seats = seats
            flags.append(OVERBOOKED)
    booking.flags = flags


# --- lines and money, in minor units ------------------------------------------------------------


def _price(booking: Booking, website: Website, data: dict[str, Any],
           target: SeatTarget) -> list[BookingLine]:  # fmt: skip
    """The booking's lines from the seed's package, transport and add-ons, and its total as the
    source states it (seed 002's own example total is not the sum of its lines: the difference
    is an adjustment line, so the lines always add up to the total)."""
    minor = _minor(booking.currency)
    schedule_id = target.schedule.id if target.schedule else None
    tier = target.tier if schedule_id else None
    price = minor(data["package_price"], ["package_price"])
    package = ("scheduled", tier.id, tier.unit_type) if tier else ("item", None, None)
    specs = [(package[0], data["package_name"], data["guest_count"], price, package[1],
              package[2])]  # fmt: skip
    transport = data.get("transport") or {}
    cost = minor(transport.get("cost", 0), ["transport", "cost"])
    if cost:
        specs.append(("item", f"Transport ({transport.get('type') or 'transport'})", 1, cost,
                      None, None))  # fmt: skip
    for i, addon in enumerate(data.get("addons") or []):
        if addon["quantity"]:
            unit = minor(addon["unit_price"], ["addons", i, "unit_price"])
            specs.append(("item", addon["name"], addon["quantity"], unit, None, None))
    subtotal = sum(q * u for _, _, q, u, _, _ in specs)
    discount = minor(data.get("discount_amount", 0), ["discount_amount"])
    total = minor(data["total_amount"], ["total_amount"])
    if discount:
        specs.append(("adjustment", "Discount", 1, -discount, None, None))
    rest = total - (subtotal - discount)
    if rest:
        specs.append(("adjustment", f"Total as stated by {website.name}", 1, rest, None, None))
    booking.subtotal, booking.discount_total, booking.tax_total = subtotal, discount, 0
    booking.total = booking.deposit_required = total
    booking.price_snapshot = {
        "source": "sync", "website": website.slug, "currency": booking.currency,
        "subtotal": subtotal, "discount_total": discount, "total": total,
    }  # fmt: skip
    return [
        BookingLine(
            id=new_id(), organization_id=booking.organization_id, booking_id=booking.id,
            kind=kind, schedule_id=schedule_id if kind == "scheduled" else None,
            pricing_tier_id=tier_id, name=name[:300], unit_type=unit_type, quantity=qty,
            unit_amount=unit, amount=qty * unit, participants=[],
        )
        for kind, name, qty, unit, tier_id, unit_type in specs
    ]  # fmt: skip


def _minor(currency: str):
    def convert(units: Any, path: list[str | int]) -> int:
        try:
            return from_major(units, currency)
        except ValueError as exc:
            raise ValidationFailed(str(exc), path=path) from None

    return convert


# --- the lifecycle, to the status the website reports -------------------------------------------


def _target(event: SyncEvent, data: dict[str, Any]) -> str | None:
    if event.event == "booking.cancelled":
        return "refunded" if event.status == "refunded" else "cancelled"
    if event.event == "booking.refunded":
        return "refunded"
    return event.status or (data.get("status") if event.event == "booking.created" else None)


def _reach(session: Session, actor: Actor, website: Website, booking: Booking,
           data: dict[str, Any], event: SyncEvent, *,
           metadata: dict[str, Any] | None = None, paid: int | None = None) -> None:  # fmt: skip
    """Walk to the reported status (`paid`: what came in, when the caller knows it). Only the
    website's own report is money: staff moving a synced booking meet the ledger guards like
    anyone (PRODUCT.md)."""
    from_website = actor.type == "channel"
    target = _target(event, data)
    if target == "refunded" and from_website:
        target = _record_refund(session, actor, booking, event, data)
    meta = {"website_id": website.slug, "source_event": event.event, **(metadata or {})}
    if target is not None:
        steps = path_to(booking.status, target)
        if steps is None:
            raise InvalidTransition(
                f"the booking is {to_seed(booking.status)} in TOS and cannot become {target}",
                details={"from": to_seed(booking.status), "to": target,
                         "source_booking_id": event.source_booking_id},
            )  # fmt: skip
        for step in steps:
            if step is Status.PAYMENT_CONFIRMED and from_website:
                _top_up(session, actor, booking, data, paid)
                paid = booking.total
            reason = event.reason or f"{target} on {website.name}"
            transition(session, actor, booking, step, note=f"synced from {website.name}",
                       metadata={**meta, "reason": reason} if step is Status.CANCELLED
                       else meta)  # fmt: skip
        data["status"] = target
    if from_website and to_seed(booking.status) in ("confirmed", "completed", "no_show"):
        _top_up(session, actor, booking, data, paid)  # a total raised after the charge


def _top_up(session: Session, actor: Actor, booking: Booking, data: dict[str, Any],
            paid: int | None) -> None:  # fmt: skip
    """The website charged the total it states: the ledger's `external` money matches it."""
    if paid is None:
        paid = ledger_totals(session, booking.id).paid_in
    if booking.total > paid:
        record_channel_entry(session, actor, booking, Kind.EXTERNAL, booking.total - paid,
                             reference=data.get("stripe_payment_intent_id")
                             or data.get("booking_ref"))  # fmt: skip


def _record_refund(session: Session, actor: Actor, booking: Booking, event: SyncEvent,
                   data: dict[str, Any]) -> str | None:  # fmt: skip
    """`booking.refunded`: the website's refunds so far as `external_refund` entries (the
    event's cumulative refund_amount, everything by default). Refunded in full, the booking
    walks to `refunded`; in part, it keeps its status (or the one the event states)."""
    totals = ledger_totals(session, booking.id)
    external_refunded = sum(
        session.scalars(
            select(LedgerEntry.amount).where(
                LedgerEntry.booking_id == booking.id,
                LedgerEntry.kind == Kind.EXTERNAL_REFUND.value,
            )
        )
    )
    stated = event.given().get("refund_amount")
    if stated is not None:
        wanted = _minor(booking.currency)(stated, ["refund_amount"])
    else:
        wanted = totals.paid_in
    amount = min(wanted - external_refunded, totals.refundable)
    if amount > 0:
        record_channel_entry(session, actor, booking, Kind.EXTERNAL_REFUND, amount,
                             reason=event.reason or "refunded by the source website")  # fmt: skip
        data["refunded_amount"] = stated
    totals = ledger_totals(session, booking.id)
    if totals.refunded >= totals.paid_in:
        return "refunded"
    return event.status if event.status != "refunded" else None


def _customer(session: Session, actor: Actor, customer: dict[str, Any]) -> str:
    first, _, last = customer["name"].strip().partition(" ")
    return find_or_create_customer(
        session, actor, email=customer["email"], first_name=first[:100],
        last_name=last.strip()[:100], phone=_phone(customer),
    ).id  # fmt: skip


def _phone(customer: dict[str, Any]) -> str | None:
    """E.164 when the number reads as one; the raw text stays in the synced data either way."""
    phone = customer.get("phone")
    if not phone:
        return None
    code = (customer.get("country_code") or "").strip()
    text = phone if phone.startswith("+") or not code else f"{code}{phone.lstrip('0')}"
    try:
        return normalize_phone(text)
    except ValueError:
        return None
