"""Moving a booking: to another departure (of the same tour or another tour of the
organization), or to other line items on the same one, in one transaction.

The seats move with the guard: the new departure's are taken by the guarded UPDATE and the old
ones returned in the same transaction, so a booking never holds seats in both departures or in
neither, whatever runs beside it; when the guard refuses, nothing changed. The two departures'
rows are locked in id order, so two bookings moving in opposite directions cannot deadlock.
The booking is re-priced under today's rules; its total becomes the new price and an
adjustment line records the difference (positive: due; negative: credit), so the original
total plus the adjustment lines always equals the current total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.bookings.errors import BookingClosed, SyncedElsewhere
from tos.bookings.lifecycle import Status
from tos.bookings.models import Booking, BookingLine
from tos.bookings.seats import release_seats, take_seats
from tos.bookings.service import bookable_schedule, booking_lines
from tos.core.clock import utcnow
from tos.core.errors import ValidationFailed
from tos.identity.actors import Actor
from tos.inventory.models import Schedule
from tos.outbox import service as outbox
from tos.pricing import promotions
from tos.pricing.cart import price_cart
from tos.pricing.models import PromoRedemption, PromotionalCode

# Bookings that hold their seats and whose trip has not ended.
REBOOKABLE = frozenset({
    Status.BOOKING_CREATED, Status.PAYMENT_PENDING, Status.PAYMENT_CONFIRMED,
    Status.SUPPLIER_CONFIRMED, Status.DOCUMENTS_GENERATED,
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class ItemAgain:
    """A line of the booking, asked for again when the caller gives no new line items."""

    pricing_tier_id: str | None
    description: str | None
    quantity: int
    unit_amount: int | None
    participants: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Rebooked:
    booking: Booking
    from_schedule_id: str | None
    difference: int  # new total - old total: > 0 due, < 0 credit


def rebook(
    session: Session,
    actor: Actor,
    org_currency: str,
    org_settings: dict[str, Any],
    booking: Booking,
    *,
    schedule_id: str,
    line_items: list[Any] | None,
) -> Rebooked:
    """`booking` must be row-locked (get_booking(lock=True))."""
    if booking.website_id is not None:
        raise SyncedElsewhere(details={"booking_id": booking.id})
    if Status(booking.status) not in REBOOKABLE:
        raise BookingClosed(
            f"a {booking.status} booking cannot be moved",
            details={"status": booking.status, "rebookable": sorted(s.value for s in REBOOKABLE)},
        )
    now = utcnow()
    # The booked departure too must still be open and ahead to change its line items.
    target = bookable_schedule(session, schedule_id, now)
    old_lines = list(
        session.scalars(select(BookingLine).where(BookingLine.booking_id == booking.id))
    )
    if line_items is None and target.tour_id != booking.tour_id:
        raise ValidationFailed(
            "moving to another tour needs line_items with that tour's pricing tiers",
            path=["line_items"],
        )
    asked = line_items if line_items is not None else _items_again(old_lines)
    kept = _kept_promo(session, booking)
    cart = price_cart(
        session, org_currency=org_currency, org_settings=org_settings, schedule=target,
        line_items=asked, now=now, kept_promo=kept,
        items_path="line_items",
    )  # fmt: skip
    new = cart.snapshot
    before = snapshot(booking)
    from_schedule_id = booking.schedule_id
    difference = new.total - booking.total

    # Replace the priced lines; earlier adjustment lines stay (they are the booking's story).
    session.execute(
        delete(BookingLine)
        .where(BookingLine.booking_id == booking.id, BookingLine.kind != "adjustment")
        .execution_options(synchronize_session=False)
    )
    session.add_all(booking_lines(new, organization_id=booking.organization_id,
                                  schedule_id=target.id, booking_id=booking.id))  # fmt: skip
    if difference != 0:
        session.add(BookingLine(
            organization_id=booking.organization_id, booking_id=booking.id, kind="adjustment",
            name=_adjustment_name(booking, from_schedule_id, target, difference),
            quantity=1, unit_amount=difference, amount=difference, participants=[],
        ))  # fmt: skip
    _settle_promo(session, booking, kept, cart.promo, new)

    booking.schedule_id = target.id
    booking.tour_id = target.tour_id
    booking.currency = new.currency
    booking.subtotal = new.subtotal
    booking.discount_total = new.discount_total
    booking.tax_total = new.tax_total
    booking.total = new.total
    booking.deposit_required = cart.deposit_required
    booking.price_snapshot = new.as_dict()
    booking.participants_count = new.seats
    old_held = booking.held_seats
    booking.held_seats = new.seats
    record(session, actor, "booking.modified", booking, before=before)
    payload = {
        "organization_id": booking.organization_id, "booking_id": booking.id,
        "reference": booking.reference, "customer_id": booking.customer_id,
        "from_schedule_id": from_schedule_id, "to_schedule_id": target.id,
        "previous_total": before["total"], "total": new.total, "difference": difference,
        "currency": new.currency, "actor_type": actor.type, "actor_id": actor.id,
        "timestamp": now.isoformat(),
    }  # fmt: skip
    outbox.emit(session, "booking.modified", payload)
    session.flush()
    # Last, so the departures' rows are locked only for these statements and the commit.
    _move_seats(session, from_schedule_id, old_held, target.id, new.seats)
    return Rebooked(booking, from_schedule_id, difference)


def _items_again(lines: list[BookingLine]) -> list[ItemAgain]:
    return [
        ItemAgain(
            ln.pricing_tier_id,
            None if ln.kind == "scheduled" else ln.name,
            ln.quantity,
            None if ln.kind == "scheduled" else ln.unit_amount,
            ln.participants or [],
        )
        for ln in lines
        if ln.kind != "adjustment"
    ]


def _kept_promo(session: Session, booking: Booking) -> PromotionalCode | None:
    if booking.promotional_code_id is None:
        return None
    return session.scalar(
        select(PromotionalCode).where(PromotionalCode.id == booking.promotional_code_id)
    )


def _settle_promo(
    session: Session,
    booking: Booking,
    kept: PromotionalCode | None,
    applied: PromotionalCode | None,
    new: Any,
) -> None:
    """A kept code that no longer targets the new departure gives its use back."""
    if kept is None:
        return
    if applied is None:
        promotions.release(session, booking.id)
        booking.promotional_code_id = None
        return
    discount = new.promo_discount
    redemption = session.scalar(
        select(PromoRedemption).where(PromoRedemption.booking_id == booking.id)
    )
    if redemption is not None:
        redemption.amount = discount.amount if discount else 0


def _adjustment_name(
    booking: Booking, from_schedule_id: str | None, target: Schedule, difference: int
) -> str:
    kind = "due" if difference > 0 else "credit"
    if from_schedule_id == target.id:
        return f"Changed line items: price difference ({kind})"
    when = f"{target.date.isoformat()} {target.start_time.isoformat('minutes')}"
    return f"Moved to {when}: price difference ({kind})"


def _move_seats(
    session: Session, old_id: str | None, old_seats: int, new_id: str, new_seats: int
) -> None:
    if old_id == new_id:
        if new_seats > old_seats:
            take_seats(session, new_id, new_seats - old_seats)
        elif old_seats > new_seats:
            release_seats(session, new_id, old_seats - new_seats)
        return
    moves = [(new_id, take_seats, new_seats)]
    if old_id is not None:
        moves.append((old_id, release_seats, old_seats))
    for schedule_id, move, seats in sorted(moves, key=lambda m: m[0]):
        move(session, schedule_id, seats)
