"""Taking money through a provider: a payment intent per attempt (seed 000 §5).

The amount defaults to the balance due. A first payment may be as small as the deposit rule's
amount (PRODUCT.md "Paying in parts"); nothing beyond the balance is taken. Creating an intent
moves a booking_created booking to payment_pending (never any other status); its hold keeps
running. The same idempotency key returns the same payment."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.audit.service import record
from tos.bookings.errors import BookingClosed
from tos.bookings.lifecycle import Status
from tos.bookings.models import Booking
from tos.bookings.transitions import transition
from tos.core.errors import Conflict, ValidationFailed
from tos.crm.models import Customer
from tos.db.ids import new_id
from tos.identity.actors import Actor
from tos.payments import accounts
from tos.payments.errors import AmountNotAllowed, PaymentsNotConfigured, ProviderUnavailable
from tos.payments.models import Payment
from tos.payments.providers.base import IntentRequest, ProviderError
from tos.payments.queries import ledger_totals

log = logging.getLogger("tos.payments")

# A booking takes payments while it is alive; a cancelled one takes none (a payment racing its
# expiry is refunded when it lands, see webhooks.py).
PAYABLE = frozenset({
    Status.BOOKING_CREATED, Status.PAYMENT_PENDING, Status.PAYMENT_CONFIRMED,
    Status.SUPPLIER_CONFIRMED, Status.DOCUMENTS_GENERATED, Status.COMPLETED,
})  # fmt: skip


def outstanding(session: Session, booking: Booking) -> tuple[int, int]:
    """(balance due, smallest payment allowed now) after what came in."""
    # Open intents do not reduce it: one may be abandoned, and the customer tries again.
    totals = ledger_totals(session, booking.id)
    balance = max(booking.total - totals.net, 0)
    minimum = max(booking.deposit_required - totals.net, 1) if totals.net == 0 else 1
    return balance, min(minimum, balance)


def create_intent(
    session: Session,
    actor: Actor,
    booking: Booking,
    *,
    provider: str,
    amount: int | None,
    idempotency_key: str | None,
) -> tuple[Payment, bool]:
    """`booking` must be row-locked. Returns (payment, created): an idempotency key used
    before returns its payment unchanged."""
    if idempotency_key is not None:
        earlier = session.scalar(select(Payment).where(Payment.idempotency_key == idempotency_key))
        if earlier is not None:
            if earlier.booking_id != booking.id or earlier.provider != provider:
                raise Conflict(
                    "this idempotency key was used for another payment",
                    details={"idempotency_key": idempotency_key},
                )
            return earlier, False
    if provider not in accounts.PROVIDERS:
        raise ValidationFailed(f"provider must be one of {list(accounts.PROVIDERS)}",
                               path=["provider"])  # fmt: skip
    if Status(booking.status) not in PAYABLE:
        raise BookingClosed(
            f"a {booking.status} booking takes no payments",
            details={"booking_id": booking.id, "status": booking.status},
        )
    balance, minimum = outstanding(session, booking)
    amount = balance if amount is None else amount
    if balance <= 0 or not minimum <= amount <= balance:
        raise AmountNotAllowed(
            f"between {minimum} and {balance} {booking.currency} can be paid now",
            details={"minimum": minimum, "balance_due": balance, "requested": amount,
                     "currency": booking.currency},
        )  # fmt: skip
    creds = accounts.credentials_for(session, provider)
    if creds is None:
        raise PaymentsNotConfigured(f"{provider} payments are not configured")
    payment = Payment(
        id=new_id(), organization_id=booking.organization_id, booking_id=booking.id,
        provider=provider, amount=amount, currency=booking.currency,
        idempotency_key=idempotency_key,
    )  # fmt: skip
    email = session.scalar(select(Customer.email).where(Customer.id == booking.customer_id))
    try:
        intent = accounts.adapter(provider).create_intent(
            creds,
            IntentRequest(payment_id=payment.id, booking_id=booking.id,
                          booking_reference=booking.reference, amount=amount,
                          currency=booking.currency, customer_email=email,
                          description=f"Booking {booking.reference}"),
        )  # fmt: skip
    except ProviderError as exc:
        raise ProviderUnavailable(f"{provider} refused the payment intent") from exc
    payment.provider_ref = intent.provider_ref
    payment.status = intent.status
    payment.client_payload = intent.client_payload
    session.add(payment)
    record(session, actor, "payment.intent_created", payment, entity_type="payment")
    if booking.status == Status.BOOKING_CREATED:
        transition(session, actor, booking, Status.PAYMENT_PENDING,
                   note=f"{provider} payment {payment.id}",
                   idempotency_key=f"intent:{payment.id}")  # fmt: skip
    return payment, True


def cancel_open_intents(session: Session, booking_id: str) -> None:
    """Before a hold expires: ask each provider to cancel the booking's open intents, so the
    customer can no longer pay. Best effort — a payment that still lands is refunded."""
    open_payments = session.scalars(
        select(Payment).where(Payment.booking_id == booking_id,
                              Payment.status == "requires_action")
    ).all()  # fmt: skip
    for payment in open_payments:
        creds = accounts.credentials_for(session, payment.provider)
        if creds is None or payment.provider_ref is None:
            continue
        try:
            accounts.adapter(payment.provider).cancel(creds, payment.provider_ref)
        except ProviderError:
            log.warning("could not cancel %s payment %s", payment.provider, payment.id)
            continue
        payment.status = "cancelled"
