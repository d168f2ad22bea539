"""The sandbox provider's webhook sender: the outbox handler "payments.sandbox_send".

The hosted checkout page (sandbox_api) queues one message per click; this sends its event to
TOS's webhook endpoint signed with the sandbox's secret, exactly as a real provider would, so
the payment is confirmed asynchronously through the same path as Stripe's or Razorpay's. A
non-2xx answer or a network error raises: the outbox retries with backoff, always with the same
event id (TOS stores each event once, so a retry that did land is answered as a duplicate) and
a fresh timestamp (a signature is only good for TOLERANCE_S)."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.config import get_settings
from tos.outbox.models import OutboxMessage
from tos.payments.accounts import sandbox_secret
from tos.payments.models import SandboxCharge
from tos.payments.providers import sandbox

log = logging.getLogger("tos.payments")

TIMEOUT_S = 10.0
DECLINED = "card_declined: declined on the sandbox checkout page"


class DeliveryFailed(Exception):
    """TOS did not acknowledge the webhook; the outbox tries again later."""


def webhook_url() -> str:
    return f"{get_settings().public_url.rstrip('/')}/api/payments/webhook?provider=sandbox"


def build_event(charge: SandboxCharge, event_type: str, event_id: str) -> dict[str, Any]:
    """The event as the sandbox documents it (providers/sandbox.py)."""
    data: dict[str, Any] = {"payment_id": charge.payment_id, "charge_id": charge.id,
                            "amount": charge.amount, "currency": charge.currency}  # fmt: skip
    if event_type == "payment.failed":
        data["failure_reason"] = DECLINED
    return {"id": event_id, "type": event_type, "data": data}


def signed_request(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers: the signature covers these exact bytes."""
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = {**sandbox.sign(sandbox_secret(), body), "Content-Type": "application/json"}
    return body, headers


def send(session: Session, message: OutboxMessage) -> None:
    payload = message.payload
    with sandbox.records(write=False) as records:
        charge = records.scalar(
            select(SandboxCharge).where(SandboxCharge.payment_id == payload["payment_id"])
        )
        event = None if charge is None else build_event(charge, payload["event"],
                                                         payload["event_id"])  # fmt: skip
    if event is None:  # cannot happen short of a deleted charge; retrying would not help
        log.error("sandbox send %s: no charge for payment %s", message.id, payload["payment_id"])
        return
    if session.get_bind().dialect.name == "sqlite":
        # The outbox runs this inside a write transaction, which on SQLite holds the database's
        # one write lock; TOS's webhook endpoint, which we are about to call, needs that lock.
        # Nothing is written here, so end the transaction first (the outbox marks the message
        # done in a new one). A second run of the message meanwhile would send the same event
        # id, which TOS answers as a duplicate.
        session.commit()
    body, headers = signed_request(event)
    try:
        response = httpx.post(webhook_url(), content=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"sandbox webhook {event['id']}: {type(exc).__name__}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(
            f"sandbox webhook {event['id']}: HTTP {response.status_code} {response.text[:200]}"
        )
