"""The sandbox payment flow over real processes: a booking over HTTP, a sandbox payment, Pay on
the hosted checkout page; the sandbox's signed webhook then travels through the job queue to
the server's own webhook endpoint and on to the ledger, with nobody draining anything."""

import time

import httpx
import pytest
from sqlalchemy import select

import tests.e2e.conftest as e2e
from tests.booking_builders import booking_body, make_departure
from tos.db import tenancy
from tos.outbox.models import OutboxMessage
from tos.payments.models import LedgerEntry, WebhookEvent

pytestmark = pytest.mark.e2e


def test_paying_on_the_checkout_page_confirms_the_booking(
    server_factory, db, org, monkeypatch, tmp_path
):
    # The sandbox sends its webhooks to TOS_PUBLIC_URL, so the server must know its own URL
    # before it starts: pick its port here and hand it to Server through free_port.
    port = e2e.free_port()
    monkeypatch.setattr(e2e, "free_port", lambda: port)
    env = {"TOS_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    # The confirmation's documents and e-mail (automations) go to this test's directory.
    env |= {
        f"TOS_{kind.upper()}_DIR": str(tmp_path / kind) for kind in ("documents", "mail", "sms")
    }
    server = server_factory(env=env)
    assert server.port == port

    dep = make_departure(db, org.id, capacity=10)
    with httpx.Client(base_url=server.url, headers=org.headers("manager"), timeout=30) as api:
        r = api.post("/api/v1/bookings", json=booking_body(dep, adults=2))
        assert r.status_code == 201, r.text
        booking = r.json()
        r = api.post(f"/api/v1/bookings/{booking['id']}/payments", json={"provider": "sandbox"})
        assert r.status_code == 201, r.text
        payment = r.json()
        checkout = payment["client_payload"]["checkoutUrl"]
        assert checkout == f"{server.url}/sandbox/checkout/{payment['id']}"

        with httpx.Client(timeout=30) as browser:  # the customer: no credentials
            page = browser.get(checkout)
            assert page.status_code == 200 and booking["reference"] in page.text
            paid = browser.post(f"{checkout}/pay")
            assert paid.status_code == 303, paid.text
            page = browser.get(f"{server.url}{paid.headers['location']}")
            # Unless the webhook was already through (it travels through the queue twice).
            notes = ("Payment sent — the shop will confirm it shortly", "payment confirmed")
            assert any(note in page.text for note in notes)

        got = _wait_until_confirmed(api, booking["id"], timeout=30, server=server)
    assert got["payment_status"] == "paid"
    assert [(e["kind"], e["amount"]) for e in got["ledger"]] == [("captured", 10000)]

    with db(write=False) as session, tenancy.unscoped(session):
        captured = session.scalars(
            select(LedgerEntry).where(LedgerEntry.booking_id == booking["id"],
                                      LedgerEntry.kind == "captured")
        ).all()  # fmt: skip
        assert [(e.payment_id, e.amount, e.status) for e in captured] == [
            (payment["id"], 10000, "succeeded")
        ]
        sends = session.scalars(
            select(OutboxMessage).where(OutboxMessage.handler == "payments.sandbox_send")
        ).all()
        [send] = [m for m in sends if m.payload["payment_id"] == payment["id"]]
        assert send.status == "done"
        [event] = session.scalars(
            select(WebhookEvent).where(WebhookEvent.event_id == send.payload["event_id"])
        ).all()
        assert event.processed_at is not None and event.outcome == "captured: payment confirmed"


# The confirmation's automations move a paid booking on by themselves.
CONFIRMED = {"payment_confirmed", "supplier_confirmed", "documents_generated"}


def _wait_until_confirmed(api: httpx.Client, booking_id: str, *, timeout: float, server):
    deadline = time.monotonic() + timeout
    while True:
        r = api.get(f"/api/v1/bookings/{booking_id}")
        assert r.status_code == 200, r.text
        got = r.json()
        if got["status"] in CONFIRMED:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(
                f"booking still {got['status']} after {timeout}s\n{server.proc.tail()}"
            )
        time.sleep(0.2)
