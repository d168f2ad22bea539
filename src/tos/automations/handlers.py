"""Seed 000 §7's automations: what follows a lifecycle change, as outbox handlers (each runs in
its own transaction, is retried on failure, and is idempotent, so a crash anywhere leaves
exactly one invoice, one confirmation and one of everything else).

- booking.confirmed → the invoice (when TOS took money); the operator's own departures confirm
  at once (supplier_confirmed), then voucher and itinerary (documents_generated), then the
  confirmation message with the three PDFs.
- payment.received → a payment receipt; refund.processed → a credit note and a refund notice;
  booking.cancelled → a cancellation notice (unless a departure cancellation said not to
  notify); booking.modified → a modification notice.
Channel rules (PRODUCT.md): a `sync` booking's source site keeps its customer — no TOS
documents or messages, but the lifecycle still moves on; reseller bookings get documents, no
invoice unless TOS took the money."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.bookings.lifecycle import Status, can_transition
from tos.bookings.models import Booking
from tos.bookings.transitions import transition
from tos.identity.actors import Actor
from tos.outbox.models import OutboxMessage
from tos.payments.ledger import MONEY_IN, EntryStatus
from tos.payments.models import LedgerEntry


def _owns_customer(session: Session, booking: Booking) -> bool:
    """PRODUCT.md channel rules: a source website messages its own customers (and issues their
    documents) unless it lets TOS do so (`websites.messages_customers`)."""
    if booking.source != "sync" or booking.website_id is None:
        return True
    from tos.channels.models import Website

    return bool(
        session.scalar(select(Website.messages_customers).where(Website.id == booking.website_id))
    )


def _booking(session: Session, booking_id: str) -> Booking | None:
    return session.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())


def _took_money(session: Session, booking_id: str) -> bool:
    """Whether TOS itself holds money of this booking (captured or recorded by staff)."""
    kinds = [k.value for k in MONEY_IN if k.value in ("captured", "manual")]
    return session.scalar(
        select(LedgerEntry.id).where(
            LedgerEntry.booking_id == booking_id, LedgerEntry.kind.in_(kinds),
            LedgerEntry.status == EntryStatus.SUCCEEDED.value,
        ).limit(1)
    ) is not None  # fmt: skip


def _step(session: Session, booking: Booking, target: Status, key: str, note: str) -> None:
    if booking.status != target.value and can_transition(booking.status, target):
        transition(session, Actor.system(booking.organization_id), booking, target, note=note,
                   idempotency_key=f"{key}:{booking.id}")  # fmt: skip


def after_payment_confirmed(session: Session, message: OutboxMessage) -> None:
    from tos.documents import service as documents
    from tos.messaging import service as messaging

    booking = _booking(session, message.payload["booking_id"])
    if booking is None or booking.status not in (
        Status.PAYMENT_CONFIRMED, Status.SUPPLIER_CONFIRMED, Status.DOCUMENTS_GENERATED,
    ):  # fmt: skip
        return  # cancelled meanwhile: nothing to confirm
    ours = _owns_customer(session, booking)
    attachments: list[str] = []
    if ours and _took_money(session, booking.id):
        attachments.append(documents.issue_invoice(session, booking.id).id)
    if booking.schedule_id is not None:
        # TOS's own inventory: the operator is the supplier, so it is confirmed already.
        _step(session, booking, Status.SUPPLIER_CONFIRMED, "auto-supplier",
              "the operator's own departure")  # fmt: skip
    if booking.status == Status.SUPPLIER_CONFIRMED:
        if ours:
            attachments.append(documents.issue_voucher(session, booking.id).id)
            attachments.append(documents.issue_itinerary(session, booking.id).id)
        note = "voucher and itinerary issued" if ours else "the source website's documents"
        _step(session, booking, Status.DOCUMENTS_GENERATED, "auto-documents", note)
    if ours:
        key = f"confirmation:{booking.id}"
        messaging.queue(session, booking.id, "confirmation", dedupe_key=key,
                        attachments=attachments)  # fmt: skip


def payment_receipt(session: Session, message: OutboxMessage) -> None:
    from tos.messaging import service as messaging

    payload = message.payload
    booking = session.scalar(select(Booking).where(Booking.id == payload["booking_id"]))
    if booking is None or not _owns_customer(session, booking):
        return
    key = payload.get("ledger_entry_id") or payload.get("payment_id") or message.id
    messaging.queue(session, booking.id, "payment_receipt", dedupe_key=f"receipt:{key}",
                    extra={"amount": payload.get("amount")}, channels=("email",))  # fmt: skip


def after_refund(session: Session, message: OutboxMessage) -> None:
    from tos.documents import service as documents
    from tos.messaging import service as messaging

    payload = message.payload
    booking = session.scalar(select(Booking).where(Booking.id == payload["booking_id"]))
    if booking is None or not _owns_customer(session, booking):
        return
    entry_id = payload["ledger_entry_id"]
    attachments = []
    note = documents.issue_credit_note(session, entry_id)
    if note is not None:
        attachments.append(note.id)
    messaging.queue(session, booking.id, "refund", dedupe_key=f"refund:{entry_id}",
                    attachments=attachments, extra={"amount": payload.get("amount")},
                    channels=("email",))  # fmt: skip


def cancellation_notice(session: Session, message: OutboxMessage) -> None:
    from tos.messaging import service as messaging

    payload = message.payload
    meta: dict[str, Any] = payload.get("metadata") or {}
    if meta.get("notify_customers") is False:
        return  # a departure cancelled with notify_customers=false
    booking = session.scalar(select(Booking).where(Booking.id == payload["booking_id"]))
    if booking is None or not _owns_customer(session, booking):
        return
    reason = meta.get("reason") or payload.get("note")
    extra = {"reason": reason, "departure_cancelled": bool(meta.get("schedule_cancelled"))}
    messaging.queue(session, booking.id, "cancellation",
                    dedupe_key=f"cancellation:{booking.id}", extra=extra)  # fmt: skip


def modification_notice(session: Session, message: OutboxMessage) -> None:
    """A moved booking's voucher and itinerary are issued again (new versions: the old ones name
    the old departure) and sent with the notice. Runs once: the new versions and the message
    commit with the outbox row."""
    from tos.documents import service as documents
    from tos.messaging import service as messaging

    payload = message.payload
    booking = session.scalar(select(Booking).where(Booking.id == payload["booking_id"]))
    if booking is None or not _owns_customer(session, booking):
        return
    issued = {d.type for d in documents.documents_of(session, booking.id)}
    system = Actor.system(booking.organization_id)
    attachments = [
        documents.regenerate(session, system, booking.id, kind).id
        for kind in ("voucher", "itinerary")
        if kind in issued
    ]
    messaging.queue(session, booking.id, "modification",
                    dedupe_key=f"modification:{booking.id}:{payload.get('timestamp')}",
                    attachments=attachments,
                    extra={"difference": payload.get("difference"),
                           "currency": payload.get("currency")},
                    channels=("email",))  # fmt: skip
