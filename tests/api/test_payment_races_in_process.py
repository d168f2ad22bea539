"""Missed webhooks and late payments: reconciliation settles what the provider knows, and a
payment that lands after the hold expired is refunded automatically."""

import datetime as dt

import pytest
from sqlalchemy import select

from tests.booking_builders import create_booking, get_booking, make_departure, seats_taken
from tests.payment_builders import drain, post_sandbox_webhook, sandbox_event
from tos.core import clock
from tos.payments.models import SandboxCharge
from tos.payments.providers import sandbox
from tos.payments.reconcile import reconcile_due


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=10, days_ahead=20)


@pytest.fixture
def moved_clock():
    yield clock
    clock.reset()


def sandbox_payment(client, org, booking_id):
    r = client.post(f"/api/v1/bookings/{booking_id}/payments", json={"provider": "sandbox"},
                    headers=org.headers("manager"))  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


def charge(ref):
    with sandbox.records(write=False) as session:
        return session.scalar(select(SandboxCharge).where(SandboxCharge.id == ref))


def set_charge(ref, status):
    with sandbox.records() as session:
        row = session.scalar(select(SandboxCharge).where(SandboxCharge.id == ref))
        row.status = status
        session.commit()


def test_reconciliation_settles_a_payment_whose_webhook_never_came(client, db, org, dep):
    b = create_booking(client, org, dep, adults=2)
    p = sandbox_payment(client, org, b["id"])
    set_charge(p["provider_ref"], "succeeded")  # paid at the provider; the webhook is lost
    assert reconcile_due(db)["captured: payment confirmed"] == 0  # not due yet
    later = clock.utcnow() + dt.timedelta(hours=1)
    outcomes = reconcile_due(db, now=later)
    assert outcomes["captured: payment confirmed"] >= 1
    got = get_booking(client, org, b["id"])
    assert got["status"] == "payment_confirmed" and got["paid"] == 10000
    # The webhook arriving late changes nothing.
    assert post_sandbox_webhook(client, sandbox_event(p)).status_code == 200
    drain(db, org.id)
    assert len(get_booking(client, org, b["id"])["ledger"]) == 1


def test_a_declined_payment_is_reconciled_as_failed(client, db, org, dep):
    b = create_booking(client, org, dep)
    p = sandbox_payment(client, org, b["id"])
    set_charge(p["provider_ref"], "failed")
    later = clock.utcnow() + dt.timedelta(hours=1)
    assert reconcile_due(db, now=later)["payment failed"] >= 1
    payments = client.get(f"/api/v1/bookings/{b['id']}/payments", headers=org.headers()).json()
    assert payments[0]["status"] == "failed"
    assert get_booking(client, org, b["id"])["status"] == "payment_pending"


def test_a_payment_succeeding_just_after_the_hold_expired_is_refunded(
    client, db, org, dep, moved_clock
):
    b = create_booking(client, org, dep, adults=1, hold=True)
    p = sandbox_payment(client, org, b["id"])
    moved_clock.advance(3600)  # past the 30-minute hold
    drain(db, org.id)  # the expiry job: the open intent is cancelled first, then the booking
    got = get_booking(client, org, b["id"])
    assert got["status"] == "cancelled" and got["cancel_reason"] == "expired"
    assert charge(p["provider_ref"]).status == "cancelled"
    assert seats_taken(db, org.id, dep.schedule_id) == 0
    # The race: the customer's payment went through at the provider just before the cancel.
    set_charge(p["provider_ref"], "succeeded")
    assert post_sandbox_webhook(client, sandbox_event(p)).status_code == 200
    drain(db, org.id)
    got = get_booking(client, org, b["id"])
    assert "paid_after_cancellation" in got["flags"]
    assert got["paid"] == got["refunded"] == 5000 and got["status"] == "refunded"
    assert charge(p["provider_ref"]).refunded == 5000
