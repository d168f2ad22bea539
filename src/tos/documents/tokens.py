"""Signed tokens for documents, HMAC-SHA256 under keys derived from TOS_SECRET_KEY with HKDF (as
tos.payments.secrets derives its own, with a different info, so no key serves two purposes).

- The booking token is what a voucher's QR code carries: booking id, organization id and
  reference, signed, so a check-in device holding `booking_token_key()` verifies it offline.
  It does not expire (the voucher is valid while the booking is); revocation is the booking's
  status, checked online when there is a connection.
- The document link token lets a customer download one document without signing in, until it
  expires.

Both are compact and URL-safe: base64url (no padding) of a version byte, the ids as 16 raw
bytes each, and the 32-byte MAC. Rotating TOS_SECRET_KEY invalidates both."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import struct
import uuid
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tos.config import get_settings
from tos.core.clock import utcnow

_BOOKING_V1 = b"\x01"
_LINK_V1 = b"\x02"
_MAC_LEN = 32


class InvalidToken(ValueError):
    """Malformed, tampered with, signed by another key, or expired."""


@lru_cache(maxsize=8)
def _derive(secret_key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"tos-documents", info=info).derive(
        secret_key.encode()
    )


def booking_token_key() -> bytes:
    """The key check-in devices need to verify voucher QR codes offline (not the install's
    secret itself: it verifies booking tokens and nothing else)."""
    return _derive(get_settings().secret_key, b"booking-token")


def _link_key() -> bytes:
    return _derive(get_settings().secret_key, b"document-link")


def _sign(key: bytes, payload: bytes) -> str:
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode()


def _open(key: bytes, token: str, version: bytes) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise InvalidToken("malformed token") from None
    payload, mac = raw[:-_MAC_LEN], raw[-_MAC_LEN:]
    if len(raw) <= _MAC_LEN or not payload.startswith(version):
        raise InvalidToken("malformed token")
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()):
        raise InvalidToken("bad signature")
    return payload[len(version) :]


def _uuid_bytes(value: str) -> bytes:
    return uuid.UUID(value).bytes


def booking_token(booking_id: str, org_id: str, reference: str) -> str:
    payload = _BOOKING_V1 + _uuid_bytes(booking_id) + _uuid_bytes(org_id) + reference.encode()
    return _sign(booking_token_key(), payload)


def verify_booking_token(token: str, *, key: bytes | None = None) -> dict[str, Any]:
    """{booking_id, organization_id, reference}; InvalidToken otherwise. `key` lets a device
    that holds only `booking_token_key()` verify without the install's settings."""
    body = _open(key or booking_token_key(), token, _BOOKING_V1)
    if len(body) < 33:
        raise InvalidToken("malformed token")
    try:
        reference = body[32:].decode()
    except UnicodeDecodeError:
        raise InvalidToken("malformed token") from None
    return {
        "booking_id": str(uuid.UUID(bytes=body[:16])),
        "organization_id": str(uuid.UUID(bytes=body[16:32])),
        "reference": reference,
    }


def document_link_token(document_id: str, expires_at: dt.datetime) -> str:
    payload = _LINK_V1 + _uuid_bytes(document_id) + struct.pack(">q", int(expires_at.timestamp()))
    return _sign(_link_key(), payload)


def verify_document_link_token(token: str, *, now: dt.datetime | None = None) -> str:
    """The document id the link is for, if the signature is good and it has not expired."""
    body = _open(_link_key(), token, _LINK_V1)
    if len(body) != 24:
        raise InvalidToken("malformed token")
    (expires,) = struct.unpack(">q", body[16:])
    if (now or utcnow()).timestamp() >= expires:
        raise InvalidToken("expired")
    return str(uuid.UUID(bytes=body[:16]))
