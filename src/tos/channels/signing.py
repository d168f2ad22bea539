"""Seed 002 §Webhook Specification signatures: `X-Webhook-Signature: sha256=<hex>` where hex is
HMAC-SHA256(secret, "{timestamp}.{body}") over the exact body bytes sent, and
`X-Webhook-Timestamp` is the unix time in seconds."""

from __future__ import annotations

import hashlib
import hmac

from tos.core.clock import utcnow

PREFIX = "sha256="


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def sign(secret: str, timestamp: str, body: bytes | str) -> str:
    signed = _bytes(timestamp) + b"." + _bytes(body)
    return PREFIX + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def headers(secret: str, timestamp: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Webhook-Signature": sign(secret, timestamp, body),
        "X-Webhook-Timestamp": timestamp,
    }


def verify(
    secret: str,
    timestamp: str,
    body: bytes | str,
    signature: str,
    *,
    tolerance_s: int | None = None,
) -> bool:
    """True when `signature` is the seed's signature of `timestamp` and `body`, compared in
    constant time; with `tolerance_s`, the timestamp must also be within that many seconds of
    now (a captured request cannot be replayed later)."""
    if tolerance_s is not None:
        try:
            age = abs(utcnow().timestamp() - int(timestamp))
        except (TypeError, ValueError):
            return False
        if age > tolerance_s:
            return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), (signature or "").encode())
