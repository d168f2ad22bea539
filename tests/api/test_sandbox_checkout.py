"""The sandbox's hosted checkout page and its webhook sender, in process on both databases.

The sender's HTTP call is routed through the TestClient (no server), and the outbox is drained
by hand, so each step of the asynchronous flow can be looked at: click → charge settled and a
send job queued → signed webhook stored → processed onto the ledger and the lifecycle."""

import json
import time
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from tests.booking_builders import create_booking, get_booking, make_departure
from tests.payment_builders import drain
from tos.bookings.models import Booking
from tos.db import tenancy
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage
from tos.payments import sandbox_sender
from tos.payments.accounts import sandbox_secret
from tos.payments.models import SandboxCharge, WebhookEvent
from tos.payments.providers import sandbox

SEND = "payments.sandbox_send"


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=10, days_ahead=20)


@pytest.fixture
def sent(client, monkeypatch):
    """The sender's POSTs go through the TestClient; each answer is kept."""
    answers: list[httpx.Response] = []

    def post(url, *, content, headers, timeout):
        parts = urlsplit(url)
        r = client.post(f"{parts.path}?{parts.query}", content=content, headers=headers)
        answers.append(r)
        return r

    monkeypatch.setattr(sandbox_sender.httpx, "post", post)
    return answers


def sandbox_payment(client, org, dep, **booking) -> tuple[dict, dict]:
    b = create_booking(client, org, dep, **booking)
    r = client.post(f"/api/v1/bookings/{b['id']}/payments", json={"provider": "sandbox"},
                    headers=org.headers("manager"))  # fmt: skip
    assert r.status_code == 201, r.text
    return b, r.json()


def page_path(payment: dict) -> str:
    return urlsplit(payment["client_payload"]["checkoutUrl"]).path


def charge_status(payment_id: str) -> str:
    with sandbox.records(write=False) as session:
        return session.scalar(
            select(SandboxCharge.status).where(SandboxCharge.payment_id == payment_id)
        )


def send_messages(db, payment_id: str) -> list[OutboxMessage]:
    with db(write=False) as session, tenancy.unscoped(session):
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.handler == SEND)).all()
    return [m for m in rows if m.payload["payment_id"] == payment_id]


def webhook_rows(db, event_id: str) -> list[WebhookEvent]:
    with db(write=False) as session, tenancy.unscoped(session):
        return session.scalars(select(WebhookEvent).where(WebhookEvent.event_id == event_id)).all()


def test_the_page_shows_the_booking_and_the_amount_with_pay_and_decline(client, org, dep):
    b, p = sandbox_payment(client, org, dep, adults=2)
    assert page_path(p) == f"/sandbox/checkout/{p['id']}"
    r = client.get(page_path(p))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert b["reference"] in r.text and "100.00 EUR" in r.text
    assert f'action="/sandbox/checkout/{p["id"]}/pay"' in r.text
    assert f'action="/sandbox/checkout/{p["id"]}/decline"' in r.text
    assert "requires action" in r.text


def test_the_amount_follows_its_currency_exponent(client, db, org):
    dep = make_departure(db, org.id, adult_price=125000, currency="JPY")
    _, p = sandbox_payment(client, org, dep)
    assert "125,000 JPY" in client.get(page_path(p)).text


def test_what_the_page_shows_is_escaped(client, db, org, dep):
    b, p = sandbox_payment(client, org, dep)
    with db(write=True, organization_id=org.id) as session:
        session.scalar(select(Booking).where(Booking.id == b["id"])).reference = '<b>"&x'
        session.commit()
    text = client.get(page_path(p)).text
    assert "&lt;b&gt;&quot;&amp;x" in text and "<b>" not in text


def test_unknown_checkouts_are_a_404_page(client):
    for r in (client.get("/sandbox/checkout/nope"),
              client.post("/sandbox/checkout/nope/pay", follow_redirects=False),
              client.post("/sandbox/checkout/nope/decline", follow_redirects=False)):  # fmt: skip
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert "not found" in r.text.lower()


