"""Documents without a database: money and rate formatting, number format, signed tokens, local
storage, templates (autoescaped) and the QR code."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest

from tos.documents import render, tokens
from tos.documents.numbering import format_number
from tos.documents.storage import LocalStorage, NotStored, get_storage, storage_key
from tos.documents.tokens import InvalidToken

BOOKING, ORG = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.mark.parametrize(
    ("minor", "currency", "language", "expected"),
    [
        (12345, "EUR", "en", "EUR 123.45"),
        (123456789, "EUR", "en", "EUR 1,234,567.89"),
        (123456789, "EUR", "pt", "EUR 1.234.567,89"),
        (123456789, "EUR", "pt-BR", "EUR 1.234.567,89"),
        (123456789, "EUR", "fr", "EUR 1\u00a0234\u00a0567,89"),
        (5, "EUR", "en", "EUR 0.05"),
        (0, "USD", "en", "USD 0.00"),
        (-500, "EUR", "en", "EUR -5.00"),
        (1235, "JPY", "en", "JPY 1,235"),
        (1234567, "KWD", "en", "KWD 1,234.567"),
    ],
)
def test_money_uses_the_currency_exponent_and_the_language(minor, currency, language, expected):
    assert render.format_money(minor, currency, language) == expected


def test_rates_and_dates():
    assert render.format_rate(2300) == "23%"
    assert render.format_rate(650) == "6.5%"
    assert render.format_rate(1234) == "12.34%"
    assert render.format_rate(0) == "0%"
    assert render.format_date(dt.date(2026, 3, 7)) == "7 March 2026"
    assert render.format_date(dt.date(2026, 3, 7), weekday=True) == "Saturday, 7 March 2026"
    assert render.format_time(dt.time(9, 5)) == "09:05"


def test_number_format():
    assert format_number("INV", 2026, 42) == "INV-2026-000042"
    assert format_number("CN", 2026, 3) == "CN-2026-000003"
    assert format_number("INV", 2026, 1_234_567) == "INV-2026-1234567"


# --- booking tokens (voucher QR codes) ------------------------------------------------------


def test_booking_token_round_trip_is_compact_and_url_safe():
    token = tokens.booking_token(BOOKING, ORG, "BK-2026-ABC234")
    assert len(token) < 120
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert tokens.verify_booking_token(token) == {
        "booking_id": BOOKING,
        "organization_id": ORG,
        "reference": "BK-2026-ABC234",
    }


def test_booking_token_verifies_offline_with_the_derived_key_only():
    token = tokens.booking_token(BOOKING, ORG, "BK-2026-ABC234")
    key = tokens.booking_token_key()
    assert tokens.verify_booking_token(token, key=key)["booking_id"] == BOOKING
    with pytest.raises(InvalidToken):
        tokens.verify_booking_token(token, key=b"x" * 32)


def _flip(token: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize("index", [0, 1, 20, 40, -1])
def test_a_tampered_booking_token_is_refused(index):
    token = tokens.booking_token(BOOKING, ORG, "BK-2026-ABC234")
    with pytest.raises(InvalidToken):
        tokens.verify_booking_token(_flip(token, index))


@pytest.mark.parametrize("bad", ["", "x", "!!!!", "AAAA", "a" * 300])
def test_garbage_is_refused(bad):
    with pytest.raises(InvalidToken):
        tokens.verify_booking_token(bad)
    with pytest.raises(InvalidToken):
        tokens.verify_document_link_token(bad)


def test_the_two_token_kinds_are_not_interchangeable():
    link = tokens.document_link_token(BOOKING, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    booking = tokens.booking_token(BOOKING, ORG, "BK-1")
    with pytest.raises(InvalidToken):
        tokens.verify_booking_token(link)
    with pytest.raises(InvalidToken):
        tokens.verify_document_link_token(booking)


# --- document links --------------------------------------------------------------------------


def test_document_link_valid_until_it_expires():
    doc = str(uuid.uuid4())
    now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    token = tokens.document_link_token(doc, now + dt.timedelta(days=30))
    assert tokens.verify_document_link_token(token, now=now) == doc
    assert tokens.verify_document_link_token(token, now=now + dt.timedelta(days=29)) == doc
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify_document_link_token(token, now=now + dt.timedelta(days=30))


def test_a_document_link_cannot_be_extended_or_moved():
    doc = str(uuid.uuid4())
    token = tokens.document_link_token(doc, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    for index in (3, 18, 20):  # the id, the expiry
        with pytest.raises(InvalidToken):
            tokens.verify_document_link_token(_flip(token, index))


def test_keys_follow_the_install_secret(monkeypatch):
    from tos.config import get_settings

    token = tokens.booking_token(BOOKING, ORG, "BK-1")
    monkeypatch.setattr(get_settings(), "secret_key", "another-secret")
    with pytest.raises(InvalidToken):
        tokens.verify_booking_token(token)


# --- storage ---------------------------------------------------------------------------------


def test_local_storage_writes_atomically_and_reads_back(tmp_path):
    store = LocalStorage(tmp_path)
    key = storage_key(ORG, BOOKING, "invoice", 1)
    assert key == f"{ORG}/{BOOKING}/invoice-v1.pdf"
    assert not store.exists(key)
    store.put(key, b"%PDF-one")
    store.put(key, b"%PDF-two")  # the same key again (a rolled-back attempt's file) is replaced
    assert store.exists(key)
    assert store.get(key) == b"%PDF-two"
    leftovers = [p.name for p in (tmp_path / ORG / BOOKING).iterdir()]
    assert leftovers == ["invoice-v1.pdf"]
    with pytest.raises(NotStored):
        store.get(storage_key(ORG, BOOKING, "invoice", 2))


@pytest.mark.parametrize("key", ["", "../x.pdf", "a/../../x.pdf", "/etc/passwd", "a//b", "a\\b"])
def test_local_storage_refuses_keys_that_leave_its_root(tmp_path, key):
    with pytest.raises(ValueError):
        LocalStorage(tmp_path).put(key, b"x")


def test_storage_root_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TOS_DOCUMENTS_DIR", str(tmp_path))
    get_storage().put("a/b.pdf", b"1")
    assert (tmp_path / "a" / "b.pdf").read_bytes() == b"1"


# --- templates -------------------------------------------------------------------------------


def _context(**overrides):
    ctx = {
        "language": "en",
        "currency": "EUR",
        "version": 1,
        "issued_on": dt.date(2026, 3, 7),
        "rendered_on": dt.date(2026, 3, 7),
        "seller": dict.fromkeys(("legal_name", "address", "tax_id", "email", "phone"))
        | {"name": "Sol <b>Tours</b>"},
        "buyer": {"name": "<script>x</script>", "email": "a@example.com", "phone": None},
        "booking": {"reference": "BK-2026-ABC234", "status": "payment_confirmed"},
        "service": None,
        "number": "INV-2026-000001",
        "lines": [{"name": "Adult & co", "quantity": 2, "unit_amount": 5000, "amount": 10000}],
        "discounts": [],
        "taxes": [{"name": "VAT", "rate_bp": 2300, "inclusive": True, "amount": 1870}],
        "subtotal": 10000,
        "discount_total": 0,
        "tax_total": 0,
        "total": 10000,
    }
    return ctx | overrides


def test_templates_escape_what_people_typed():
    html = render.render_html("invoice.html", _context())
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Sol &lt;b&gt;Tours&lt;/b&gt;" in html
    assert "Adult &amp; co" in html
    assert "EUR 100.00" in html and "VAT 23%" in html and "EUR 18.70" in html


def test_a_rerendered_document_says_so():
    assert "Version 2" in render.render_html("invoice.html", _context(version=2))
    assert "Version" not in render.render_html("invoice.html", _context())


def test_qr_code_is_inline_svg():
    svg = render.qr_svg(tokens.booking_token(BOOKING, ORG, "BK-1"))
    assert str(svg).startswith("<svg") and "<path" in svg
