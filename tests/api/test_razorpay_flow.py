"""Razorpay end to end over the API, with the official SDK talking to the local Razorpay fake: the
organization's own account, orders, signed webhooks, replays and forgeries, refunds (processed
and pending), declines, disputes, and another organization's account."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, update

from tests.booking_builders import create_booking, get_booking, make_departure
from tests.fakes.razorpay_server import RazorpayAccount, RazorpayFake, running_razorpay_fake
from tests.payment_builders import drain
from tos.core.clock import utcnow
from tos.db import tenancy
from tos.outbox.models import OutboxMessage
from tos.payments.models import WebhookEvent

WEBHOOK = "/api/payments/webhook?provider=razorpay&org={}"


@pytest.fixture
def fake():
    with running_razorpay_fake() as f:
        yield f


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=20, days_ahead=20)


def connect(client, org, fake: RazorpayFake, account: RazorpayAccount | None = None) -> None:
    acct = account or fake.account
    r = client.put("/api/v1/payment-accounts/razorpay", headers=org.headers("owner"),
                   json={"secret_key": acct.key_secret, "key_id": acct.key_id,
                         "webhook_secret": acct.webhook_secret, "api_base": fake.url})  # fmt: skip
    assert r.status_code == 200, r.text


def started(client, org, fake, dep, adults: int = 2) -> tuple[dict, dict]:
    """A booking of `org` with an open Razorpay order: (booking, payment)."""
    connect(client, org, fake)
    b = create_booking(client, org, dep, adults=adults)
    r = client.post(f"/api/v1/bookings/{b['id']}/payments", json={"provider": "razorpay"},
                    headers=org.headers("manager"))  # fmt: skip
    assert r.status_code == 201, r.text
    return b, r.json()


def post(client, org, delivery: tuple[bytes, dict], slug: str | None = None):
    body, headers = delivery
    return client.post(WEBHOOK.format(slug or org.slug), content=body, headers=headers)


def paid(client, db, org, fake, dep, **kw) -> tuple[dict, dict]:
    b, p = started(client, org, fake, dep, **kw)
    assert post(client, org, fake.succeed(p["provider_ref"])).status_code == 200
    drain(db, org.id)
    return b, p


def refund(client, org, booking_id: str, amount: int | None = None):
    body = {"reason": "goodwill", **({"amount": amount} if amount else {})}
    return client.post(f"/api/v1/bookings/{booking_id}/refunds", json=body,
                       headers=org.headers("accountant"))  # fmt: skip


def ledger(client, org, booking_id: str) -> list[tuple[str, str, int]]:
    return sorted((e["kind"], e["status"], e["amount"])
                  for e in get_booking(client, org, booking_id)["ledger"])  # fmt: skip


def stored(db, event_id: str) -> list[WebhookEvent]:
    with db(write=False) as s, tenancy.unscoped(s):
        return list(s.scalars(select(WebhookEvent).where(WebhookEvent.event_id == event_id)))


def event_id(delivery: tuple[bytes, dict]) -> str:
    return delivery[1]["X-Razorpay-Event-Id"]


def payment_of(client, org, booking_id: str) -> dict:
    r = client.get(f"/api/v1/bookings/{booking_id}/payments", headers=org.headers())
    assert r.status_code == 200, r.text
    return r.json()[-1]


def last_event(fake: RazorpayFake, name: str, **signing) -> tuple[bytes, dict]:
    return fake.signed(fake.events_of_type(name)[-1], **signing)


def test_order_webhook_confirms_once(client, db, org, fake, dep):
    b, p = started(client, org, fake, dep)
    ref = p["provider_ref"]
    order = fake.orders[ref]
    assert p["client_payload"] == {"provider": "razorpay", "orderId": ref,
                                   "keyId": fake.account.key_id, "amount": 10000,
                                   "currency": "EUR"}  # fmt: skip
    assert order["notes"] == {"payment_id": p["id"], "booking_id": b["id"]}
    assert order["receipt"] == b["reference"]
    assert get_booking(client, org, b["id"])["status"] == "payment_pending"

    delivery = fake.succeed(ref)
    r = post(client, org, delivery)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"received": True, "eventId": event_id(delivery),
                                "duplicate": False, "outcome": "accepted"}  # fmt: skip
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["status"], got["payment_status"]) == ("payment_confirmed", "paid")
    assert ledger(client, org, b["id"]) == [("captured", "succeeded", fake.captured(ref))]
    assert fake.captured(ref) == 10000 and payment_of(client, org, b["id"])["status"] == "succeeded"

    again = post(client, org, delivery)
    assert again.status_code == 200 and again.json()["data"]["duplicate"] is True
    # order.paid is another event about the same payment: acknowledged, nothing taken twice
    assert post(client, org, last_event(fake, "order.paid")).json()["data"]["duplicate"] is False
    drain(db, org.id)
    assert ledger(client, org, b["id"]) == [("captured", "succeeded", 10000)]
    (row,) = stored(db, event_id(delivery))
    assert (row.organization_id, row.account, row.outcome) == (
        org.id, org.slug, "captured: payment confirmed")  # fmt: skip


def test_a_replay_under_a_new_event_id_takes_nothing_twice(client, db, org, fake, dep):
    """X-Razorpay-Event-Id is not signed: a captured delivery replayed under another id passes
    the signature and is stored anew, but processing it changes nothing."""
    b, p = started(client, org, fake, dep)
    body, headers = fake.succeed(p["provider_ref"])
    assert post(client, org, (body, headers)).status_code == 200
    replayed = post(client, org, (body, {**headers, "X-Razorpay-Event-Id": "replayed12345"}))
    assert replayed.json()["data"] == {"received": True, "eventId": "replayed12345",
                                       "duplicate": False, "outcome": "accepted"}  # fmt: skip
    drain(db, org.id)
    assert ledger(client, org, b["id"]) == [("captured", "succeeded", 10000)]
    # Whichever of the two runs first captures; the other finds it done.
    outcomes = {stored(db, key)[0].outcome for key in (event_id((body, headers)), "replayed12345")}
    assert outcomes == {"captured: payment confirmed", "already captured"}


@pytest.mark.parametrize("tamper", ["body", "secret", "missing"])
def test_a_forged_webhook_is_400_and_stores_nothing(client, db, org, fake, dep, tamper):
    b, p = started(client, org, fake, dep)
    body, headers = fake.succeed(p["provider_ref"])
    if tamper == "body":
        body = body.replace(b'"captured": true', b'"captured": false')
    elif tamper == "secret":
        body, headers = fake.signed(json.loads(body), secret="x" * 20,
                                    event_id=headers["X-Razorpay-Event-Id"])  # fmt: skip
    else:
        headers = {k: v for k, v in headers.items() if k != "X-Razorpay-Signature"}
    r = post(client, org, (body, headers))
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert fake.account.webhook_secret not in r.text
    assert stored(db, headers["X-Razorpay-Event-Id"]) == []
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert got["status"] == "payment_pending" and got["ledger"] == []


def test_partial_refund_then_cancel_refunds_the_rest(client, db, org, fake, dep):
    b, p = paid(client, db, org, fake, dep)
    ref = p["provider_ref"]
    r = refund(client, org, b["id"], 3000)
    assert r.status_code == 202, r.text
    assert [(e["kind"], e["status"], e["amount"]) for e in r.json()] == [
        ("refund", "pending", 3000)
    ]
    over = refund(client, org, b["id"], 7001)  # 7000 left
    assert over.status_code == 409 and over.json()["error"]["code"] == "REFUND_EXCEEDS_PAID"
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["refunded"], fake.refunded(ref), got["refund_pending"]) == (3000, 3000, 0)
    (rf,) = fake.refunds_for(ref)
    entry_id = next(e["id"] for e in got["ledger"] if e["kind"] == "refund")
    assert rf["notes"]["refund_id"] == entry_id and rf["receipt"] == entry_id[:40]
    # Razorpay's refund.processed for a refund already settled by its answer: nothing more
    assert post(client, org, last_event(fake, "refund.processed")).status_code == 200
    drain(db, org.id)
    assert get_booking(client, org, b["id"])["refunded"] == 3000

    r = client.post(f"/api/v1/bookings/{b['id']}/cancel", json={"reason": "weather"},
                    headers=org.headers("admin"))  # fmt: skip
    assert r.status_code == 200 and r.json()["refund"]["amount"] == 7000, r.text
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["refunded"], fake.refunded(ref), fake.net(ref)) == (10000, 10000, 0)
    assert (got["status"], got["payment_status"]) == ("refunded", "refunded")
    assert refund(client, org, b["id"], 1).status_code == 409


def test_a_pending_refund_settles_by_its_webhook(client, db, org, fake, dep):
    b, p = paid(client, db, org, fake, dep)
    ref = p["provider_ref"]
    fake.refund_status = "pending"
    assert refund(client, org, b["id"], 2500).status_code == 202
    assert refund(client, org, b["id"], 1500).status_code == 202
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["refunded"], got["refund_pending"], fake.refunded(ref)) == (0, 4000, 4000)
    ok, bad = sorted(fake.refunds_for(ref), key=lambda r: -r["amount"])

    assert post(client, org, fake.set_refund_status(ok["id"], "processed")).status_code == 200
    delivery = fake.set_refund_status(bad["id"], "failed")
    assert post(client, org, delivery).status_code == 200
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["refunded"], got["refund_pending"]) == (2500, 0)
    assert got["refunded"] == fake.refunded(ref) and "refund_failed" in got["flags"]
    assert ledger(client, org, b["id"]) == [
        ("captured", "succeeded", 10000), ("refund", "failed", 1500),
        ("refund", "succeeded", 2500)]  # fmt: skip
    assert post(client, org, delivery).json()["data"]["duplicate"] is True


def test_a_transient_provider_error_leaves_the_refund_pending_until_retried(
    client, db, org, fake, dep
):
    b, p = paid(client, db, org, fake, dep)
    fake.inject_error(503, 1)
    assert refund(client, org, b["id"], 1000).status_code == 202
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["refunded"], got["refund_pending"], fake.refunded(p["provider_ref"])) == (
        0,
        1000,
        0,
    )
    with db(write=True) as s, tenancy.unscoped(s):  # the back-off is over
        s.execute(update(OutboxMessage).where(OutboxMessage.organization_id == org.id,
                                              OutboxMessage.status == "pending")
                  .values(due_at=utcnow()))  # fmt: skip
        s.commit()
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["refunded"], got["refund_pending"], fake.refunded(p["provider_ref"])) == (
        1000,
        0,
        1000,
    )
    assert len(fake.refunds_for(p["provider_ref"])) == 1


def test_a_refund_below_razorpays_minimum_fails_at_the_provider(client, db, org, fake, dep):
    b, p = paid(client, db, org, fake, dep)
    assert refund(client, org, b["id"], 99).status_code == 202  # Razorpay refunds from 100
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["refunded"], got["refund_pending"], fake.refunded(p["provider_ref"])) == (0, 0, 0)
    assert "refund_failed" in got["flags"]
    assert ledger(client, org, b["id"]) == [("captured", "succeeded", 10000),
                                            ("refund", "failed", 99)]  # fmt: skip


def test_a_declined_payment_fails_and_the_booking_waits(client, db, org, fake, dep):
    b, p = started(client, org, fake, dep)
    r = post(client, org, fake.fail(p["provider_ref"], description="The card was declined."))
    assert r.status_code == 200, r.text
    drain(db, org.id)
    pay = payment_of(client, org, b["id"])
    assert (pay["status"], pay["failure_reason"]) == ("failed", "The card was declined.")
    got = get_booking(client, org, b["id"])
    assert (got["status"], got["ledger"]) == ("payment_pending", [])
    # the customer tries another card on the same order
    assert post(client, org, fake.succeed(p["provider_ref"])).status_code == 200
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert got["status"] == "payment_confirmed" and got["paid"] == fake.captured(p["provider_ref"])


def test_a_dispute_flags_the_booking(client, db, org, fake, dep):
    b, p = paid(client, db, org, fake, dep)
    assert post(client, org, fake.dispute(p["provider_ref"])).status_code == 200
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert "disputed" in got["flags"] and got["payment_status"] == "disputed"
    assert got["status"] == "payment_confirmed"


def test_another_organizations_account_cannot_settle_this_payment(
    client, db, org, other_org, fake, dep
):
    theirs = fake.add_account()
    connect(client, other_org, fake, theirs)
    b, p = started(client, org, fake, dep)
    delivery = fake.succeed(p["provider_ref"])  # signed with org's secret

    r = post(client, org, delivery, slug=other_org.slug)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_SIGNATURE"
    forged_id = uuid.uuid4().hex[:14]
    forged = fake.signed(json.loads(delivery[0]), secret=theirs.webhook_secret, event_id=forged_id)
    r = post(client, org, forged, slug=other_org.slug)
    assert r.status_code == 200 and r.json()["data"]["outcome"] == "unknown payment", r.text
    (row,) = stored(db, forged_id)
    assert (row.organization_id, row.account, row.outcome) == (
        None, other_org.slug, "unknown payment")  # fmt: skip
    drain(db, org.id), drain(db, other_org.id)
    assert get_booking(client, org, b["id"])["status"] == "payment_pending"

    assert post(client, org, delivery).json()["data"]["outcome"] == "accepted"
    drain(db, org.id)
    assert get_booking(client, org, b["id"])["status"] == "payment_confirmed"
