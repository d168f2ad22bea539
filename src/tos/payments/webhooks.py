"""Provider webhooks (seed 000 §6): verified on the raw body, stored once, acted on once.

`receive` answers the provider: it checks the signature with the account's secret (the
organization's with ?org=<slug>, else the install-wide one), stores the event unique by
(provider, event id) and, for a new event, puts its processing in the outbox in the same
transaction. A replay finds the stored event and changes nothing. `process` (an outbox handler)
then settles the payment or refund on the ledger and moves the booking through the lifecycle
engine; it is idempotent too (the payment's status and the lifecycle key `payment:<id>`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.bookings.lifecycle import Status
from tos.bookings.models import Booking
from tos.bookings.transitions import transition
from tos.core.clock import utcnow
from tos.core.errors import AppError, NotFound
from tos.db import tenancy
from tos.db.ids import new_id
from tos.db.upsert import insert_if_absent
from tos.identity.actors import Actor
from tos.identity.models import Organization
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage
from tos.payments import accounts, refunds
from tos.payments.errors import PaymentsNotConfigured
from tos.payments.ledger import EntryStatus, Kind, covers
from tos.payments.models import LedgerEntry, Payment, WebhookEvent
from tos.payments.providers.base import Event, EventKind, SignatureInvalid
from tos.payments.queries import ledger_totals

log = logging.getLogger("tos.payments")


class BadSignature(AppError):
    status_code = 400
    code = "INVALID_SIGNATURE"
    message = "The webhook signature is not valid"


class BadEvent(AppError):
    status_code = 400
    code = "INVALID_EVENT"
    message = "The webhook body is not an event of this provider"


@dataclass(frozen=True, slots=True)
class Receipt:
    event_id: str
    duplicate: bool
    outcome: str


def receive(
    session: Session, provider: str, org_slug: str | None, body: bytes, headers: Mapping[str, str]
) -> Receipt:
    """`session` is unscoped here: the organization comes from ?org= or from the payment."""
    if provider not in accounts.PROVIDERS:
        raise NotFound("payment provider", provider)
    org_id = None
    if org_slug is not None:
        org_id = session.scalar(select(Organization.id).where(Organization.slug == org_slug))
        if org_id is None:
            raise NotFound("organization", org_slug)
        tenancy.set_scope(session, org_id)
        creds = accounts.credentials_for(session, provider)
    else:
        creds = accounts.install_credentials(provider)
    if creds is None or not creds.webhook_secret:
        raise PaymentsNotConfigured(f"{provider} webhooks are not configured for this account")
    lowered = {k.lower(): v for k, v in headers.items()}
    adapter = accounts.adapter(provider)
    try:
        adapter.verify_webhook(creds, body, lowered)
    except SignatureInvalid:
        raise BadSignature() from None
    try:
        event = adapter.parse_event(body, headers=lowered)  # type: ignore[call-arg]
    except (ValueError, KeyError, TypeError):
        raise BadEvent() from None
    payment = _payment_of(session, provider, event, org_id)
    row_id = new_id()
    values = {
        "id": row_id, "provider": provider, "event_id": event.event_id,
        "event_type": event.event_type, "account": org_slug or "*",
        "organization_id": payment.organization_id if payment else None,
        "payload": orjson.loads(body), "received_at": utcnow(),
        "processed_at": None, "outcome": None,
    }  # fmt: skip
    with tenancy.unscoped(session):
        fresh = insert_if_absent(
            session, WebhookEvent, values, conflict=["provider", "account", "event_id"]
        )
    if not fresh:
        return Receipt(event.event_id, duplicate=True, outcome="duplicate")
    if payment is None or event.kind is EventKind.IGNORED:
        outcome = "ignored" if event.kind is EventKind.IGNORED else "unknown payment"
        _mark(session, row_id, outcome)
        return Receipt(event.event_id, duplicate=False, outcome=outcome)
    tenancy.set_scope(session, payment.organization_id)
    outbox.enqueue(session, "payments.process_webhook", {"webhook_event_id": row_id})
    return Receipt(event.event_id, duplicate=False, outcome="accepted")


def _payment_of(
    session: Session, provider: str, event: Event, org_id: str | None
) -> Payment | None:
    """The payment an event is about, found by TOS's id (metadata) or the provider's ref; with
    an organization's own account, only that organization's payments."""
    keys = []
    if event.payment_id:
        keys.append(Payment.id == event.payment_id)
    if event.provider_ref:
        keys.append(Payment.provider_ref == event.provider_ref)
    if not keys:
        return None
    stmt = select(Payment).where(Payment.provider == provider, or_(*keys))
    if org_id is not None:
        stmt = stmt.where(Payment.organization_id == org_id)
    with tenancy.unscoped(session):
        return session.scalar(stmt.limit(1))


def _mark(session: Session, row_id: str, outcome: str) -> None:
    with tenancy.unscoped(session):
        row = session.scalar(select(WebhookEvent).where(WebhookEvent.id == row_id))
        assert row is not None
        row.processed_at, row.outcome = utcnow(), outcome[:200]


# --- processing (outbox handler) -----------------------------------------------------------


def process_webhook(session: Session, message: OutboxMessage) -> None:
    row_id = message.payload["webhook_event_id"]
    with tenancy.unscoped(session):
        row = session.scalar(select(WebhookEvent).where(WebhookEvent.id == row_id))
    if row is None or row.processed_at is not None:
        return
    body = orjson.dumps(row.payload)
    event = accounts.adapter(row.provider).parse_event(body, headers={})  # type: ignore[call-arg]
    event = _with_stored_id(event, row.event_id)
    payment = _payment_of(session, row.provider, event, row.organization_id)
    outcome = "unknown payment" if payment is None else apply_event(session, payment, event)
    _mark(session, row.id, outcome)


def _with_stored_id(event: Event, event_id: str) -> Event:
    return replace(event, event_id=event_id)


def apply_event(session: Session, payment: Payment, event: Event) -> str:
    system = Actor.system(payment.organization_id)
    booking = session.scalar(
        select(Booking).where(Booking.id == payment.booking_id).with_for_update()
    )
    assert booking is not None
    payment = session.scalar(select(Payment).where(Payment.id == payment.id).with_for_update())
    assert payment is not None
    if event.kind is EventKind.PAYMENT_SUCCEEDED:
        return _succeeded(session, system, booking, payment, event)
    if event.kind is EventKind.PAYMENT_FAILED:
        if payment.status == "requires_action":
            payment.status = "failed"
            payment.failure_reason = (event.failure_reason or "")[:500] or None
            outbox.emit(session, "payment.failed", _payload(booking, payment))
            record(session, system, "payment.failed", payment, entity_type="payment")
        return "payment failed"
    if event.kind in (EventKind.REFUND_SUCCEEDED, EventKind.REFUND_FAILED):
        ok = event.kind is EventKind.REFUND_SUCCEEDED
        return refunds.settle_from_event(session, system, booking, payment, event, succeeded=ok)
    if event.kind is EventKind.DISPUTE_CREATED:
        if "disputed" not in booking.flags:
            before = snapshot(booking)
            booking.flags = [*booking.flags, "disputed"]
            record(session, system, "booking.disputed", booking, before=before)
        return "disputed"
    return "ignored"


def _succeeded(
    session: Session, system: Actor, booking: Booking, payment: Payment, event: Event
) -> str:
    if payment.status == "succeeded":
        return "already captured"
    amount = event.amount or payment.amount
    payment.status, payment.succeeded_at = "succeeded", utcnow()
    entry = LedgerEntry(
        id=new_id(), organization_id=booking.organization_id, booking_id=booking.id,
        kind=Kind.CAPTURED.value, status=EntryStatus.SUCCEEDED.value, amount=amount,
        currency=(event.currency or payment.currency).upper(), method="card",
        provider=payment.provider, provider_ref=event.charge_ref or payment.provider_ref,
        payment_id=payment.id, actor_type=system.type, actor_id=None, settled_at=utcnow(),
    )  # fmt: skip
    session.add(entry)
    outbox.emit(session, "payment.received", _payload(booking, payment, amount=amount))
    record(session, system, "payment.received", entry, entity_type="payment")
    session.flush()
    status = Status(booking.status)
    if status in (Status.CANCELLED, Status.REFUNDED):
        # Paid after the hold expired (or the booking was cancelled or refunded meanwhile, e.g.
        # an intent opened before the cancel): the seats are gone, so the money goes back, and
        # staff see it flagged.
        before = snapshot(booking)
        booking.flags = sorted({*booking.flags, "paid_after_cancellation"})
        record(session, system, "booking.flagged", booking, before=before)
        refunds.request_refund(session, system, booking, amount=amount,
                               reason="paid after the booking was cancelled")  # fmt: skip
        return "refunded: booking cancelled"
    if status in (Status.BOOKING_CREATED, Status.PAYMENT_PENDING) and covers(
        ledger_totals(session, booking.id), booking.deposit_required
    ):
        if status is Status.BOOKING_CREATED:
            transition(session, system, booking, Status.PAYMENT_PENDING,
                       idempotency_key=f"intent:{payment.id}")  # fmt: skip
        transition(session, system, booking, Status.PAYMENT_CONFIRMED,
                   note=f"{payment.provider} payment {payment.id}",
                   idempotency_key=f"payment:{payment.id}")  # fmt: skip
        if booking.expires_at is not None:
            booking.expires_at = None  # paid: the hold has done its job
        return "captured: payment confirmed"
    return "captured"


def _payload(booking: Booking, payment: Payment, *, amount: int | None = None) -> dict[str, Any]:
    return {
        "organization_id": booking.organization_id, "booking_id": booking.id,
        "reference": booking.reference, "payment_id": payment.id, "provider": payment.provider,
        "amount": {"amount": amount or payment.amount, "currency": payment.currency},
        "timestamp": utcnow().isoformat(),
    }  # fmt: skip
