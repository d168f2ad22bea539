"""Verifying the hub's webhooks (seed 002 §Webhook Specification, §Signature Verification).

The hub calls `POST {website.webhook_url}` with

    X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>
    X-Webhook-Timestamp: <unix seconds>

`verify_webhook_signature` is the seed's `verifyWebhookSignature` (same inputs, same answer),
compared in constant time. `verify_request` adds what the seed's function leaves to the caller:
both headers present and a timestamp within `tolerance_s` of now, so a captured request cannot
be replayed later. `parse_webhook` verifies and returns the decoded body.

Always verify the raw body bytes as received, before parsing them: re-serialised JSON does not
hash alike.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
DEFAULT_TOLERANCE_S = 300
PREFIX = "sha256="


class WebhookError(ValueError):
    """A webhook that must not be processed."""


class InvalidSignature(WebhookError):
    """Missing headers, a wrong signature, or a timestamp outside the tolerance."""


class InvalidWebhookPayload(WebhookError):
    """Correctly signed, but not the JSON object the seed describes."""


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def compute_signature(payload: str | bytes, secret: str | bytes, timestamp: str | int) -> str:
    """`sha256=` + hex HMAC-SHA256 of `{timestamp}.{payload}` (the seed's signed payload)."""
    signed = _bytes(str(timestamp)) + b"." + _bytes(payload)
    return PREFIX + hmac.new(_bytes(secret), signed, hashlib.sha256).hexdigest()


def sign_webhook(
    payload: str | bytes, secret: str | bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The headers the hub sends with `payload` (for tests, and for a fake hub)."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: compute_signature(payload, secret, ts),
        TIMESTAMP_HEADER: ts,
    }


def verify_webhook_signature(
    payload: str | bytes, signature: str, secret: str | bytes, timestamp: str
) -> bool:
    """The seed's `verifyWebhookSignature(payload, signature, secret, timestamp)`: True when
    `signature == "sha256=" + hex(HMAC-SHA256(secret, f"{timestamp}.{payload}"))`. Unlike the
    seed's `===`, the comparison takes the same time wherever the strings differ. The timestamp
    is not checked here (see `verify_request`)."""
    if not signature or timestamp is None:
        return False
    expected = compute_signature(payload, secret, timestamp)
    return hmac.compare_digest(expected.encode("ascii"), _bytes(signature))


def _header(headers: Mapping[str, Any] | Any, name: str) -> str | None:
    """A header by name, case-insensitively, from a dict, httpx/Starlette headers or
    http.server's `self.headers`."""
    getter = getattr(headers, "get", None)
    if getter is not None:
        value = getter(name)
        if value is not None:
            return str(value)
    # ASGI-style raw pairs [(b"x-webhook-signature", b"..."), ...] too.
    items: Any = headers.items() if hasattr(headers, "items") else headers
    lowered = name.lower()
    for raw_key, raw_value in items:
        key = raw_key.decode("latin-1") if isinstance(raw_key, bytes) else str(raw_key)
        if key.lower() == lowered:
            return raw_value.decode("latin-1") if isinstance(raw_value, bytes) else str(raw_value)
    return None


def check_request(
    headers: Mapping[str, Any] | Any,
    body: str | bytes,
    secret: str | bytes,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """`verify_request`, raising `InvalidSignature` with the reason instead of returning False."""
    if not secret:
        raise InvalidSignature("no webhook secret configured")
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp = _header(headers, TIMESTAMP_HEADER)
    if not signature:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER}")
    if not timestamp:
        raise InvalidSignature(f"missing {TIMESTAMP_HEADER}")
    timestamp = timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is not unix seconds")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_s:
        raise InvalidSignature(f"timestamp outside the {tolerance_s:g}s tolerance")
    if not verify_webhook_signature(body, signature.strip(), secret, timestamp):
        raise InvalidSignature("signature mismatch")


def verify_request(
    headers: Mapping[str, Any] | Any,
    body: str | bytes,
    secret: str | bytes,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when both headers are there, the timestamp is within `tolerance_s` seconds of `now`
    (default: the current time; either side, for clock skew) and the signature is right."""
    try:
        check_request(headers, body, secret, tolerance_s=tolerance_s, now=now)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """The body of a hub webhook (seed 002: `booking.updated`, `booking.status_changed`)."""

    event: str
    source_booking_id: str
    updated_fields: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: str | None = None
    updated_by: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the whole body, extra members included


def parse_webhook(
    headers: Mapping[str, Any] | Any,
    body: str | bytes,
    secret: str | bytes,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> WebhookEvent:
    """Verify (raising `InvalidSignature`), then decode the body (raising
    `InvalidWebhookPayload` if it is not the seed's object)."""
    check_request(headers, body, secret, tolerance_s=tolerance_s, now=now)
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidWebhookPayload(f"body is not JSON: {exc}") from None
    if not isinstance(decoded, dict):
        raise InvalidWebhookPayload("body is not a JSON object")
    event, booking = decoded.get("event"), decoded.get("source_booking_id")
    if not isinstance(event, str) or not event:
        raise InvalidWebhookPayload("missing event")
    if booking is None or booking == "":
        raise InvalidWebhookPayload("missing source_booking_id")
    fields = decoded.get("updated_fields") or []
    data = decoded.get("data") or {}
    if not isinstance(fields, list) or not isinstance(data, dict):
        raise InvalidWebhookPayload("updated_fields must be a list and data an object")
    return WebhookEvent(
        event=event,
        source_booking_id=str(booking),
        updated_fields=[str(f) for f in fields],
        data=data,
        updated_at=decoded.get("updated_at"),
        updated_by=decoded.get("updated_by"),
        raw=decoded,
    )
