"""What a lifecycle change writes besides the status: the lifecycle event, the outbox events
(API.md's wire names) and the audit entry, all in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tos.audit.service import record
from tos.bookings.lifecycle import Status
from tos.bookings.models import Booking, LifecycleEvent
from tos.core.clock import utcnow
from tos.identity.actors import Actor
from tos.outbox import service as outbox

# Entering these statuses emits a named event besides booking.status_changed.
ENTRY_EVENTS = {
    Status.BOOKING_CREATED: "booking.created",
    Status.PAYMENT_CONFIRMED: "booking.confirmed",
    Status.CANCELLED: "booking.cancelled",
    Status.COMPLETED: "booking.completed",
    Status.NO_SHOW: "booking.no_show",
}


def record_change(
    session: Session,
    actor: Actor,
    booking: Booking,
    *,
    from_status: str | None,
    note: str | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    before: dict[str, Any] | None = None,
) -> LifecycleEvent:
    event = LifecycleEvent(
        organization_id=booking.organization_id,
        booking_id=booking.id,
        from_status=from_status,
        to_status=booking.status,
        actor_type=actor.type,
        actor_id=actor.id,
        note=note,
        meta=metadata or {},
        idempotency_key=idempotency_key,
    )
    session.add(event)
    payload = {
        "organization_id": booking.organization_id,
        "booking_id": booking.id,
        "reference": booking.reference,
        "customer_id": booking.customer_id,
        "schedule_id": booking.schedule_id,
        "from_status": from_status,
        "to_status": booking.status,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "note": note,
        "metadata": metadata or {},
        "timestamp": utcnow().isoformat(),
    }
    outbox.emit(session, "booking.status_changed", payload)
    named = ENTRY_EVENTS.get(Status(booking.status))
    if named:
        outbox.emit(session, named, payload)
    if booking.website_id is not None and _owes_website(actor, booking, from_status):
        # A source website's booking: the channels hub owes the website a webhook.
        outbox.emit(session, "sync.status_changed", payload)
    action = "booking.created" if from_status is None else "booking.status_changed"
    record(session, actor, action, booking, before=before)
    return event


def _owes_website(actor: Actor, booking: Booking, from_status: str | None) -> bool:
    from tos.channels.outbound import owes_status_webhook

    return owes_status_webhook(booking, actor.type, actor.id, from_status, booking.status)
