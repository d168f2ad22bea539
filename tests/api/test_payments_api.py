"""Provider payments on the sandbox: intents, signed webhooks, deposits, refunds, cancels."""

import time

import pytest
from sqlalchemy import select

from tests.booking_builders import create_booking, get_booking, make_departure, seats_taken
from tests.payment_builders import drain, post_sandbox_webhook, sandbox_event
from tests.pricing_builders import set_org_settings
from tos.db import tenancy
from tos.payments.models import SandboxCharge, WebhookEvent
from tos.payments.providers import sandbox


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=10, days_ahead=20)


def intent(client, org, booking_id, role="manager", key=None, **body):
    headers = {**org.headers(role), **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/api/v1/bookings/{booking_id}/payments",
                       json={"provider": "sandbox", **body}, headers=headers)  # fmt: skip


def pay(client, db, org, payment):
    r = post_sandbox_webhook(client, sandbox_event(payment))
    assert r.status_code == 200, r.text
    drain(db, org.id)
    return r


def test_an_intent_moves_the_booking_to_payment_pending_and_a_webhook_confirms_it(
    client, db, org, dep
):
    b = create_booking(client, org, dep, adults=2)
    r = intent(client, org, b["id"])
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["amount"] == 10000 and p["status"] == "requires_action"
    assert p["client_payload"]["checkoutUrl"].endswith(f"/sandbox/checkout/{p['id']}")
    assert get_booking(client, org, b["id"])["status"] == "payment_pending"
    ack = pay(client, db, org, p)
    assert ack.json()["ok"] is True and ack.json()["data"]["duplicate"] is False
    got = get_booking(client, org, b["id"])
    assert got["status"] == "payment_confirmed" and got["payment_status"] == "paid"
    assert [(e["kind"], e["amount"]) for e in got["ledger"]] == [("captured", 10000)]
    events = client.get(f"/api/v1/bookings/{b['id']}/events", headers=org.headers()).json()
    assert any(e["idempotency_key"] == f"payment:{p['id']}" for e in events)


def test_a_replayed_webhook_changes_nothing(client, db, org, dep):
    b = create_booking(client, org, dep)
    p = intent(client, org, b["id"]).json()
    event = sandbox_event(p)
    assert post_sandbox_webhook(client, event).status_code == 200
    drain(db, org.id)
    again = post_sandbox_webhook(client, event)
    assert again.status_code == 200 and again.json()["data"]["duplicate"] is True
    drain(db, org.id)
    assert len(get_booking(client, org, b["id"])["ledger"]) == 1
    with db(write=False) as session, tenancy.unscoped(session):
        rows = session.scalars(
            select(WebhookEvent).where(WebhookEvent.event_id == event["id"])
        ).all()
    assert len(rows) == 1 and rows[0].processed_at is not None


@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "missing"])
def test_a_forged_webhook_is_a_400_and_stores_nothing(client, db, org, dep, tamper):
    b = create_booking(client, org, dep)
    p = intent(client, org, b["id"]).json()
    event = sandbox_event(p)
    if tamper == "secret":
        r = post_sandbox_webhook(client, event, secret="not-the-secret")
    elif tamper == "stale":
        r = post_sandbox_webhook(client, event, timestamp=int(time.time()) - 3600)
    elif tamper == "missing":
        r = client.post("/api/payments/webhook?provider=sandbox", json=event)
    else:
        import json

        from tos.payments.accounts import sandbox_secret
        from tos.payments.providers.sandbox import sign

        body = json.dumps(event).encode()
        headers = sign(sandbox_secret(), body)
        forged = body.replace(str(p["amount"]).encode(), b"1")
        r = client.post("/api/payments/webhook?provider=sandbox", content=forged, headers=headers)
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["ok"] is False and err["error"]["code"] == "INVALID_SIGNATURE"
    assert "secret" not in r.text.lower() or tamper == "secret" and "not-the-secret" not in r.text
    with db(write=False) as session, tenancy.unscoped(session):
        assert (
            session.scalar(select(WebhookEvent).where(WebhookEvent.event_id == event["id"])) is None
        )
    assert get_booking(client, org, b["id"])["status"] == "payment_pending"


