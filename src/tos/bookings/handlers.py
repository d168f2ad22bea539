"""Reactions to outbox messages for bookings."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.bookings.lifecycle import Status
from tos.bookings.service import get_booking
from tos.bookings.transitions import transition
from tos.core.clock import utcnow
from tos.core.errors import NotFound
from tos.identity.actors import Actor
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage
from tos.payments.intents import cancel_open_intents
from tos.payments.ledger import covers
from tos.payments.queries import ledger_totals

HOLDING = frozenset({Status.BOOKING_CREATED.value, Status.PAYMENT_PENDING.value})


def expire_hold(session: Session, message: OutboxMessage) -> None:
    """An unpaid hold past its expiry is cancelled with reason `expired` and its seats return;
    one whose ledger already covers the deposit is left for staff to confirm.
    Idempotent: the lifecycle key `hold-expiry:<booking>` makes a second run change nothing."""
    try:
        booking = get_booking(session, message.payload["booking_id"], lock=True)
    except NotFound:
        return
    if booking.status not in HOLDING or booking.expires_at is None:
        return
    if covers(ledger_totals(session, booking.id), booking.deposit_required):
        # Paid while held (e.g. cash at the desk before staff confirmed): the hold did its job
        # and ends; cancelling would strand the money.
        before = snapshot(booking)
        booking.expires_at = None
        record(session, Actor.system(booking.organization_id), "booking.updated", booking,
               before=before)  # fmt: skip
        return
    if booking.expires_at > utcnow():
        # The hold was extended after this job was scheduled: look again when it runs out.
        outbox.enqueue(
            session, "bookings.expire_hold", {"booking_id": booking.id}, due_at=booking.expires_at
        )
        return
    cancel_open_intents(session, booking.id)
    transition(
        session,
        Actor.system(booking.organization_id),
        booking,
        Status.CANCELLED,
        note="hold expired",
        metadata={"reason": "expired"},
        idempotency_key=f"hold-expiry:{booking.id}",
    )
