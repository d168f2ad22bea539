"""Stripe adapter: PaymentIntents, Refunds and webhooks (https://docs.stripe.com/api), through
the official SDK.

Every call builds its own `StripeClient` from the account's credentials (no global
`stripe.api_key`), so several accounts can be served at once; only the HTTP client, which
holds no credentials, is shared for its connection pool. Idempotency: TOS's payment id keys
the intent creation and the refund entry's id keys the refund (Stripe keeps keys for 24 hours;
the same key with other parameters is refused as an idempotency_error).

Webhooks follow Stripe's scheme: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
"<t>." + raw body)>`, any of several v1 signatures may match, the timestamp must be at most 300 s
old. Errors come out as ProviderError, retryable for network trouble, 409, 429 and 5xx; their
messages never carry a key."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import stripe

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

TOLERANCE_S = 300
REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}  # Stripe's own enum
REFUND_EVENTS = {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
_KEYISH = re.compile(r"\b(?:sk|rk|pk|whsec)_[A-Za-z0-9_*]+")


class StripeProvider:
    name = "stripe"

    def __init__(self, *, max_network_retries: int = 2, timeout: float = 30.0) -> None:
        # The SDK retries connection errors, 409 and 5xx itself, with the same idempotency key.
        self.max_network_retries = max_network_retries
        self._http = stripe.RequestsClient(timeout=timeout)

    def _client(self, creds: Credentials) -> stripe.StripeClient:
        if not creds.secret_key:
            raise ProviderError("stripe: no secret key configured", retryable=False)
        bases: Any = {"api": creds.api_base.rstrip("/")} if creds.api_base else None
        return stripe.StripeClient(
            creds.secret_key,
            base_addresses=bases,
            max_network_retries=self.max_network_retries,
            http_client=self._http,
        )

    def create_intent(self, creds: Credentials, req: IntentRequest) -> Intent:
        params: dict[str, Any] = {
            "amount": req.amount,
            "currency": req.currency.lower(),
            "metadata": {
                "payment_id": req.payment_id,
                "booking_id": req.booking_id,
                "booking_reference": req.booking_reference,
            },
            "automatic_payment_methods": {"enabled": True},
        }
        if req.description:
            params["description"] = req.description
        if req.customer_email:
            params["receipt_email"] = req.customer_email
        client = self._client(creds)
        with _errors("create_intent", creds):
            pi = client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": req.payment_id},
            )
        return Intent(
            provider_ref=pi.id,
            status="succeeded" if pi.status == "succeeded" else "requires_action",
            client_payload={
                "provider": "stripe",
                "clientSecret": pi.client_secret,
                "paymentIntentId": pi.id,
                "publishableKey": creds.key_id,
            },
        )

    def retrieve(self, creds: Credentials, provider_ref: str) -> PaymentState:
        client = self._client(creds)
        with _errors("retrieve", creds):
            pi = client.v1.payment_intents.retrieve(provider_ref)
        return PaymentState(
            status=_intent_status(pi.status, pi.last_payment_error is not None),
            amount_captured=pi.amount_received or 0,
            charge_ref=_ref(pi.latest_charge),
        )

    def cancel(self, creds: Credentials, provider_ref: str) -> None:
        """Cancelling a cancelled intent is a no-op; a succeeded one cannot be cancelled (it
        needs a refund), which is a non-retryable ProviderError."""
        client = self._client(creds)
        try:
            with _errors("cancel", creds):
                client.v1.payment_intents.cancel(provider_ref)
        except ProviderError as exc:
            if exc.retryable:
                raise
            state = self.retrieve(creds, provider_ref)  # why was it refused?
            if state.status == "cancelled":
                return
            if state.status == "succeeded":
                raise ProviderError(
                    "stripe: the payment has succeeded; refund it instead", retryable=False
                ) from None
            raise

    def refund(self, creds: Credentials, req: RefundRequest) -> RefundResult:
        metadata = {"refund_id": req.refund_id}
        params: dict[str, Any] = {
            "payment_intent": req.provider_ref,
            "amount": req.amount,
            "metadata": metadata,
        }
        if req.reason in REFUND_REASONS:
            params["reason"] = req.reason
        elif req.reason:  # free text does not fit Stripe's enum: keep it as metadata
            metadata["reason"] = req.reason[:500]
        client = self._client(creds)
        with _errors("refund", creds):
            refund = client.v1.refunds.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": req.refund_id},
            )
        return RefundResult(refund.id, _refund_status(refund.status))

    def verify_webhook(self, creds: Credentials, body: bytes, headers: Mapping[str, str]) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        header = lowered.get("stripe-signature", "")
        if not creds.webhook_secret:  # an empty key is one anyone can sign with
            raise SignatureInvalid("no stripe webhook secret configured")
        timestamp, signatures = _parse_signature_header(header)
        signed = str(timestamp).encode() + b"." + body
        expected = hmac.new(creds.webhook_secret.encode(), signed, hashlib.sha256).hexdigest()
        # compare every candidate, so timing does not tell which one matched
        matched = False
        for sig in signatures:
            matched |= hmac.compare_digest(expected.encode(), sig.encode())
        if not matched:
            raise SignatureInvalid("stripe signature does not match")
        if timestamp < time.time() - TOLERANCE_S:
            raise SignatureInvalid("stripe signature timestamp is too old")

    def parse_event(self, body: bytes, *, headers: Mapping[str, str] | None = None) -> Event:
        """`headers` is unused (Stripe's event id is in the body); accepted so that every
        adapter is called alike. ValueError for a body that is not a Stripe event."""
        doc = _load(body)
        event_id, event_type = doc.get("id"), doc.get("type")
        data = doc.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(event_id, str) or not isinstance(event_type, str):
            raise ValueError("not a stripe event: no id or type")
        if not isinstance(obj, dict):
            raise ValueError("not a stripe event: no data.object")
        base = Event(event_id=event_id, event_type=event_type, kind=EventKind.IGNORED)
        if event_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
            failed = event_type == "payment_intent.payment_failed"
            error = obj.get("last_payment_error") or {}
            return replace(
                base,
                kind=EventKind.PAYMENT_FAILED if failed else EventKind.PAYMENT_SUCCEEDED,
                provider_ref=obj.get("id"),
                payment_id=_metadata(obj).get("payment_id"),
                charge_ref=_ref(obj.get("latest_charge")),
                amount=obj.get("amount") if failed else obj.get("amount_received"),
                currency=_upper(obj.get("currency")),
                failure_reason=(error.get("message") or "payment failed") if failed else None,
            )
        if event_type in REFUND_EVENTS:
            return _refund_event(base, obj)
        if event_type == "charge.refunded":
            return _charge_refunded(base, obj)
        if event_type == "charge.dispute.created":
            return replace(
                base,
                kind=EventKind.DISPUTE_CREATED,
                provider_ref=_ref(obj.get("payment_intent")),
                charge_ref=_ref(obj.get("charge")),
                amount=obj.get("amount"),
                currency=_upper(obj.get("currency")),
                failure_reason=obj.get("reason"),  # the dispute's reason, e.g. "fraudulent"
            )
        if obj.get("object") == "payment_intent":  # ignored, but about one of our payments
            return replace(
                base, provider_ref=obj.get("id"), payment_id=_metadata(obj).get("payment_id")
            )
        return base


def _refund_event(base: Event, refund: dict[str, Any]) -> Event:
    """A pending refund is not settled yet (a later refund.updated says how it ended): IGNORED,
    still naming the refund and the payment."""
    status = _refund_status(refund.get("status"))
    kinds = {"succeeded": EventKind.REFUND_SUCCEEDED, "failed": EventKind.REFUND_FAILED}
    return replace(
        base,
        kind=kinds.get(status, EventKind.IGNORED),
        provider_ref=_ref(refund.get("payment_intent")),
        refund_ref=refund.get("id"),
        refund_id=_metadata(refund).get("refund_id"),
        charge_ref=_ref(refund.get("charge")),
        amount=refund.get("amount"),
        currency=_upper(refund.get("currency")),
        failure_reason=refund.get("failure_reason") if status == "failed" else None,
    )


def _charge_refunded(base: Event, charge: dict[str, Any]) -> Event:
    """Current API versions leave the charge's refund list out, so which refund this is only
    shows when it is there (older versions, or expanded); without it the event names no refund
    and no amount (the charge's amount_refunded is a running total), and the refund.* events
    carry the refund itself."""
    listed = (charge.get("refunds") or {}).get("data") or []
    if listed:
        latest = max(listed, key=lambda r: r.get("created") or 0)
        return replace(_refund_event(base, latest), charge_ref=charge.get("id"))
    return replace(
        base,
        kind=EventKind.REFUND_SUCCEEDED,
        provider_ref=_ref(charge.get("payment_intent")),
        payment_id=_metadata(charge).get("payment_id"),
        charge_ref=charge.get("id"),
        currency=_upper(charge.get("currency")),
    )


def _parse_signature_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureInvalid("garbled stripe signature timestamp") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureInvalid("missing or garbled Stripe-Signature header")
    return timestamp, signatures


def _intent_status(status: str | None, has_error: bool) -> str:
    if status == "succeeded":
        return "succeeded"
    if status == "canceled":
        return "cancelled"
    if status == "requires_payment_method" and has_error:  # an attempt was declined
        return "failed"
    return "requires_action"


def _refund_status(status: str | None) -> str:
    if status == "succeeded":
        return "succeeded"
    if status in ("failed", "canceled"):
        return "failed"
    return "pending"  # pending, requires_action


@contextmanager
def _errors(action: str, creds: Credentials) -> Iterator[None]:
    """The SDK's errors as ProviderError. `from None`: the SDK's exception (its message may
    quote part of a key) is not chained into tracebacks and logs."""
    try:
        yield
    except stripe.StripeError as exc:
        raise _translate(action, exc, creds) from None


def _translate(action: str, exc: stripe.StripeError, creds: Credentials) -> ProviderError:
    status = exc.http_status
    if isinstance(exc, stripe.APIConnectionError) or status is None:
        return ProviderError(f"stripe {action}: could not reach the API", retryable=True)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderError(
            f"stripe {action}: the API key was refused (HTTP {status})", retryable=False
        )
    retryable = status in (409, 429) or status >= 500
    kind = type(exc).__name__
    detail = _scrub(exc.user_message or "", creds)
    code = f" {exc.code}" if exc.code else ""
    return ProviderError(
        f"stripe {action}: {kind} (HTTP {status}{code}): {detail}", retryable=retryable
    )


def _scrub(text: str, creds: Credentials) -> str:
    for secret in (creds.secret_key, creds.webhook_secret):
        if secret:
            text = text.replace(secret, "[redacted]")
    return _KEYISH.sub("[redacted]", text)[:300]


def _load(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are both
        raise ValueError(f"malformed stripe event: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("malformed stripe event: not an object")
    return doc


def _ref(value: Any) -> str | None:
    """An id, whether the field is expanded (an object) or not (its id)."""
    if isinstance(value, str):
        return value
    if value is not None:
        ident = value.get("id") if isinstance(value, Mapping) else getattr(value, "id", None)
        return ident if isinstance(ident, str) else None
    return None


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _upper(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) else None


provider = StripeProvider()