def test_webhooks_of_an_unconfigured_provider_are_503_and_unknown_ones_404(client):
    r = client.post("/api/payments/webhook?provider=stripe", content=b"{}")
    assert r.status_code == 503 and r.json()["error"]["code"] == "PAYMENTS_NOT_CONFIGURED"
    assert client.post("/api/payments/webhook?provider=paypal", content=b"{}").status_code == 404
    assert (
        client.post("/api/payments/webhook?provider=sandbox&org=nope", content=b"{}").status_code
        == 404
    )


def test_seed_000_create_intent_returns_the_same_payment_for_the_same_key(client, org, dep):
    b = create_booking(client, org, dep)
    body = {
        "bookingId": b["id"],
        "provider": "sandbox",
        "idempotencyKey": f"intent:booking:{b['id']}",
    }
    first = client.post("/api/payments/create-intent", json=body, headers=org.headers("manager"))
    again = client.post("/api/payments/create-intent", json=body, headers=org.headers("manager"))
    assert first.status_code == again.status_code == 200, first.text
    data = first.json()["data"]
    assert first.json()["ok"] is True and first.json()["requestId"]
    assert (
        data["payment"]["booking_id"] == b["id"] and data["payment"]["status"] == "requires_action"
    )
    assert data["providerPayload"]["provider"] == "sandbox"
    assert again.json()["data"]["payment"]["id"] == data["payment"]["id"]
    bad = client.post("/api/payments/create-intent", json={**body, "provider": "stripe",
                      "idempotencyKey": "other"}, headers=org.headers("manager"))  # fmt: skip
    assert bad.status_code == 503 and bad.json()["ok"] is False
    assert bad.json()["error"]["code"] == "PAYMENTS_NOT_CONFIGURED"


def test_a_deposit_confirms_and_the_balance_only_moves_the_payment_status(client, db, org, dep):
    set_org_settings(db, org.id, deposit={"type": "percentage", "value": 3000})
    b = create_booking(client, org, dep, adults=2)
    r = intent(client, org, b["id"], amount=1000)
    assert r.status_code == 409 and r.json()["error"]["code"] == "AMOUNT_NOT_ALLOWED"
    assert intent(client, org, b["id"], amount=20000).status_code == 409
    deposit = intent(client, org, b["id"], amount=3000).json()
    pay(client, db, org, deposit)
    got = get_booking(client, org, b["id"])
    assert got["status"] == "payment_confirmed" and got["payment_status"] == "partial"
    balance = intent(client, org, b["id"]).json()
    assert balance["amount"] == 7000
    pay(client, db, org, balance)
    got = get_booking(client, org, b["id"])
    assert got["status"] == "payment_confirmed" and got["payment_status"] == "paid"
    assert intent(client, org, b["id"]).status_code == 409  # nothing left to pay


def test_refunds_are_reserved_then_settled_and_never_exceed_the_capture(client, db, org, dep):
    b = create_booking(client, org, dep, adults=2)
    p = intent(client, org, b["id"]).json()
    pay(client, db, org, p)
    url = f"/api/v1/bookings/{b['id']}/refunds"
    r = client.post(
        url, json={"amount": 4000, "reason": "goodwill"}, headers=org.headers("accountant")
    )
    assert r.status_code == 202, r.text
    assert [(e["kind"], e["status"], e["amount"]) for e in r.json()] == [
        ("refund", "pending", 4000)
    ]
    over = client.post(url, json={"amount": 6001, "reason": "x"}, headers=org.headers("accountant"))
    assert over.status_code == 409 and over.json()["error"]["code"] == "REFUND_EXCEEDS_PAID"
    assert client.post(url, json={"reason": "x"}, headers=org.headers("manager")).status_code == 403
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert got["refunded"] == 4000 and got["payment_status"] == "partially_refunded"
    with sandbox.records(write=False) as session:
        charge = session.scalar(select(SandboxCharge).where(SandboxCharge.id == p["provider_ref"]))
    # The provider's own records agree with the ledger.
    assert (charge.amount, charge.refunded) == (got["paid"], got["refunded"])


