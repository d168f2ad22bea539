"""Payments in tests: signed sandbox webhooks and draining the outbox of one organization."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from tos.db import tenancy
from tos.db.session import SessionFactory
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage
from tos.payments.accounts import sandbox_secret
from tos.payments.models import SandboxCharge
from tos.payments.providers import sandbox
from tos.payments.providers.sandbox import sign

# What follows a payment (documents, messages): tests of payments leave it queued; tests of
# the automations run it (drain(..., skip=("messaging.deliver",)) or skip=()).
AUTOMATIONS = (
    "automations.after_payment_confirmed", "automations.payment_receipt",
    "automations.after_refund", "automations.cancellation_notice",
    "automations.modification_notice", "messaging.deliver",
)  # fmt: skip


def drain(
    db: SessionFactory, org_id: str, *, rounds: int = 10, skip: tuple[str, ...] = AUTOMATIONS
) -> int:
    """Run the organization's due outbox rows (and those they add) until none is left."""
    ran = 0
    for _ in range(rounds):
        with db(write=False) as session, tenancy.unscoped(session):
            ids = session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.organization_id == org_id,
                    OutboxMessage.status == "pending",
                    OutboxMessage.handler.not_in(skip),
                )
            ).all()
        if not ids:
            return ran
        for message_id in ids:
            if outbox.run_message(db, message_id) == "done":
                ran += 1
    return ran


def sandbox_event(payment: dict, kind: str = "payment.succeeded", **data) -> dict:
    """The event the sandbox sends; a payment.succeeded one marks its charge paid first, as the
    hosted page's Pay button does."""
    if kind in ("payment.succeeded", "payment.failed"):
        with sandbox.records() as session:
            charge = session.scalar(
                select(SandboxCharge).where(SandboxCharge.id == payment["provider_ref"])
            )
            if charge is not None and charge.status == "requires_action":
                charge.status = "succeeded" if kind == "payment.succeeded" else "failed"
                session.commit()
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": kind,
        "data": {"payment_id": payment["id"], "charge_id": payment["provider_ref"],
                 "amount": payment["amount"], "currency": payment["currency"], **data},
    }  # fmt: skip


def post_sandbox_webhook(client, event: dict, *, secret: str | None = None, org: str | None = None,
                         timestamp: int | None = None):  # fmt: skip
    body = json.dumps(event).encode()
    headers = sign(secret or sandbox_secret(), body, timestamp)
    url = "/api/payments/webhook?provider=sandbox" + (f"&org={org}" if org else "")
    return client.post(url, content=body, headers={**headers, "Content-Type": "application/json"})
