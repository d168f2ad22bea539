"""Stripe end to end over the API, with the official SDK talking to the local Stripe fake: the
organization's own account, intents, signed webhooks on all three paths, replays and forgeries,
refunds (immediate and pending), declines, disputes, and another organization's account."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import select, update

from tests.booking_builders import create_booking, get_booking, make_departure
from tests.fakes.stripe_server import StripeAccount, StripeFake, running_stripe_fake
from tests.payment_builders import drain
from tos.core.clock import utcnow
from tos.db import tenancy
from tos.outbox.models import OutboxMessage
from tos.payments.models import WebhookEvent
from tos.payments.providers import stripe as stripe_adapter
from tos.payments.providers.base import RefundRequest

PATHS = ["/api/payments/webhook?provider=stripe&org={}", "/api/webhooks/stripe?org={}",
         "/webhooks/stripe?org={}"]  # fmt: skip


@pytest.fixture(autouse=True)
def no_sdk_retries(monkeypatch):
    # TOS's outbox retries; the SDK's own back-off sleeps would only slow the tests down.
    monkeypatch.setattr(stripe_adapter.provider, "max_network_retries", 0)


@pytest.fixture
def fake():
    with running_stripe_fake() as f:
        yield f


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=20, days_ahead=20)


def connect(client, org, fake: StripeFake, account: StripeAccount | None = None) -> None:
    acct = account or fake.account
    r = client.put("/api/v1/payment-accounts/stripe", headers=org.headers("owner"),
                   json={"secret_key": acct.secret_key, "key_id": acct.publishable_key,
                         "webhook_secret": acct.webhook_secret, "api_base": fake.url})  # fmt: skip
    assert r.status_code == 200, r.text


def started(client, org, fake, dep, adults: int = 2) -> tuple[dict, dict]:
    """A booking of `org` with an open Stripe intent: (booking, payment)."""
    connect(client, org, fake)
    b = create_booking(client, org, dep, adults=adults)
    r = client.post(f"/api/v1/bookings/{b['id']}/payments", json={"provider": "stripe"},
                    headers=org.headers("manager"))  # fmt: skip
    assert r.status_code == 201, r.text
    return b, r.json()


def post(client, org, delivery: tuple[bytes, dict], path: str = PATHS[0], slug: str | None = None):
    body, headers = delivery
    return client.post(path.format(slug or org.slug), content=body, headers=headers)


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
    return [(e["kind"], e["status"], e["amount"])
            for e in get_booking(client, org, booking_id)["ledger"]]  # fmt: skip


def stored(db, event_id: str) -> list[WebhookEvent]:
    with db(write=False) as s, tenancy.unscoped(s):
        return list(s.scalars(select(WebhookEvent).where(WebhookEvent.event_id == event_id)))


def event_id(delivery: tuple[bytes, dict]) -> str:
    return json.loads(delivery[0])["id"]


def payment_of(client, org, booking_id: str) -> dict:
    r = client.get(f"/api/v1/bookings/{booking_id}/payments", headers=org.headers())
    assert r.status_code == 200, r.text
    return r.json()[-1]


@pytest.mark.parametrize("path", PATHS)
def test_intent_webhook_confirms_once_on_each_path(client, db, org, fake, dep, path):
    b, p = started(client, org, fake, dep)
    ref = p["provider_ref"]
    pi = fake.intents[ref]
    assert p["client_payload"] == {"provider": "stripe", "clientSecret": pi["client_secret"],
                                   "paymentIntentId": ref,
                                   "publishableKey": fake.account.publishable_key}  # fmt: skip
    assert (pi["amount"], pi["currency"], pi["metadata"]["payment_id"]) == (10000, "eur", p["id"])
    assert get_booking(client, org, b["id"])["status"] == "payment_pending"

    delivery = fake.succeed(ref)
    r = post(client, org, delivery, path)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"received": True, "eventId": event_id(delivery),
                                "duplicate": False, "outcome": "accepted"}  # fmt: skip
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["status"], got["payment_status"]) == ("payment_confirmed", "paid")
    assert ledger(client, org, b["id"]) == [("captured", "succeeded", fake.captured(ref))]
    assert fake.captured(ref) == 10000 and payment_of(client, org, b["id"])["status"] == "succeeded"

    again = post(client, org, delivery, path)
    assert again.status_code == 200 and again.json()["data"]["duplicate"] is True
    drain(db, org.id)
    assert ledger(client, org, b["id"]) == [("captured", "succeeded", 10000)]
    (row,) = stored(db, event_id(delivery))
    assert (row.organization_id, row.account, row.outcome) == (
        org.id, org.slug, "captured: payment confirmed")  # fmt: skip


@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "missing"])
def test_a_forged_webhook_is_400_and_stores_nothing(client, db, org, fake, dep, tamper):
    b, p = started(client, org, fake, dep)
    body, headers = fake.succeed(p["provider_ref"])
    event = json.loads(body)
    if tamper == "body":
        body = body.replace(b'"livemode": false', b'"livemode": true')
    elif tamper == "secret":
        body, headers = fake.signed(event, secret="whsec_" + "x" * 32)
    elif tamper == "stale":
        body, headers = fake.signed(event, timestamp=int(time.time()) - 301)
    else:
        headers = {"Content-Type": "application/json"}
    r = post(client, org, (body, headers))
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert fake.account.webhook_secret not in r.text
    assert stored(db, event["id"]) == []
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert got["status"] == "payment_pending" and got["ledger"] == []


def test_partial_then_full_refund_and_cancel(client, db, org, fake, dep):
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
    assert (got["refunded"], fake.refunded(ref)) == (3000, 3000)
    assert got["payment_status"] == "partially_refunded" and got["refund_pending"] == 0
    (re,) = fake.refunds_for(ref)
    assert re["metadata"]["refund_id"] == got["ledger"][-1]["id"]  # the entry id is the key

    # cancelling refunds the rest (all that is left, by default for an owner)
    r = client.post(f"/api/v1/bookings/{b['id']}/cancel", json={"reason": "weather"},
                    headers=org.headers("owner"))  # fmt: skip
    assert r.status_code == 200 and r.json()["refund"]["amount"] == 7000, r.text
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["refunded"], fake.refunded(ref), fake.net(ref)) == (10000, 10000, 0)
    assert (got["status"], got["payment_status"]) == ("refunded", "refunded")
    assert refund(client, org, b["id"], 1).status_code == 409
    assert len(fake.refunds_for(ref)) == 2


def test_refunds_all_then_cancel(client, db, org, fake, dep):
    b, p = paid(client, db, org, fake, dep)
    assert refund(client, org, b["id"], 4000).status_code == 202
    assert refund(client, org, b["id"]).status_code == 202  # the rest
    assert refund(client, org, b["id"], 1).status_code == 409  # all reserved already
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert got["refunded"] == fake.refunded(p["provider_ref"]) == 10000
    assert got["status"] == "payment_confirmed"  # refunded, but nobody cancelled it
    r = client.post(f"/api/v1/bookings/{b['id']}/cancel", json={"reason": "weather"},
                    headers=org.headers("owner"))  # fmt: skip
    assert r.status_code == 200 and r.json()["refund"]["amount"] == 0, r.text
    drain(db, org.id)
    assert get_booking(client, org, b["id"])["status"] == "refunded"


def test_a_pending_refund_settles_by_the_refund_webhook(client, db, org, fake, dep):
    b, p = paid(client, db, org, fake, dep)
    ref = p["provider_ref"]
    fake.refund_status = "pending"
    assert refund(client, org, b["id"], 2500).status_code == 202
    assert refund(client, org, b["id"], 1500).status_code == 202
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["refunded"], got["refund_pending"]) == (0, 4000)
    assert fake.refunded(ref) == 4000  # Stripe counts pending refunds as gone
    ok, bad = sorted(fake.refunds_for(ref), key=lambda r: -r["amount"])
    assert (ok["status"], bad["status"]) == ("pending", "pending")
    assert refund(client, org, b["id"], 6001).status_code == 409  # pending ones are reserved

    # refund.created (still pending) changes nothing
    created = [e for e in fake.events_of_type("refund.created")
               if e["data"]["object"]["id"] == ok["id"]]  # fmt: skip
    assert post(client, org, fake.signed(created[0])).json()["data"]["outcome"] == "ignored"

    assert post(client, org, fake.set_refund_status(ok["id"], "succeeded")).status_code == 200
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["refunded"], got["refund_pending"]) == (2500, 1500)

    delivery = fake.set_refund_status(bad["id"], "failed")
    assert post(client, org, delivery).status_code == 200
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert (got["refunded"], got["refund_pending"]) == (2500, 0)
    assert got["refunded"] == fake.refunded(ref) and "refund_failed" in got["flags"]
    assert sorted(ledger(client, org, b["id"])) == [
        ("captured", "succeeded", 10000), ("refund", "failed", 1500),
        ("refund", "succeeded", 2500)]  # fmt: skip
    assert post(client, org, delivery).json()["data"]["duplicate"] is True


def test_a_transient_provider_error_leaves_the_refund_pending_until_retried(
    client, db, org, fake, dep
):
    b, p = paid(client, db, org, fake, dep)
    fake.inject_error(500, 1)
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


def test_a_refund_made_in_stripes_dashboard_lands_on_the_ledger(client, db, org, fake, dep):
    b, p = paid(client, db, org, fake, dep)
    ref = p["provider_ref"]
    outside = RefundRequest(str(uuid.uuid4()), ref, None, 2000, "EUR")  # not one of TOS's
    stripe_adapter.provider.refund(fake.creds(), outside)
    r = post(client, org, fake.signed(fake.events_of_type("refund.created")[-1]))
    assert r.status_code == 200 and r.json()["data"]["outcome"] == "accepted", r.text
    # charge.refunded names no refund nor amount: nothing more
    assert post(client, org, fake.signed(fake.events_of_type("charge.refunded")[-1])).is_success
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert got["refunded"] == fake.refunded(ref) == 2000
    assert refund(client, org, b["id"], 8001).status_code == 409
    assert refund(client, org, b["id"]).status_code == 202  # the rest: 8000
    drain(db, org.id)
    assert get_booking(client, org, b["id"])["refunded"] == fake.refunded(ref) == 10000


def test_a_declined_payment_fails_and_the_booking_waits(client, db, org, fake, dep):
    b, p = started(client, org, fake, dep)
    r = post(client, org, fake.fail(p["provider_ref"], message="Your card has insufficient funds."))
    assert r.status_code == 200, r.text
    drain(db, org.id)
    pay = payment_of(client, org, b["id"])
    assert (pay["status"], pay["failure_reason"]) == ("failed", "Your card has insufficient funds.")
    got = get_booking(client, org, b["id"])
    assert (got["status"], got["ledger"]) == ("payment_pending", [])
    assert fake.captured(p["provider_ref"]) == 0


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

    # org's event at the other organization's URL: their secret does not verify it
    r = post(client, org, delivery, slug=other_org.slug)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_SIGNATURE"
    # signed with their own secret (another event id): verified, but no payment of theirs
    forged_id = f"evt_{uuid.uuid4().hex}"
    forged = fake.signed({**json.loads(delivery[0]), "id": forged_id}, secret=theirs.webhook_secret)
    r = post(client, org, forged, slug=other_org.slug)
    assert r.status_code == 200 and r.json()["data"]["outcome"] == "unknown payment", r.text
    (row,) = stored(db, forged_id)
    assert (row.organization_id, row.account, row.outcome) == (
        None, other_org.slug, "unknown payment")  # fmt: skip
    drain(db, org.id), drain(db, other_org.id)
    assert get_booking(client, org, b["id"])["status"] == "payment_pending"

    # the real one, at org's own URL
    assert post(client, org, delivery).json()["data"]["outcome"] == "accepted"
    drain(db, org.id)
    assert get_booking(client, org, b["id"])["status"] == "payment_confirmed"


def test_one_stripe_account_shared_by_two_organizations(client, db, org, other_org, fake, dep):
    """Stripe sends the same event (same id) to every endpoint of an account: both
    organizations' URLs get it; whichever order, the payment's organization must settle it."""
    connect(client, other_org, fake)  # the same Stripe account
    b, p = started(client, org, fake, dep)
    delivery = fake.succeed(p["provider_ref"])
    assert post(client, org, delivery, slug=other_org.slug).json()["data"]["outcome"] == (
        "unknown payment"
    )
    assert post(client, org, delivery).json()["data"]["outcome"] == "accepted"
    drain(db, org.id)
    assert get_booking(client, org, b["id"])["status"] == "payment_confirmed"
