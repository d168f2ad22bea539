"""Seed 002 §Webhook Specification signatures, byte for byte."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tos.channels import signing
from tos.core import clock

SECRET = "whsec_test_secret"
BODY = b'{"event":"booking.updated","source_booking_id":"b-1","data":{"status":"cancelled"}}'


def _seed_reference(payload: str, secret: str, timestamp: str) -> str:
    """The seed's verifyWebhookSignature, transcribed: HMAC-SHA256 over `${timestamp}.${payload}`,
    hex digest, prefixed `sha256=`."""
    signed_payload = f"{timestamp}.{payload}"
    return "sha256=" + hmac.new(secret.encode(), signed_payload.encode(), "sha256").hexdigest()


def test_the_signature_is_the_seeds_hmac_of_timestamp_dot_body():
    expected = _seed_reference(BODY.decode(), SECRET, "1708444800")
    assert signing.sign(SECRET, "1708444800", BODY) == expected
    assert signing.sign(SECRET, "1708444800", BODY.decode()) == expected


def test_a_known_vector():
    # Computed independently of the module: HMAC-SHA256("key", "1.{}").
    digest = hmac.new(b"key", b"1.{}", hashlib.sha256).hexdigest()
    assert signing.sign("key", "1", b"{}") == f"sha256={digest}"
    assert len(digest) == 64 and signing.sign("key", "1", b"{}").startswith("sha256=")


def test_non_ascii_bodies_are_signed_as_their_utf8_bytes():
    body = '{"admin_notes":"Café — กรุงเทพ"}'
    assert signing.sign(SECRET, "5", body) == signing.sign(SECRET, "5", body.encode("utf-8"))
    assert signing.verify(SECRET, "5", body.encode(), _seed_reference(body, SECRET, "5"))


@pytest.mark.parametrize(
    ("timestamp", "body", "secret"),
    [
        ("1708444801", BODY, SECRET),  # another timestamp
        ("1708444800", BODY.replace(b"cancelled", b"confirmed"), SECRET),  # tampered body
        ("1708444800", BODY + b" ", SECRET),  # one byte more
        ("1708444800", BODY, SECRET + "x"),  # another secret
    ],
)
def test_anything_changed_fails_verification(timestamp, body, secret):
    signature = signing.sign(SECRET, "1708444800", BODY)
    assert signing.verify(SECRET, "1708444800", BODY, signature)
    assert not signing.verify(secret, timestamp, body, signature)


@pytest.mark.parametrize("bad", ["", "sha256=", "sha256=zz", "SHA256=abc", "ü" * 71])
def test_malformed_signatures_fail_without_raising(bad):
    assert not signing.verify(SECRET, "1", BODY, bad)


def test_the_tolerance_refuses_old_and_non_numeric_timestamps():
    now = str(int(clock.utcnow().timestamp()))
    old = str(int(clock.utcnow().timestamp()) - 600)
    assert signing.verify(SECRET, now, BODY, signing.sign(SECRET, now, BODY), tolerance_s=300)
    assert not signing.verify(SECRET, old, BODY, signing.sign(SECRET, old, BODY), tolerance_s=300)
    assert signing.verify(SECRET, old, BODY, signing.sign(SECRET, old, BODY))  # no tolerance
    assert not signing.verify(SECRET, "soon", BODY, signing.sign(SECRET, "soon", BODY),
                              tolerance_s=300)  # fmt: skip


def test_headers_carry_the_seeds_names():
    h = signing.headers(SECRET, "1708444800", BODY)
    assert h == {
        "Content-Type": "application/json",
        "X-Webhook-Signature": _seed_reference(BODY.decode(), SECRET, "1708444800"),
        "X-Webhook-Timestamp": "1708444800",
    }
