"""Booking commands: create (seats held by the guard), update, assign."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.bookings import events
from tos.bookings.lifecycle import Status
from tos.bookings.models import Booking, BookingLine
from tos.bookings.schemas import BookingIn, BookingPatch
from tos.bookings.seats import ScheduleNotOpen, take_seats
from tos.core.clock import utcnow
from tos.core.errors import Forbidden, NotFound, ValidationFailed
from tos.crm.service import find_or_create_customer
from tos.db.ids import new_id
from tos.identity.actors import Actor
from tos.identity.models import Organization, User
from tos.identity.organization import hold_minutes_of
from tos.identity.permissions import Scope
from tos.inventory.models import Schedule
from tos.outbox import service as outbox
from tos.pricing import promotions
from tos.pricing.cart import price_cart
from tos.pricing.quote import Snapshot

_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone


def create_booking(
    session: Session,
    actor: Actor,
    org: Organization,
    data: BookingIn,
    *,
    scope: Scope = Scope.ALL,
    before_seats: Callable[[Booking], None] | None = None,
) -> Booking:
    """Everything a new booking writes, then the seat guard last. `before_seats` runs after
    the inserts and before the guard (the route shapes its response and completes its
    Idempotency-Key there), so the departure's hot row stays locked only for the guard, the
    version bump and the commit."""
    now = utcnow()
    schedule = bookable_schedule(session, data.schedule_id, now) if data.schedule_id else None
    assigned_to = _assignee(session, actor, data.assigned_to, scope)
    expires_at = _expiry(org, data, now)
    customer = find_or_create_customer(
        session,
        actor,
        email=data.customer.email,
        first_name=data.customer.first_name,
        last_name=data.customer.last_name,
        phone=data.customer.phone,
    )
    cart = price_cart(
        session, org_currency=org.currency, org_settings=org.settings or {}, schedule=schedule,
        line_items=data.line_items, now=now, promotional_code=data.promotional_code,
        customer_id=customer.id,
    )  # fmt: skip
    snapshot_ = cart.snapshot
    seats = snapshot_.seats
    lines = booking_lines(snapshot_, organization_id=org.id,
                          schedule_id=schedule.id if schedule else None)  # fmt: skip
    booking = Booking(
        id=new_id(),
        organization_id=org.id,
        reference=new_reference(session, org, now),
        customer_id=customer.id,
        schedule_id=schedule.id if schedule else None,
        tour_id=schedule.tour_id if schedule else None,
        status=Status.BOOKING_CREATED.value,
        source=data.source,
        assigned_to=assigned_to,
        currency=snapshot_.currency,
        subtotal=snapshot_.subtotal,
        discount_total=snapshot_.discount_total,
        tax_total=snapshot_.tax_total,
        total=snapshot_.total,
        deposit_required=cart.deposit_required,
        promotional_code_id=cart.promo.id if cart.promo else None,
        price_snapshot=snapshot_.as_dict(),
        held_seats=seats,
        participants_count=seats,
        special_requests=data.special_requests,
        dietary_restrictions=data.dietary_restrictions,
        notes=data.notes,
        utm=data.utm(),
        expires_at=expires_at,
        flags=[],
        created_by_type=actor.type,
        created_by_id=actor.id,
        lines=lines,
    )
    session.add(booking)
    events.record_change(session, actor, booking, from_status=None)
    if expires_at is not None:
        outbox.enqueue(
            session, "bookings.expire_hold", {"booking_id": booking.id}, due_at=expires_at
        )
    session.flush()
    if before_seats is not None:
        before_seats(booking)
    # Last, so the hot rows (the code's, then the departure's: always in this order) are locked
    # only for these statements and the commit.
    if cart.promo is not None:
        promo_discount = snapshot_.promo_discount
        promotions.redeem(
            session, cart.promo, booking_id=booking.id, customer_id=customer.id,
            amount=promo_discount.amount if promo_discount else 0,
        )  # fmt: skip
    if schedule is not None:
        take_seats(session, schedule.id, seats)
    return booking


def booking_lines(
    snapshot: Snapshot, *, organization_id: str, schedule_id: str | None,
    booking_id: str | None = None,
) -> list[BookingLine]:  # fmt: skip
    """The priced lines as the booking's rows; tier lines point at the departure."""
    return [
        BookingLine(
            organization_id=organization_id, booking_id=booking_id, kind=ln.kind,
            schedule_id=schedule_id if ln.kind == "scheduled" else None,
            pricing_tier_id=ln.pricing_tier_id, name=ln.name, unit_type=ln.unit_type,
            quantity=ln.quantity, unit_amount=ln.unit_amount, amount=ln.amount,
            participants=ln.participants,
        )
        for ln in snapshot.lines
    ]  # fmt: skip


