"""The lifecycle engine: every transition validated against the table, guarded by the ledger
where money is at stake, idempotent by key, and recorded (event, outbox, audit) in one
transaction. Seats come back exactly as PRODUCT.md says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.audit.service import snapshot
from tos.bookings import events
from tos.bookings.errors import InvalidTransition, PreconditionFailed
from tos.bookings.lifecycle import Status, allowed_targets, can_transition, releases_seats
from tos.bookings.models import Booking, LifecycleEvent
from tos.bookings.seats import release_overbooked, release_seats
from tos.core.clock import utcnow
from tos.identity.actors import Actor
from tos.inventory.models import Schedule
from tos.payments import ledger
from tos.payments.queries import ledger_totals
from tos.pricing import promotions

CANCEL_REASON_MAX = 500  # bookings.cancel_reason is String(500)


@dataclass(frozen=True, slots=True)
class TransitionResult:
    booking: Booking
    event: LifecycleEvent
    replayed: bool


def transition(
    session: Session,
    actor: Actor,
    booking: Booking,
    to_status: Status | str,
    *,
    note: str | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> TransitionResult:
    """`booking` must have been loaded with a row lock (get_booking(lock=True)), so concurrent
    transitions of one booking run one after the other and see each other's keys."""
    target = Status(to_status)
    if idempotency_key is not None:
        earlier = session.scalar(
            select(LifecycleEvent).where(
                LifecycleEvent.booking_id == booking.id,
                LifecycleEvent.idempotency_key == idempotency_key,
            )
        )
        if earlier is not None:
            return TransitionResult(booking, earlier, replayed=True)
    current = Status(booking.status)
    if not can_transition(current, target):
        raise InvalidTransition(
            f"a booking cannot go from {current.value} to {target.value}",
            details={
                "from": current.value,
                "to": target.value,
                "allowed": allowed_targets(current),
            },
        )
    _check_ledger_guard(session, booking, target)
    before = snapshot(booking)
    # The code's row before the departure's: the order booking creation locks them in.
    _give_back_promo_if_due(session, booking, target)
    _return_seats_if_due(session, booking, current, target)
    booking.status = target.value
    if target is Status.CANCELLED:
        booking.cancel_reason = _cancel_reason(metadata, note)
    event = events.record_change(
        session,
        actor,
        booking,
        from_status=current.value,
        note=note,
        metadata=metadata,
        idempotency_key=idempotency_key,
        before=before,
    )
    return TransitionResult(booking, event, replayed=False)


def _check_ledger_guard(session: Session, booking: Booking, target: Status) -> None:
    if target is Status.PAYMENT_CONFIRMED:
        totals = ledger_totals(session, booking.id)
        if not ledger.covers(totals, booking.deposit_required):
            raise PreconditionFailed(
                f"the ledger covers {totals.net} of the {booking.deposit_required} "
                f"{booking.currency} needed to confirm payment",
                details={
                    "required": booking.deposit_required,
                    "paid": totals.net,
                    "currency": booking.currency,
                    "missing": "payment",
                },
            )
    elif target is Status.REFUNDED:
        totals = ledger_totals(session, booking.id)
        if not ledger.refunds_cover_payments(totals) or totals.refund_pending:
            raise PreconditionFailed(
                f"refunds of {totals.refunded} do not cover the {totals.paid_in} "
                f"{booking.currency} that came in",
                details={
                    "paid": totals.paid_in,
                    "refunded": totals.refunded,
                    "refund_pending": totals.refund_pending,
                    "missing": "refund",
                },
            )


def _give_back_promo_if_due(session: Session, booking: Booking, target: Status) -> None:
    """A booking cancelled before any money came in gives its code's use back."""
    if (
        target is Status.CANCELLED
        and booking.promotional_code_id is not None
        and ledger_totals(session, booking.id).paid_in == 0
    ):
        promotions.release(session, booking.id)


def _cancel_reason(metadata: dict[str, Any] | None, note: str | None) -> str | None:
    """metadata.reason when it is text, else the note; cut to what the column holds."""
    reason = (metadata or {}).get("reason")
    text = reason if isinstance(reason, str) and reason.strip() else note
    return text[:CANCEL_REASON_MAX] if text else None


# A booking that reached the trip's end (completed, no_show) used its seats: refunding it later
# gives none back (PRODUCT.md "never on no_show or completed").
_SEATS_USED = frozenset({Status.COMPLETED, Status.NO_SHOW})


def _return_seats_if_due(
    session: Session, booking: Booking, current: Status, target: Status
) -> None:
    if booking.schedule_id is None or booking.held_seats + booking.overbooked_seats == 0:
        return
    starts_at = session.scalar(select(Schedule.starts_at).where(Schedule.id == booking.schedule_id))
    started = starts_at is not None and starts_at <= utcnow()
    held = current not in _SEATS_USED
    if releases_seats(target, tour_started=started, seats_held=held):
        release_seats(session, booking.schedule_id, booking.held_seats)
        release_overbooked(session, booking.schedule_id, booking.overbooked_seats)
        booking.held_seats = booking.overbooked_seats = 0
