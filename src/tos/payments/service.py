"""Ledger commands of Core 2a: cash and bank-transfer payments and refunds recorded by staff.
Provider payments and refunds (the Payments issue) land on the same ledger."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tos.audit.service import record
from tos.bookings.errors import BookingClosed, RefundExceedsPaid
from tos.bookings.models import Booking
from tos.core.clock import utcnow
from tos.db.ids import new_id
from tos.identity.actors import Actor
from tos.outbox import service as outbox
from tos.payments.ledger import EntryStatus, Kind
from tos.payments.models import LedgerEntry
from tos.payments.queries import ledger_totals


def record_manual_payment(
    session: Session,
    actor: Actor,
    booking: Booking,
    *,
    amount: int,
    method: str,
    reference: str | None = None,
) -> LedgerEntry:
    if booking.status == "refunded":
        # Terminal: its guard promised refunds cover what came in. Money for this customer
        # belongs on a new booking.
        raise BookingClosed(
            "this booking is refunded and takes no more payments",
            details={"booking_id": booking.id, "status": booking.status},
        )
    entry = _entry(actor, booking, Kind.MANUAL, amount, method=method, reference=reference)
    session.add(entry)
    outbox.emit(session, "payment.received", _payload(booking, entry))
    record(session, actor, "payment.received", entry, entity_type="payment")
    return entry


def record_manual_refund(
    session: Session, actor: Actor, booking: Booking, *, amount: int, reason: str
) -> LedgerEntry:
    """`booking` must be row-locked: concurrent refunds then see each other, and together never
    exceed what came in."""
    totals = ledger_totals(session, booking.id)
    if amount > totals.refundable:
        raise RefundExceedsPaid(
            f"only {totals.refundable} {booking.currency} can still be refunded",
            details={
                "refundable": totals.refundable,
                "requested": amount,
                "paid": totals.paid_in,
                "refunded": totals.refunded,
                "refund_pending": totals.refund_pending,
            },
        )
    entry = _entry(actor, booking, Kind.MANUAL_REFUND, amount, reason=reason)
    session.add(entry)
    outbox.emit(session, "refund.processed", _payload(booking, entry))
    record(session, actor, "refund.processed", entry, entity_type="refund")
    return entry


def record_channel_entry(
    session: Session, actor: Actor, booking: Booking, kind: Kind, amount: int, *,
    reference: str | None = None, reason: str | None = None,
) -> LedgerEntry:  # fmt: skip
    """Money held elsewhere, as the channel reports it: `external` (a source website charged
    it), `external_refund` (it refunded it), `on_account` (a reseller owes it)."""
    if kind not in (Kind.EXTERNAL, Kind.EXTERNAL_REFUND, Kind.ON_ACCOUNT):
        raise ValueError(f"{kind} is not a channel's ledger entry")
    entry = _entry(actor, booking, kind, amount, reference=reference, reason=reason)
    session.add(entry)
    refund = kind is Kind.EXTERNAL_REFUND
    event = "refund.processed" if refund else "payment.received"
    outbox.emit(session, event, _payload(booking, entry))
    record(session, actor, event, entry, entity_type="refund" if refund else "payment")
    return entry


def _entry(actor: Actor, booking: Booking, kind: Kind, amount: int, **fields) -> LedgerEntry:
    return LedgerEntry(
        id=new_id(),
        organization_id=booking.organization_id,
        booking_id=booking.id,
        kind=kind.value,
        status=EntryStatus.SUCCEEDED.value,
        amount=amount,
        currency=booking.currency,
        actor_type=actor.type,
        actor_id=actor.id,
        settled_at=utcnow(),
        **fields,
    )


def _payload(booking: Booking, entry: LedgerEntry) -> dict:
    return {
        "organization_id": booking.organization_id,
        "booking_id": booking.id,
        "reference": booking.reference,
        "ledger_entry_id": entry.id,
        "kind": entry.kind,
        "amount": {"amount": entry.amount, "currency": entry.currency},
        "timestamp": utcnow().isoformat(),
    }