def test_cancelling_refunds_the_policy_amount_or_the_chosen_one(client, db, org, dep):
    policy = {"name": "Standard", "is_default": True,
              "rules": [{"hours_before_tour": 720, "refund_bps": 10000},
                        {"hours_before_tour": 48, "refund_bps": 5000}]}  # fmt: skip
    r = client.post("/api/v1/cancellation-policies", json=policy, headers=org.headers())
    assert r.status_code == 201, r.text
    b = create_booking(client, org, dep, adults=2)
    pay(client, db, org, intent(client, org, b["id"]).json())
    # 20 days ahead: the 48-hour rule applies, half back.
    r = client.post(f"/api/v1/bookings/{b['id']}/cancel", json={"reason": "ill"},
                    headers=org.headers("manager"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["refund"]["amount"] == 5000
    assert seats_taken(db, org.id, dep.schedule_id) == 0
    drain(db, org.id)
    assert get_booking(client, org, b["id"])["refunded"] == 5000

    b2 = create_booking(client, org, dep, adults=2, email="rui@example.com")
    pay(client, db, org, intent(client, org, b2["id"]).json())
    r = client.post(
        f"/api/v1/bookings/{b2['id']}/cancel",
        json={"reason": "x", "refund_amount": 9000},
        headers=org.headers("manager"),
    )
    assert r.status_code == 403
    r = client.post(f"/api/v1/bookings/{b2['id']}/cancel", json={"reason": "operator"},
                    headers=org.headers("admin"))  # fmt: skip
    assert r.json()["refund"]["amount"] == 10000
    drain(db, org.id)
    got = get_booking(client, org, b2["id"])
    assert got["status"] == "refunded" and got["payment_status"] == "refunded"


def test_a_payment_landing_after_the_hold_expired_is_refunded_and_flagged(client, db, org, dep):
    b = create_booking(client, org, dep, adults=1)
    p = intent(client, org, b["id"]).json()
    r = client.post(f"/api/v1/bookings/{b['id']}/cancel", json={"reason": "expired"},
                    headers=org.headers("manager"))  # fmt: skip
    assert r.status_code == 200
    pay(client, db, org, p)
    got = get_booking(client, org, b["id"])
    assert "paid_after_cancellation" in got["flags"]
    assert got["paid"] == got["refunded"] == 5000
    assert got["status"] == "refunded"


def test_a_dispute_flags_the_booking(client, db, org, dep):
    b = create_booking(client, org, dep)
    p = intent(client, org, b["id"]).json()
    pay(client, db, org, p)
    assert post_sandbox_webhook(client, sandbox_event(p, "dispute.created")).status_code == 200
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert "disputed" in got["flags"] and got["payment_status"] == "disputed"


def test_payments_of_another_organization_are_404(client, org, other_org, dep):
    b = create_booking(client, org, dep)
    assert intent(client, other_org, b["id"]).status_code == 404
    assert (
        client.get(f"/api/v1/bookings/{b['id']}/payments", headers=other_org.headers()).status_code
        == 404
    )


def test_a_payment_landing_after_the_booking_was_refunded_goes_back_too(client, db, org, dep):
    b = create_booking(client, org, dep, adults=1)
    pay(client, db, org, intent(client, org, b["id"]).json())
    r = client.post(f"/api/v1/bookings/{b['id']}/refunds", json={"amount": 2500,
                    "reason": "goodwill"}, headers=org.headers("accountant"))  # fmt: skip
    assert r.status_code == 202, r.text
    drain(db, org.id)
    late = intent(client, org, b["id"])  # the balance is due again: a second intent opens
    assert late.status_code == 201, late.text
    r = client.post(f"/api/v1/bookings/{b['id']}/cancel", json={"reason": "operator"},
                    headers=org.headers("admin"))  # fmt: skip
    assert r.status_code == 200, r.text
    drain(db, org.id)
    assert get_booking(client, org, b["id"])["status"] == "refunded"
    pay(client, db, org, late.json())  # the customer pays the old intent anyway
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert got["paid"] == 7500 and got["refunded"] == 7500
    assert "paid_after_cancellation" in got["flags"] and got["status"] == "refunded"
