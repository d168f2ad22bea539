"""Cancelling a whole departure (seed 003 §3, schedule cancellation flow).

The request marks the schedule cancelled, emits `schedule.cancelled` (with notify_customers, for
messaging) and promises the bookings' cancellation in the outbox — all in one transaction. The
outbox job then cancels the live bookings a batch at a time, each with a full refund of what TOS
took (the operator cancelled, not the customer), and promises the next batch in the same
transaction. A crash loses at most the batch in flight, which rolls back and is retried; the
lifecycle key `schedule-cancel:<schedule>` makes a booking's cancellation happen once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.bookings.lifecycle import Status
from tos.bookings.models import Booking
from tos.core.clock import utcnow
from tos.core.errors import NotFound
from tos.identity.actors import Actor
from tos.inventory import versions
from tos.inventory.models import Schedule
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage
from tos.payments.cancellation import cancel_with_refund

BATCH = 25
LIVE = (
    Status.BOOKING_CREATED, Status.PAYMENT_PENDING, Status.PAYMENT_CONFIRMED,
    Status.SUPPLIER_CONFIRMED, Status.DOCUMENTS_GENERATED,
)  # fmt: skip


def _live(schedule_id: str) -> Any:
    return select(Booking).where(
        Booking.schedule_id == schedule_id, Booking.status.in_([s.value for s in LIVE])
    )


def cancel_departure(
    session: Session, actor: Actor, schedule_id: str, *, reason: str, notify_customers: bool
) -> tuple[Schedule, int]:
    """Returns the schedule and how many bookings are to be cancelled. Asking again while the
    job runs (or after) changes nothing but re-promises the job, which finds what is left."""
    schedule = session.scalar(select(Schedule).where(Schedule.id == schedule_id).with_for_update())
    if schedule is None:
        raise NotFound("schedule", schedule_id)
    if schedule.status != "cancelled":
        before = snapshot(schedule)
        schedule.status = "cancelled"
        versions.bump(session, {schedule.tour_id})
        record(session, actor, "schedule.cancelled", schedule, before=before)
        outbox.emit(session, "schedule.cancelled", {
            "organization_id": schedule.organization_id, "schedule_id": schedule.id,
            "tour_id": schedule.tour_id, "reason": reason, "notify_customers": notify_customers,
            "actor_type": actor.type, "actor_id": actor.id, "timestamp": utcnow().isoformat(),
        })  # fmt: skip
    pending = session.scalar(select(func.count()).select_from(_live(schedule_id).subquery()))
    if pending:
        outbox.enqueue(session, "bookings.cancel_departure", {
            "schedule_id": schedule_id, "reason": reason, "notify_customers": notify_customers,
            "actor_type": actor.type, "actor_id": actor.id,
        })  # fmt: skip
    return schedule, pending or 0


def cancel_departure_batch(session: Session, message: OutboxMessage) -> None:
    """Outbox handler: cancel and refund the next batch of live bookings; promise the rest."""
    payload = message.payload
    schedule_id = payload["schedule_id"]
    actor = Actor(
        type=payload.get("actor_type", "system"), id=payload.get("actor_id"),
        organization_id=message.organization_id, name="schedule cancellation",
    )  # fmt: skip
    bookings = session.scalars(
        _live(schedule_id).order_by(Booking.id).limit(BATCH + 1).with_for_update()
    ).all()
    for booking in bookings[:BATCH]:
        cancel_with_refund(
            session, actor, booking, reason=payload["reason"], refund_amount=None,
            may_choose=True, idempotency_key=f"schedule-cancel:{schedule_id}",
            metadata={"schedule_cancelled": True,
                      "notify_customers": payload.get("notify_customers", True)},
        )  # fmt: skip
    if len(bookings) > BATCH:
        outbox.enqueue(session, "bookings.cancel_departure", payload)