def test_pay_settles_the_charge_and_the_webhook_confirms_the_booking(client, db, org, dep, sent):
    b, p = sandbox_payment(client, org, dep, adults=2)
    r = client.post(f"{page_path(p)}/pay", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{page_path(p)}?result=sent"
    assert (
        "Payment sent — the shop will confirm it shortly" in client.get(r.headers["location"]).text
    )

    # The click settled the sandbox's charge and queued its webhook; TOS knows nothing yet.
    assert charge_status(p["id"]) == "succeeded"
    [msg] = send_messages(db, p["id"])
    assert msg.status == "pending" and msg.organization_id == org.id
    assert msg.payload["event"] == "payment.succeeded"
    assert msg.payload["event_id"].startswith("evt_")
    assert get_booking(client, org, b["id"])["status"] == "payment_pending"
    assert sent == []

    drain(db, org.id)
    assert [a.status_code for a in sent] == [200]
    assert sent[0].json()["data"] == {"received": True, "eventId": msg.payload["event_id"],
                                      "duplicate": False, "outcome": "accepted"}  # fmt: skip
    got = get_booking(client, org, b["id"])
    assert got["status"] == "payment_confirmed" and got["payment_status"] == "paid"
    assert [(e["kind"], e["amount"], e["status"]) for e in got["ledger"]] == [
        ("captured", 10000, "succeeded")
    ]
    payments = client.get(f"/api/v1/bookings/{b['id']}/payments", headers=org.headers()).json()
    assert [(x["id"], x["status"]) for x in payments] == [(p["id"], "succeeded")]
    [row] = webhook_rows(db, msg.payload["event_id"])
    assert row.processed_at is not None and row.payload["data"] == {
        "payment_id": p["id"],
        "charge_id": p["provider_ref"],
        "amount": 10000,
        "currency": "EUR",
    }
    assert "payment confirmed" in client.get(page_path(p)).text


def test_a_second_click_changes_nothing_and_says_so(client, db, org, dep, sent):
    b, p = sandbox_payment(client, org, dep)
    assert client.post(f"{page_path(p)}/pay", follow_redirects=False).status_code == 303
    for action in ("pay", "decline"):
        r = client.post(f"{page_path(p)}/{action}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith("?result=unchanged")
        page = client.get(r.headers["location"]).text
        assert "Nothing changed: this payment is already succeeded" in page
        assert "/pay" not in page  # no buttons once settled
    assert charge_status(p["id"]) == "succeeded"
    assert len(send_messages(db, p["id"])) == 1
    drain(db, org.id)
    assert len(sent) == 1 and len(get_booking(client, org, b["id"])["ledger"]) == 1


def test_decline_fails_the_payment_and_the_booking_keeps_waiting(client, db, org, dep, sent):
    b, p = sandbox_payment(client, org, dep)
    r = client.post(f"{page_path(p)}/decline", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?result=sent")
    assert "Decline sent — the shop will be told shortly" in client.get(r.headers["location"]).text
    assert charge_status(p["id"]) == "failed"
    [msg] = send_messages(db, p["id"])
    assert msg.payload["event"] == "payment.failed"
    drain(db, org.id)
    assert [a.status_code for a in sent] == [200]
    got = get_booking(client, org, b["id"])
    assert got["status"] == "payment_pending" and got["ledger"] == []
    [payment] = client.get(f"/api/v1/bookings/{b['id']}/payments", headers=org.headers()).json()
    assert payment["status"] == "failed" and "declined" in payment["failure_reason"]


def test_a_resent_webhook_is_a_duplicate_and_changes_nothing(client, db, org, dep, sent):
    b, p = sandbox_payment(client, org, dep)
    client.post(f"{page_path(p)}/pay")
    drain(db, org.id)
    [msg] = send_messages(db, p["id"])
    assert msg.status == "done"
    # What an outbox retry does when the first answer was lost: the same event id again.
    with db(write=True, organization_id=org.id) as session:
        sandbox_sender.send(session, msg)
    assert [a.json()["data"]["duplicate"] for a in sent] == [False, True]
    assert drain(db, org.id) == 0
    assert len(webhook_rows(db, msg.payload["event_id"])) == 1
    got = get_booking(client, org, b["id"])
    assert got["status"] == "payment_confirmed" and len(got["ledger"]) == 1


def test_an_unacknowledged_webhook_is_retried_with_the_same_event(
    client, db, org, dep, sent, monkeypatch
):
    b, p = sandbox_payment(client, org, dep)
    client.post(f"{page_path(p)}/pay")
    [msg] = send_messages(db, p["id"])
    working = sandbox_sender.httpx.post
    monkeypatch.setattr(sandbox_sender.httpx, "post",
                        lambda url, **kw: httpx.Response(503, text="down"))  # fmt: skip
    assert outbox.run_message(db, msg.id) == "pending"
    [msg] = send_messages(db, p["id"])
    assert msg.attempts == 1 and "HTTP 503" in msg.last_error and msg.due_at is not None
    assert get_booking(client, org, b["id"])["status"] == "payment_pending"

    monkeypatch.setattr(sandbox_sender.httpx, "post", working)
    with db(write=True) as session, tenancy.unscoped(session):  # its backoff has passed
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.id == msg.id))
        row.due_at = row.created_at
        session.commit()
    drain(db, org.id)
    assert [a.json()["data"]["eventId"] for a in sent] == [msg.payload["event_id"]]
    assert get_booking(client, org, b["id"])["status"] == "payment_confirmed"


@pytest.mark.parametrize("forgery", ["tampered body", "wrong secret", "stale", "missing headers"])
def test_a_forged_webhook_is_a_400_and_stores_nothing(client, db, org, dep, forgery):
    b, p = sandbox_payment(client, org, dep)
    client.post(f"{page_path(p)}/pay")
    with sandbox.records(write=False) as session:
        charge = session.scalar(select(SandboxCharge).where(SandboxCharge.payment_id == p["id"]))
        event = sandbox_sender.build_event(charge, "payment.succeeded", "evt_forged")
    body, headers = sandbox_sender.signed_request(event)
    if forgery == "tampered body":
        body = json.dumps({**event, "data": {**event["data"], "amount": 1}}).encode()
    elif forgery == "wrong secret":
        headers.update(sandbox.sign("not-" + sandbox_secret(), body))
    elif forgery == "stale":
        headers.update(sandbox.sign(sandbox_secret(), body, int(time.time()) - 3600))
    else:
        headers = {"Content-Type": "application/json"}
    with db(write=False) as session, tenancy.unscoped(session):
        outbox_before = session.scalar(select(func.count(OutboxMessage.id)))
    r = client.post("/api/payments/webhook?provider=sandbox", content=body, headers=headers)
    assert r.status_code == 400
    assert r.json()["ok"] is False and r.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert sandbox_secret() not in r.text
    assert webhook_rows(db, "evt_forged") == []
    with db(write=False) as session, tenancy.unscoped(session):
        assert session.scalar(select(func.count(OutboxMessage.id))) == outbox_before
    assert get_booking(client, org, b["id"])["status"] == "payment_pending"
