"""Razorpay adapter: Orders, Payments, Refunds and webhooks (https://razorpay.com/docs/api/),
through the official SDK.

Every call builds its own `razorpay.Client(auth=(key_id, key_secret))`, pointed at
`creds.api_base` when set (the SDK's `base_url` option), so several accounts can be served at
once. The SDK reports every error as BadRequestError / GatewayError / ServerError whatever the
HTTP status, so each call's session records the status it got and that decides retryability:
network trouble, 409, 429 and 5xx are retryable; other 4xx are not.

Idempotency: Razorpay has no idempotency key for orders, so `create_intent` first lists the
orders with the booking's receipt and reuses the one whose notes carry this payment id (two
concurrent first calls can still make two orders; only one gets paid). Refunds send the refund
entry's id as `X-Refund-Idempotency` (Razorpay's idempotent refund request: the same key and
body give back the same refund), and also as the refund's `receipt` and `notes.refund_id`,
which the refund webhooks echo.

Webhooks: `X-Razorpay-Signature` is hex HMAC-SHA256(webhook secret, raw body); the event id is
not in the body but in the `X-Razorpay-Event-Id` header, which `parse_event` takes from its
`headers` keyword (falling back to "<event>:<entity id>", stable across redeliveries)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import razorpay
import requests
from razorpay.errors import BadRequestError, GatewayError, ServerError

from tos.payments.providers.base import (
    Credentials,
    Event,
    EventKind,
    Intent,
    IntentRequest,
    PaymentState,
    ProviderError,
    RefundRequest,
    RefundResult,
    SignatureInvalid,
)

T = TypeVar("T")
CAPTURED = ("captured", "refunded")  # a fully refunded payment was captured all the same
REFUND_STATUS = {"processed": "succeeded", "failed": "failed"}  # else pending
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{10,}$")  # Razorpay's rule for the header


class RazorpayProvider:
    name = "razorpay"

    def __init__(self, *, timeout: float = 30.0) -> None:
        self.timeout = timeout  # the SDK sets none: a stuck connection would hang forever

    def _call(self, creds: Credentials, action: str, fn: Callable[[razorpay.Client], T]) -> T:
        if not creds.key_id or not creds.secret_key:
            raise ProviderError("razorpay: no key id / key secret configured", retryable=False)
        statuses: list[int] = []
        session = requests.Session()
        session.hooks["response"].append(lambda r, *a, **kw: statuses.append(r.status_code))
        options = {"base_url": creds.api_base.rstrip("/")} if creds.api_base else {}
        client = razorpay.Client(session=session, auth=(creds.key_id, creds.secret_key), **options)
        try:
            return fn(client)
        except (BadRequestError, GatewayError, ServerError) as exc:
            status = statuses[-1] if statuses else None
            raise _translate(action, exc, status, creds) from None
        except requests.RequestException as exc:
            if not statuses:  # refused, reset, timed out: never got an answer
                raise ProviderError(
                    f"razorpay {action}: could not reach the API", retryable=True
                ) from None
            raise _translate(action, exc, statuses[-1], creds) from None  # e.g. a non-JSON 502
        finally:
            session.close()

    def create_intent(self, creds: Credentials, req: IntentRequest) -> Intent:
        receipt = req.booking_reference[:40]  # Razorpay's limit
        currency = req.currency.upper()

        def run(client: razorpay.Client) -> dict[str, Any]:
            listed = client.order.all({"receipt": receipt, "count": 100}, timeout=self.timeout)
            for order in listed.get("items", []):
                if _notes(order).get("payment_id") == req.payment_id:
                    if order.get("amount") != req.amount or order.get("currency") != currency:
                        raise ProviderError(
                            "razorpay create_intent: an order for this payment "
                            "exists with another amount",
                            retryable=False,
                        )
                    return order
            data = {
                "amount": req.amount,
                "currency": currency,
                "receipt": receipt,
                "notes": {"payment_id": req.payment_id, "booking_id": req.booking_id},
            }
            return client.order.create(data, timeout=self.timeout)

        order = self._call(creds, "create_intent", run)
        return Intent(
            provider_ref=order["id"],
            status="succeeded" if order.get("status") == "paid" else "requires_action",
            client_payload={
                "provider": "razorpay",
                "orderId": order["id"],
                "keyId": creds.key_id,
                "amount": order["amount"],
                "currency": order["currency"],
            },
        )

    def retrieve(self, creds: Credentials, provider_ref: str) -> PaymentState:
        payments = self._call(creds, "retrieve", lambda c: self._payments(c, provider_ref))
        captured = [p for p in payments if p.get("status") in CAPTURED]
        if captured:
            latest = max(captured, key=lambda p: p.get("created_at") or 0)
            return PaymentState("succeeded", sum(p["amount"] for p in captured), latest["id"])
        if payments and all(p.get("status") == "failed" for p in payments):
            return PaymentState("failed")
        return PaymentState("requires_action")  # no attempt yet, or created / authorized

    def cancel(self, creds: Credentials, provider_ref: str) -> None:
        """Razorpay orders cannot be cancelled; an unpaid one simply expires unused."""

    def refund(self, creds: Credentials, req: RefundRequest) -> RefundResult:
        notes = {"refund_id": req.refund_id}
        if req.reason:
            notes["reason"] = req.reason[:256]  # Razorpay's limit per note
        data = {
            "amount": req.amount,
            "speed": "normal",
            "receipt": req.refund_id[:40],
            "notes": notes,
        }
        headers = {"X-Refund-Idempotency": _idempotency_key(req.refund_id)}

        def run(client: razorpay.Client) -> dict[str, Any]:
            payment_ref = req.charge_ref or self._captured_payment(client, req.provider_ref)
            return client.payment.refund(payment_ref, data, headers=headers, timeout=self.timeout)

        refund = self._call(creds, "refund", run)
        return RefundResult(refund["id"], REFUND_STATUS.get(refund.get("status", ""), "pending"))

    def verify_webhook(self, creds: Credentials, body: bytes, headers: Mapping[str, str]) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        given = lowered.get("x-razorpay-signature", "")
        if not creds.webhook_secret:  # an empty key is one anyone can sign with
            raise SignatureInvalid("no razorpay webhook secret configured")
        if not given:
            raise SignatureInvalid("missing X-Razorpay-Signature header")
        expected = hmac.new(creds.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            raise SignatureInvalid("razorpay signature does not match")

    def parse_event(self, body: bytes, *, headers: Mapping[str, str] | None = None) -> Event:
        """ValueError for a body that is not a Razorpay event."""
        try:
            doc = json.loads(body)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"malformed razorpay event: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError("malformed razorpay event: not an object")
        name, payload = doc.get("event"), doc.get("payload")
        if not isinstance(name, str) or not isinstance(payload, dict):
            raise ValueError("not a razorpay event: no event or payload")
        payment, order = _entity(payload, "payment"), _entity(payload, "order")
        refund, dispute = _entity(payload, "refund"), _entity(payload, "dispute")
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        event_id = lowered.get("x-razorpay-event-id") or _fallback_id(name, payload, body)
        base = Event(
            event_id=event_id,
            event_type=name,
            kind=EventKind.IGNORED,
            provider_ref=payment.get("order_id") or order.get("id"),
            payment_id=_notes(payment).get("payment_id") or _notes(order).get("payment_id"),
            charge_ref=payment.get("id"),
            currency=_upper(payment.get("currency") or order.get("currency")),
        )
        if name in ("payment.captured", "order.paid"):
            amount = payment.get("amount") if payment else order.get("amount_paid")
            return replace(base, kind=EventKind.PAYMENT_SUCCEEDED, amount=amount)
        if name == "payment.failed":
            reason = payment.get("error_description") or payment.get("error_reason")
            return replace(
                base,
                kind=EventKind.PAYMENT_FAILED,
                amount=payment.get("amount"),
                failure_reason=reason or "payment failed",
            )
        if name in ("refund.processed", "refund.failed"):
            failed = name == "refund.failed"
            return replace(
                base,
                kind=EventKind.REFUND_FAILED if failed else EventKind.REFUND_SUCCEEDED,
                refund_ref=refund.get("id"),
                refund_id=_notes(refund).get("refund_id"),
                charge_ref=refund.get("payment_id") or base.charge_ref,
                amount=refund.get("amount"),
                currency=_upper(refund.get("currency")) or base.currency,
                failure_reason="refund failed" if failed else None,
            )
        if name == "payment.dispute.created":
            return replace(
                base,
                kind=EventKind.DISPUTE_CREATED,
                charge_ref=base.charge_ref or dispute.get("payment_id"),
                amount=dispute.get("amount"),
                currency=_upper(dispute.get("currency")) or base.currency,
                failure_reason=dispute.get("reason_code"),
            )
        return base

    def _payments(self, client: razorpay.Client, order_id: str) -> list[dict[str, Any]]:
        found = client.order.payments(order_id, timeout=self.timeout)
        return list(found.get("items", []))

    def _captured_payment(self, client: razorpay.Client, order_id: str) -> str:
        captured = [p for p in self._payments(client, order_id) if p.get("status") in CAPTURED]
        if not captured:
            raise ProviderError(
                "razorpay refund: the order has no captured payment", retryable=False
            )
        return str(max(captured, key=lambda p: p.get("created_at") or 0)["id"])


def _translate(
    action: str, exc: Exception, status: int | None, creds: Credentials
) -> ProviderError:
    if status in (401, 403):
        return ProviderError(
            f"razorpay {action}: the API key was refused (HTTP {status})", retryable=False
        )
    if status is None:  # no status recorded: go by the SDK's classification
        retryable = not isinstance(exc, BadRequestError)
    else:
        retryable = status in (409, 429) or status >= 500
    detail = str(exc) if isinstance(exc, BadRequestError | GatewayError | ServerError) else ""
    for secret in (creds.secret_key, creds.webhook_secret):
        if secret:
            detail = detail.replace(secret, "[redacted]")
    return ProviderError(
        f"razorpay {action}: {type(exc).__name__} (HTTP {status}): {detail[:300]}",
        retryable=retryable,
    )


def _idempotency_key(refund_id: str) -> str:
    """The refund id itself when Razorpay accepts it (UUIDs do), else a digest of it."""
    if IDEMPOTENCY_KEY.match(refund_id) and len(refund_id) <= 64:
        return refund_id
    return "tos-" + hashlib.sha256(refund_id.encode()).hexdigest()[:40]


def _fallback_id(name: str, payload: dict[str, Any], body: bytes) -> str:
    """Without the header (a stored event parsed again): the event name and the entity it is
    about, which a redelivery repeats."""
    family = name.split(".")[0]
    order = ["dispute"] if name.startswith("payment.dispute") else []
    order += [family, "refund", "payment", "order"]
    for key in order:
        ident = _entity(payload, key).get("id")
        if isinstance(ident, str) and ident:
            return f"{name}:{ident}"
    return f"{name}:{hashlib.sha256(body).hexdigest()[:32]}"


def _entity(payload: dict[str, Any], key: str) -> dict[str, Any]:
    wrapper = payload.get(key)
    entity = wrapper.get("entity") if isinstance(wrapper, dict) else None
    return entity if isinstance(entity, dict) else {}


def _notes(entity: dict[str, Any]) -> dict[str, Any]:
    notes = entity.get("notes")
    return notes if isinstance(notes, dict) else {}  # Razorpay sends [] for no notes


def _upper(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) else None


provider = RazorpayProvider()
