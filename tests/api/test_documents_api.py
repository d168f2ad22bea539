"""A booking's documents: issued by the service (as the automations will), listed, downloaded
with and without credentials, regenerated through seed 000's endpoint. PDFs are read back with
pdftotext and checked for the booking's facts."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import uuid
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.booking_builders import (
    audit_actions,
    create_booking,
    lead_schedule,
    make_departure,
    refund,
    walk_to,
)
from tests.pricing_builders import make_promo, set_org_settings
from tos.bookings.models import Booking
from tos.catalog.models import Tour, TourInclusion
from tos.core.ratelimit import limiter
from tos.documents import render, service
from tos.documents.models import Document
from tos.documents.render import format_date, format_money
from tos.documents.tokens import document_link_token, verify_booking_token
from tos.payments.models import LedgerEntry

GENERATE = "/api/documents/generate"


@pytest.fixture(autouse=True)
def documents_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TOS_DOCUMENTS_DIR", str(tmp_path / "documents"))
    monkeypatch.delenv("TOS_PUBLIC_RATE_LOOKUP", raising=False)
    limiter.reset()
    yield tmp_path / "documents"
    limiter.reset()


@pytest.fixture
def fast_pdf(monkeypatch):
    """For tests of who may see what: a stand-in for WeasyPrint (a render takes ~0.3 s)."""

    def fake(template: str, context: dict) -> bytes:
        return f"%PDF-1.4 {template} {context.get('number')} {uuid.uuid4()}".encode()

    monkeypatch.setattr(render, "render_pdf", fake)


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=20, days_ahead=40)


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def issue(db, org, fn, arg) -> dict:
    """Run a service issue_* in its own transaction, as an outbox handler does."""
    with db(write=True, organization_id=org.id) as session:
        doc = fn(session, arg)
        session.commit()
        if doc is None:
            return {}
        return {"id": doc.id, "type": doc.type, "number": service.number_of(session, doc),
                "version": doc.version, "amount": doc.amount}  # fmt: skip


def paid(client, org, dep, **extra) -> dict:
    b = create_booking(client, org, dep, **extra)
    walk_to(client, org, b, "payment_confirmed")
    return b


def listed(client, org, booking_id, role="owner") -> list[dict]:
    r = client.get(f"/api/v1/bookings/{booking_id}/documents", headers=org.headers(role))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def download(client, org, document_id, role="owner"):
    return client.get(f"/api/v1/documents/{document_id}/download", headers=org.headers(role))


def generate(client, org, booking_id, type_, role="owner", **headers):
    return client.post(GENERATE, headers=org.headers(role) | headers,
                       json={"bookingId": booking_id, "type": type_})  # fmt: skip


def this_year(org) -> int:
    return dt.datetime.now(ZoneInfo(org.timezone)).year


def tour_name(db, org, tour_id) -> str:
    with db(write=False, organization_id=org.id) as s:
        return s.scalar(select(Tour.name).where(Tour.id == tour_id))


# --- invoice ---------------------------------------------------------------------------------


def test_the_invoice_carries_the_bookings_facts_and_is_issued_once(client, db, org, dep):
    set_org_settings(db, org.id, taxes=[{"name": "VAT", "rate_bp": 2300, "inclusive": False}],
                     legal={"legal_name": "Sol Tours Lda", "tax_id": "PT501234567"})  # fmt: skip
    promo = make_promo(db, org.id, code="SPRING", discount_type="fixed", discount_value=1000)
    b = paid(client, org, dep, adults=2, children=1, promotional_code=promo.code)

    first = issue(db, org, service.issue_invoice, b["id"])
    again = issue(db, org, service.issue_invoice, b["id"])
    number = f"INV-{this_year(org)}-000001"
    assert first == again and first["number"] == number and first["amount"] == b["total"]

    [item] = listed(client, org, b["id"])
    assert (item["type"], item["number"], item["version"]) == ("invoice", number, 1)
    r = download(client, org, item["id"])
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'attachment; filename="{number}.pdf"'
    assert len(r.content) == item["size"]

    text = pdf_text(r.content)
    money = lambda minor: format_money(minor, "EUR")  # noqa: E731
    for fact in (
        "Invoice", number, b["reference"], "Ana Silva", "ana@example.com",
        tour_name(db, org, dep.tour_id), f"Org {org.slug}", "Sol Tours Lda", "PT501234567",
        money(5000), money(10000), money(2500), money(b["subtotal"]), money(b["discount_total"]),
        "VAT 23%", money(b["tax_total"]), money(b["total"]),
        format_date(dt.date.today() + dt.timedelta(days=40), weekday=True), "09:00–11:00",
    ):  # fmt: skip
        assert fact in text, fact
    assert b["tax_total"] > 0 and b["discount_total"] == 1000
    assert audit_actions(client, org, "document", item["id"]) == ["document.issued"]


def test_regenerating_an_invoice_renders_the_same_number_never_a_new_one(client, db, org, dep):
    b = paid(client, org, dep)
    r = generate(client, org, b["id"], "invoice")  # none yet: the first version, numbered
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ok"] is True and body["requestId"]
    first = body["data"]["document"]
    number = f"INV-{this_year(org)}-000001"
    assert (first["number"], first["version"]) == (number, 1)

    r = generate(client, org, b["id"], "invoice")
    assert r.status_code == 201, r.text
    second = r.json()["data"]["document"]
    assert (second["number"], second["version"]) == (number, 2)
    assert issue(db, org, service.issue_invoice, b["id"])["id"] == second["id"]

    items = listed(client, org, b["id"])
    assert [(i["number"], i["version"]) for i in items] == [(number, 1), (number, 2)]
    r = download(client, org, second["id"])
    assert r.headers["content-disposition"] == f'attachment; filename="{number}-v2.pdf"'
    text = pdf_text(r.content)
    assert number in text and "Version 2" in text and format_money(b["total"], "EUR") in text
    assert audit_actions(client, org, "document", second["id"]) == ["document.regenerated"]
    with db(write=False, organization_id=org.id) as s:
        numbers = s.scalars(select(Document.number).where(Document.number.is_not(None))).all()
    assert numbers == [number]  # one number issued

    # The booking's total changed: re-rendering would edit the invoice, so it is refused.
    with db(write=True, organization_id=org.id) as s:
        s.get(Booking, b["id"]).total += 100
        s.commit()
    r = generate(client, org, b["id"], "invoice")
    assert r.status_code == 409
    assert r.json()["ok"] is False and r.json()["error"]["code"] == "INVOICE_CHANGED"


# --- voucher and itinerary ------------------------------------------------------------------


def test_the_voucher_carries_a_signed_booking_token(client, db, org, dep):
    b = walk_to(client, org, create_booking(client, org, dep, adults=2), "supplier_confirmed")
    first = issue(db, org, service.issue_voucher, b["id"])
    assert issue(db, org, service.issue_voucher, b["id"]) == first
    assert first["number"] is None and first["version"] == 1

    text = pdf_text(download(client, org, first["id"]).content)
    for fact in ("Voucher", b["reference"], "Ana Silva", tour_name(db, org, dep.tour_id),
                 "Show this code at check-in"):  # fmt: skip
        assert fact in text, fact
    assert re.search(r"Adult ?× ?2", text)
    [token] = [t for t in re.findall(r"[A-Za-z0-9_-]{80,}", text)]
    assert verify_booking_token(token) == {
        "booking_id": b["id"], "organization_id": org.id, "reference": b["reference"]
    }  # fmt: skip

    r = generate(client, org, b["id"], "voucher", role="manager")
    assert r.status_code == 201, r.text
    doc = r.json()["data"]["document"]
    assert (doc["version"], doc["number"]) == (2, None)
    assert doc["download_url"] == f"/api/v1/documents/{doc['id']}/download"
    r = download(client, org, doc["id"], role="manager")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="voucher-{b["reference"]}-v2.pdf"'
    )


def test_the_itinerary_shows_the_tour_in_its_timezone(client, db, org, dep):
    with db(write=True, organization_id=org.id) as s:
        tour = s.get(Tour, dep.tour_id)
        tour.meeting_point = {
            "name": "Praça do Comércio",
            "address": "Lisboa",
            "latitude": 38.7,
            "longitude": -9.1,
            "instructions": "Red flag",
        }
        tour.highlights = ["Alfama at dawn"]
        s.add(TourInclusion(tour_id=tour.id, type="inclusion", text="Pastel de nata"))
        s.add(TourInclusion(tour_id=tour.id, type="exclusion", text="Tram tickets"))
        s.commit()  # fmt: skip
    b = create_booking(client, org, dep, special_requests="Window seat <please>")
    doc = issue(db, org, service.issue_itinerary, b["id"])
    assert issue(db, org, service.issue_itinerary, b["id"]) == doc

    text = pdf_text(download(client, org, doc["id"]).content)
    day = format_date(dt.date.today() + dt.timedelta(days=40), weekday=True)
    for fact in ("Itinerary", b["reference"], tour_name(db, org, dep.tour_id),
                 f"{day}, 09:00 (Europe/Lisbon)", f"{day}, 11:00 (Europe/Lisbon)",
                 "2 h 00 min", "Praça do Comércio", "Red flag", "Alfama at dawn",
                 "Pastel de nata", "Tram tickets", "Window seat <please>"):  # fmt: skip
        assert fact in text, fact


# --- credit notes ----------------------------------------------------------------------------


def test_every_refund_gets_its_own_credit_note(client, db, org, dep):
    b = paid(client, org, dep, adults=2)
    invoice = issue(db, org, service.issue_invoice, b["id"])
    entries = []
    for amount, reason in ((1000, "rain"), (500, "late start")):
        r = refund(client, org, b["id"], amount, reason=reason)
        assert r.status_code == 201, r.text
        entries.append(r.json()["id"])

    year = this_year(org)
    notes = [issue(db, org, service.issue_credit_note, e) for e in entries]
    assert [(n["number"], n["version"], n["amount"]) for n in notes] == [
        (f"CN-{year}-000001", 1, 1000), (f"CN-{year}-000002", 2, 500)]  # fmt: skip
    assert [issue(db, org, service.issue_credit_note, e) for e in entries] == notes

    text = pdf_text(download(client, org, notes[0]["id"]).content)
    for fact in ("Credit note", f"CN-{year}-000001", invoice["number"], b["reference"],
                 "Ana Silva", "rain", format_money(1000, "EUR")):  # fmt: skip
        assert fact in text, fact
    r = download(client, org, notes[1]["id"])
    assert r.headers["content-disposition"] == f'attachment; filename="CN-{year}-000002.pdf"'

    items = listed(client, org, b["id"])
    assert sorted(i["type"] for i in items) == ["credit_note", "credit_note", "invoice"]
    assert {i["ledger_entry_id"] for i in items if i["type"] == "credit_note"} == set(entries)


def test_credit_notes_only_for_succeeded_refunds_invoice_or_not(client, db, org, dep):
    b = paid(client, org, dep)
    with db(write=True, organization_id=org.id) as s:
        pending = LedgerEntry(booking_id=b["id"], kind="refund", status="pending", amount=100,
                              currency="EUR", actor_type="system")  # fmt: skip
        s.add(pending)
        s.commit()
        payment_id = s.scalar(select(LedgerEntry.id).where(
            LedgerEntry.booking_id == b["id"], LedgerEntry.kind == "manual"))  # fmt: skip
    assert issue(db, org, service.issue_credit_note, pending.id) == {}
    with pytest.raises(ValueError, match="not a refund"):
        issue(db, org, service.issue_credit_note, payment_id)

    # A refund that overtakes the invoice still gets its credit note, naming the booking.
    entry = refund(client, org, b["id"], 300, reason="goodwill").json()["id"]
    note = issue(db, org, service.issue_credit_note, entry)
    assert note["number"] == f"CN-{this_year(org)}-000001"
    text = pdf_text(download(client, org, note["id"]).content)
    assert "No invoice had been issued" in text and b["reference"] in text


# --- customer links --------------------------------------------------------------------------


def test_the_customers_signed_link_valid_tampered_expired(client, db, org, dep, fast_pdf):
    b = create_booking(client, org, dep)
    invoice = issue(db, org, service.issue_invoice, b["id"])
    voucher = issue(db, org, service.issue_voucher, b["id"])
    items = {i["type"]: i for i in listed(client, org, b["id"])}
    share = urlsplit(items["invoice"]["share_url"])
    path, token = share.path, share.query.removeprefix("token=")
    assert path == f"/public/v1/documents/{invoice['id']}"
    expires = dt.datetime.fromisoformat(items["invoice"]["share_expires_at"])
    assert dt.timedelta(days=29) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)

    r = client.get(path, params={"token": token})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content == download(client, org, invoice["id"]).content

    voucher_token = urlsplit(items["voucher"]["share_url"]).query.removeprefix("token=")
    past = document_link_token(invoice["id"], dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for bad in (tampered, past, voucher_token, "", "x" * 500):
        r = client.get(path, params={"token": bad})
        assert r.status_code == 404, bad
        assert r.json()["error"]["code"] == "NOT_FOUND"
    assert client.get(path).status_code == 404
    assert client.get(f"/public/v1/documents/{voucher['id']}",
                      params={"token": voucher_token}).status_code == 200  # fmt: skip


# --- who may see what ------------------------------------------------------------------------


def test_another_organization_sees_nothing(client, db, org, other_org, dep, fast_pdf):
    b = create_booking(client, org, dep)
    doc = issue(db, org, service.issue_voucher, b["id"])
    assert client.get(f"/api/v1/bookings/{b['id']}/documents",
                      headers=other_org.headers()).status_code == 404  # fmt: skip
    assert download(client, other_org, doc["id"]).status_code == 404
    r = generate(client, other_org, b["id"], "voucher")
    assert r.status_code == 404 and r.json()["ok"] is False
    assert r.json()["error"]["code"] == "NOT_FOUND" and r.json()["requestId"]
    with db(write=False, organization_id=org.id) as s:
        assert s.scalar(select(Document.version).where(Document.booking_id == b["id"])) == 1


def test_permissions_per_role(client, db, org, dep, fast_pdf):
    b = create_booking(client, org, dep)  # assigned to nobody, on a schedule nobody leads
    doc = issue(db, org, service.issue_itinerary, b["id"])
    reads = {"owner": 200, "admin": 200, "manager": 200, "accountant": 200, "staff": 404,
             "guide": 404, "reseller": 403}  # fmt: skip
    for role, expected in reads.items():
        r = client.get(f"/api/v1/bookings/{b['id']}/documents", headers=org.headers(role))
        assert r.status_code == expected, (role, r.text)
        assert download(client, org, doc["id"], role).status_code == expected, role

    writes = {"accountant": 403, "guide": 403, "reseller": 403, "staff": 404, "manager": 201}
    for role, expected in writes.items():
        r = generate(client, org, b["id"], "itinerary", role=role)
        assert r.status_code == expected, (role, r.text)
        assert r.json()["ok"] is (expected == 201)

    # Row rules: staff act on the bookings assigned to them, guides read their schedules'.
    mine = create_booking(
        client, org, dep, assigned_to=org.user_ids["staff"], email="bo@example.com"
    )
    assert generate(client, org, mine["id"], "itinerary", role="staff").status_code == 201
    assert len(listed(client, org, mine["id"], role="staff")) == 1
    lead_schedule(db, org, dep.schedule_id)
    assert len(listed(client, org, b["id"], role="guide")) == 2
    assert download(client, org, doc["id"], "guide").status_code == 200
    assert generate(client, org, b["id"], "itinerary", role="guide").status_code == 403


def test_seed_envelope_for_errors_and_idempotent_generation(client, db, org, dep, fast_pdf):
    b = create_booking(client, org, dep)
    r = client.post(GENERATE, json={"bookingId": b["id"], "type": "invoice"})
    assert r.status_code == 401 and r.json()["ok"] is False and r.json()["requestId"]
    r = generate(client, org, b["id"], "receipt")
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"
    r = generate(client, org, b["id"], "credit_note")
    assert r.status_code == 422 and "issued per refund" in r.json()["error"]["message"]
    r = generate(client, org, "00000000-0000-7000-8000-000000000000", "voucher")
    assert r.status_code == 404 and r.json()["ok"] is False

    key = {"Idempotency-Key": "regen-1"}
    first = generate(client, org, b["id"], "voucher", **key)
    again = generate(client, org, b["id"], "voucher", **key)
    assert first.status_code == again.status_code == 201
    assert first.json()["data"] == again.json()["data"]
    assert generate(client, org, b["id"], "itinerary", **key).status_code == 409
    assert len(listed(client, org, b["id"])) == 1


def test_a_damaged_file_is_never_served(client, db, org, dep, documents_dir, fast_pdf):
    b = create_booking(client, org, dep)
    doc = issue(db, org, service.issue_voucher, b["id"])
    [path] = list(documents_dir.rglob("voucher-v1.pdf"))
    path.write_bytes(path.read_bytes() + b"\n")
    r = download(client, org, doc["id"])
    assert r.status_code == 500 and r.json()["error"]["code"] == "DOCUMENT_UNAVAILABLE"
    path.unlink()
    assert download(client, org, doc["id"]).json()["error"]["details"]["reason"] == "missing"
