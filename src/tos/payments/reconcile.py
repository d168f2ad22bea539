"""Reconciliation: payments still waiting for their webhook long after they were created are
asked about at the provider (missed or lost webhooks), and settled as the webhook would have —
through the same `apply_event`, so a late webhook afterwards changes nothing."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from sqlalchemy import select

from tos.config import get_settings
from tos.core.clock import utcnow
from tos.db import tenancy
from tos.db.session import SessionFactory, get_session_factory
from tos.payments import accounts
from tos.payments.models import Payment
from tos.payments.providers.base import Event, EventKind, ProviderError
from tos.payments.webhooks import apply_event

log = logging.getLogger("tos.payments")
BATCH = 200


def reconcile_due(
    factory: SessionFactory | None = None, *, now: dt.datetime | None = None
) -> Counter:
    """Ask about every payment pending longer than TOS_RECONCILE_AFTER_MINUTES; one
    transaction per payment. Returns how many ended which way."""
    factory = factory or get_session_factory()
    cutoff = (now or utcnow()) - dt.timedelta(minutes=get_settings().reconcile_after_minutes)
    with factory(write=False) as session, tenancy.unscoped(session):
        due = session.execute(
            select(Payment.id, Payment.organization_id)
            .where(Payment.status == "requires_action", Payment.created_at <= cutoff,
                   Payment.provider_ref.is_not(None))
            .order_by(Payment.created_at).limit(BATCH)
        ).all()  # fmt: skip
    outcomes: Counter = Counter()
    for payment_id, org_id in due:
        try:
            outcomes[reconcile_payment(factory, payment_id, org_id)] += 1
        except ProviderError as exc:
            log.warning("reconciling payment %s: %s", payment_id, exc)
            outcomes["provider error"] += 1
    return outcomes


def reconcile_payment(factory: SessionFactory, payment_id: str, org_id: str) -> str:
    with factory(write=True, organization_id=org_id) as session:
        payment = session.scalar(select(Payment).where(Payment.id == payment_id))
        if payment is None or payment.status != "requires_action" or not payment.provider_ref:
            return "settled meanwhile"
        creds = accounts.credentials_for(session, payment.provider)
        if creds is None:
            return "not configured"
        state = accounts.adapter(payment.provider).retrieve(creds, payment.provider_ref)
        kind = {"succeeded": EventKind.PAYMENT_SUCCEEDED,
                "failed": EventKind.PAYMENT_FAILED}.get(state.status)  # fmt: skip
        if kind is None:
            if state.status == "cancelled":
                payment.status = "cancelled"
                session.commit()
                return "cancelled"
            return "still pending"
        event = Event(
            event_id=f"reconcile:{payment.id}", event_type="reconciliation", kind=kind,
            provider_ref=payment.provider_ref, payment_id=payment.id,
            amount=state.amount_captured or None, currency=payment.currency,
            charge_ref=state.charge_ref, failure_reason="reported by reconciliation",
        )  # fmt: skip
        outcome = apply_event(session, payment, event)
        session.commit()
        return outcome
