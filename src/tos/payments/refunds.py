"""Refunds through the provider: reserved on the ledger, then carried out through the outbox.

`request_refund` (booking row-locked) writes a pending `refund` entry per captured payment it
draws on, so a concurrent refund already sees it counted against what can be refunded, and puts
the provider call in the outbox with the entry's id as the provider's idempotency key: a crash
or a retry never refunds twice. The provider's answer, or its webhook, settles the entry.
Only money TOS took through a provider is refunded this way (PRODUCT.md "Effects follow the
channel"); cash and bank transfers are refunded by staff (manual refunds)."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.bookings.errors import RefundExceedsPaid
from tos.bookings.lifecycle import Status, can_transition
from tos.bookings.models import Booking
from tos.bookings.transitions import transition
from tos.core.clock import utcnow
from tos.db.ids import new_id
from tos.identity.actors import Actor
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage
from tos.payments import accounts
from tos.payments.ledger import EntryStatus, Kind, refunds_cover_payments
from tos.payments.models import LedgerEntry, Payment
from tos.payments.providers.base import Event, ProviderError, RefundRequest
from tos.payments.queries import ledger_totals

log = logging.getLogger("tos.payments")


def refundable_by_payment(session: Session, booking_id: str) -> list[tuple[str, int]]:
    """(payment id, what can still go back to it): captured minus refunds succeeded or pending,
    newest payment first."""
    captured = dict(
        session.execute(
            select(LedgerEntry.payment_id, func.sum(LedgerEntry.amount))
            .where(
                LedgerEntry.booking_id == booking_id,
                LedgerEntry.kind == Kind.CAPTURED.value,
                LedgerEntry.status == EntryStatus.SUCCEEDED.value,
            )
            .group_by(LedgerEntry.payment_id)
        ).all()  # fmt: skip
    )
    out = dict(
        session.execute(
            select(LedgerEntry.payment_id, func.sum(LedgerEntry.amount))
            .where(
                LedgerEntry.booking_id == booking_id,
                LedgerEntry.kind == Kind.REFUND.value,
                LedgerEntry.status != EntryStatus.FAILED.value,
            )
            .group_by(LedgerEntry.payment_id)
        ).all()  # fmt: skip
    )
    order = {
        pid: n
        for n, pid in enumerate(
            session.scalars(
                select(Payment.id).where(Payment.booking_id == booking_id)
                .order_by(Payment.created_at.desc(), Payment.id.desc())
            )
        )
    }  # fmt: skip
    # SUM over BIGINT is NUMERIC on PostgreSQL: back to int.
    rows = [(pid, int(amount) - int(out.get(pid, 0))) for pid, amount in captured.items() if pid]
    return sorted([r for r in rows if r[1] > 0], key=lambda r: order.get(r[0], 0))


def provider_refundable(session: Session, booking_id: str) -> int:
    return sum(amount for _, amount in refundable_by_payment(session, booking_id))


def request_refund(
    session: Session, actor: Actor, booking: Booking, *, amount: int | None, reason: str
) -> list[LedgerEntry]:
    """`booking` must be row-locked. Reserves `amount` (default: all TOS took through
    providers that is still refundable) as pending refunds, newest payment first, and promises
    the provider calls; 409 REFUND_EXCEEDS_PAID beyond what TOS took."""
    available = refundable_by_payment(session, booking.id)
    can = min(sum(a for _, a in available), ledger_totals(session, booking.id).refundable)
    amount = can if amount is None else amount
    if amount <= 0 or amount > can:
        raise RefundExceedsPaid(
            f"only {can} {booking.currency} taken through a payment provider can be refunded",
            details={"refundable": can, "requested": amount},
        )
    entries = []
    left = amount
    for payment_id, room in available:
        part = min(room, left)
        if part <= 0:
            break
        payment = session.scalar(select(Payment).where(Payment.id == payment_id))
        assert payment is not None
        entry = LedgerEntry(
            id=new_id(), organization_id=booking.organization_id, booking_id=booking.id,
            kind=Kind.REFUND.value, status=EntryStatus.PENDING.value, amount=part,
            currency=booking.currency, provider=payment.provider, payment_id=payment.id,
            reason=reason[:500], actor_type=actor.type, actor_id=actor.id,
        )  # fmt: skip
        session.add(entry)
        record(session, actor, "refund.requested", entry, entity_type="refund")
        outbox.enqueue(session, "payments.execute_refund", {"entry_id": entry.id})
        entries.append(entry)
        left -= part
    return entries


def execute_refund(session: Session, message: OutboxMessage) -> None:
    """Outbox handler: ask the provider to refund one pending entry (idempotent by its id)."""
    # The booking's row before the entry's: the order webhooks lock them in (no deadlock).
    booking_id = session.scalar(
        select(LedgerEntry.booking_id).where(LedgerEntry.id == message.payload["entry_id"])
    )
    if booking_id is None:
        return
    session.scalar(select(Booking.id).where(Booking.id == booking_id).with_for_update())
    entry = session.scalar(
        select(LedgerEntry).where(LedgerEntry.id == message.payload["entry_id"]).with_for_update()
    )
    if entry is None or entry.status != EntryStatus.PENDING.value or entry.provider_ref:
        return  # settled, or the provider already took it and its webhook will settle it
    payment = session.scalar(select(Payment).where(Payment.id == entry.payment_id))
    assert payment is not None and payment.provider_ref is not None
    creds = accounts.credentials_for(session, payment.provider)
    if creds is None:
        raise RuntimeError(f"{payment.provider} is not configured: refund {entry.id} waits")
    charge = session.scalar(
        select(LedgerEntry.provider_ref)
        .where(LedgerEntry.payment_id == payment.id, LedgerEntry.kind == Kind.CAPTURED.value)
        .limit(1)
    )
    request = RefundRequest(refund_id=entry.id, provider_ref=payment.provider_ref,
                            charge_ref=charge, amount=entry.amount, currency=entry.currency,
                            reason=entry.reason or "")  # fmt: skip
    try:
        result = accounts.adapter(payment.provider).refund(creds, request)
    except ProviderError as exc:
        if exc.retryable:
            raise  # the outbox tries again later, with the same idempotency key
        log.warning("refund %s refused by %s", entry.id, payment.provider)
        _settle(session, entry, succeeded=False, provider_ref=None)
        return
    if result.status == "pending":
        entry.provider_ref = result.provider_refund_ref  # its webhook settles it
        return
    _settle(session, entry, succeeded=result.status == "succeeded",
            provider_ref=result.provider_refund_ref)  # fmt: skip


def settle_from_event(
    session: Session, actor: Actor, booking: Booking, payment: Payment, event: Event, *,
    succeeded: bool,
) -> str:  # fmt: skip
    keys = [LedgerEntry.id == event.refund_id] if event.refund_id else []
    if event.refund_ref:
        keys.append(LedgerEntry.provider_ref == event.refund_ref)
    entry = None
    for key in keys:
        entry = session.scalar(
            select(LedgerEntry).where(key, LedgerEntry.kind == Kind.REFUND.value).with_for_update()
        )
        if entry is not None:
            break
    if entry is None:
        if not succeeded or not event.amount:
            return "refund event for no refund of ours"
        # Refunded in the provider's dashboard: the ledger follows the provider's records.
        entry = LedgerEntry(
            id=new_id(), organization_id=booking.organization_id, booking_id=booking.id,
            kind=Kind.REFUND.value, status=EntryStatus.PENDING.value, amount=event.amount,
            currency=booking.currency, provider=payment.provider, payment_id=payment.id,
            reason="refunded at the provider", actor_type=actor.type, actor_id=None,
        )  # fmt: skip
        session.add(entry)
    if entry.status != EntryStatus.PENDING.value:
        return "refund already settled"
    _settle(session, entry, succeeded=succeeded, provider_ref=event.refund_ref)
    return "refund succeeded" if succeeded else "refund failed"


def _settle(
    session: Session, entry: LedgerEntry, *, succeeded: bool, provider_ref: str | None
) -> None:
    system = Actor.system(entry.organization_id)
    entry.status = (EntryStatus.SUCCEEDED if succeeded else EntryStatus.FAILED).value
    entry.settled_at = utcnow()
    if provider_ref:
        entry.provider_ref = provider_ref
    booking = session.scalar(
        select(Booking).where(Booking.id == entry.booking_id).with_for_update()
    )
    assert booking is not None
    payload = {
        "organization_id": booking.organization_id, "booking_id": booking.id,
        "reference": booking.reference, "ledger_entry_id": entry.id, "kind": entry.kind,
        "amount": {"amount": entry.amount, "currency": entry.currency},
        "timestamp": utcnow().isoformat(),
    }  # fmt: skip
    if not succeeded:
        before = snapshot(booking)
        booking.flags = sorted({*booking.flags, "refund_failed"})
        record(session, system, "refund.failed", entry, entity_type="refund")
        record(session, system, "booking.flagged", booking, before=before)
        outbox.emit(session, "refund.failed", payload)
        return
    record(session, system, "refund.processed", entry, entity_type="refund")
    outbox.emit(session, "refund.processed", payload)
    session.flush()
    close_if_refunded(session, system, booking)


def close_if_refunded(session: Session, actor: Actor, booking: Booking) -> None:
    """A cancelled booking whose refunds cover what came in, with none pending, is refunded
    (PRODUCT.md's guard); called when a refund settles and when a booking is cancelled."""
    totals = ledger_totals(session, booking.id)
    if (
        booking.status == Status.CANCELLED
        and can_transition(booking.status, Status.REFUNDED)
        and totals.paid_in > 0
        and refunds_cover_payments(totals)
        and not totals.refund_pending
    ):
        transition(session, actor, booking, Status.REFUNDED, note="refunds cover payments",
                   idempotency_key=f"refunded:{booking.id}")  # fmt: skip