def bookable_schedule(session: Session, schedule_id: str, now: dt.datetime) -> Schedule:
    schedule = session.scalar(select(Schedule).where(Schedule.id == schedule_id))
    if schedule is None:
        raise ValidationFailed("no such schedule", path=["schedule_id"])
    if schedule.status != "open" or schedule.starts_at <= now:
        status = schedule.status if schedule.status != "open" else "departed"
        raise ScheduleNotOpen(details={"schedule_id": schedule.id, "status": status})
    return schedule


def _assignee(session: Session, actor: Actor, wanted: str | None, scope: Scope) -> str | None:
    if scope is Scope.OWN:
        # Staff create bookings for themselves: "own" is what is assigned to them.
        if wanted not in (None, actor.id):
            raise Forbidden("staff may assign bookings only to themselves")
        return actor.id
    if wanted is None:
        return None
    return _staff_user(session, wanted, path=["assigned_to"]).id


def _staff_user(session: Session, user_id: str, *, path: list[str | int]) -> User:
    user = session.scalar(select(User).where(User.id == user_id, User.active.is_(True)))
    if user is None or user.role in ("guide", "reseller"):
        raise ValidationFailed("not an active staff member of this organization", path=path)
    return user


def _expiry(org: Organization, data: BookingIn, now: dt.datetime) -> dt.datetime | None:
    if data.hold:
        minutes = hold_minutes_of(org.settings or {})
        return now + dt.timedelta(minutes=minutes)
    if data.expires_at is not None:
        if data.expires_at <= now:
            raise ValidationFailed("expires_at must be in the future", path=["expires_at"])
        return data.expires_at.astimezone(dt.UTC)
    return None


def new_reference(session: Session, org: Organization, now: dt.datetime) -> str:
    year = now.astimezone(ZoneInfo(org.timezone)).year
    for _ in range(8):
        ref = f"BK-{year}-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))
        if session.scalar(select(Booking.id).where(Booking.reference == ref)) is None:
            return ref
    raise RuntimeError("could not find a free booking reference")


def get_booking(session: Session, booking_id: str, *, rule=None, lock: bool = False) -> Booking:
    stmt = select(Booking).where(Booking.id == booking_id)
    if rule is not None:
        stmt = stmt.where(rule)
    if lock:
        stmt = stmt.with_for_update()
    booking = session.scalar(stmt)
    if booking is None:
        raise NotFound("booking", booking_id)
    return booking


def update_booking(
    session: Session, actor: Actor, booking: Booking, patch: BookingPatch, *, scope: Scope
) -> Booking:
    fields = patch.model_dump(exclude_unset=True)
    if "assigned_to" in fields:
        assign_owner(session, actor, booking, fields.pop("assigned_to"), scope=scope)
    changes = {k: v for k, v in fields.items() if getattr(booking, k) != v}
    if changes:
        before = snapshot(booking)
        for key, value in changes.items():
            setattr(booking, key, value)
        record(session, actor, "booking.updated", booking, before=before)
        if booking.website_id is not None:
            outbox.emit(session, "sync.fields_changed", {
                "organization_id": booking.organization_id, "booking_id": booking.id,
                "changes": changes, "actor_type": actor.type, "actor_id": actor.id,
                "timestamp": utcnow().isoformat(),
            })  # fmt: skip
    return booking


def assign_owner(
    session: Session, actor: Actor, booking: Booking, owner_id: str | None, *, scope: Scope
) -> Booking:
    if scope is Scope.OWN and owner_id != booking.assigned_to:
        raise Forbidden("staff may not reassign bookings")
    if owner_id is not None:
        _staff_user(session, owner_id, path=["owner_id"])
    if booking.assigned_to != owner_id:
        before = snapshot(booking)
        booking.assigned_to = owner_id
        record(session, actor, "booking.assigned", booking, before=before)
    return booking
