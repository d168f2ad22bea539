"""Cancelling a booking with its refund (PRODUCT.md "Who refunds how much on cancel"): a
customer, manager or staff cancel refunds what the tour's cancellation policy says of the money
TOS took through providers; an owner, admin or accountant may choose the amount, all of it by
default (seed 003's adminCancel). Cash and bank transfers are refunded by staff by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.bookings.lifecycle import Status
from tos.bookings.models import Booking
from tos.bookings.transitions import TransitionResult, transition
from tos.catalog.policies import hours_before, policy_refund, rules_for
from tos.core.clock import utcnow
from tos.core.errors import Forbidden
from tos.identity.actors import Actor
from tos.inventory.models import Schedule
from tos.payments import refunds
from tos.payments.models import LedgerEntry


@dataclass(frozen=True, slots=True)
class Cancelled:
    result: TransitionResult
    refund_amount: int = 0
    refunds: list[LedgerEntry] = field(default_factory=list)


def policy_amount(session: Session, booking: Booking, refundable: int) -> int:
    """What the booking's tour's policy refunds now of `refundable`."""
    if booking.tour_id is None or booking.schedule_id is None:
        return refundable  # nothing scheduled: no policy applies
    starts_at = session.scalar(select(Schedule.starts_at).where(Schedule.id == booking.schedule_id))
    assert starts_at is not None
    rules = rules_for(session, booking.tour_id)
    return policy_refund(refundable, rules, hours_before(starts_at, utcnow()))


def cancel_with_refund(
    session: Session,
    actor: Actor,
    booking: Booking,
    *,
    reason: str,
    refund_amount: int | None,
    may_choose: bool,
    idempotency_key: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Cancelled:
    """`booking` must be row-locked. A replayed idempotency key refunds nothing again."""
    if refund_amount is not None and not may_choose:
        raise Forbidden("only an owner, admin or accountant chooses the refund amount")
    result = transition(session, actor, booking, Status.CANCELLED, note=reason,
                        metadata={"reason": reason, **(metadata or {})},
                        idempotency_key=idempotency_key)  # fmt: skip
    if result.replayed:
        return Cancelled(result)
    refundable = refunds.provider_refundable(session, booking.id)
    if refundable <= 0:
        refunds.close_if_refunded(session, actor, booking)  # refunded in full before
        return Cancelled(result)
    if may_choose:
        amount = refundable if refund_amount is None else refund_amount
    else:
        amount = policy_amount(session, booking, refundable)
    if amount <= 0:
        return Cancelled(result)
    entries = refunds.request_refund(session, actor, booking, amount=amount, reason=reason)
    return Cancelled(result, amount, entries)
