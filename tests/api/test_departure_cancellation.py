"""POST /api/v1/schedules/{id}/cancel: every live booking cancelled and refunded once, even when
the job dies half-way and is resumed."""

import pytest
from sqlalchemy import select, update

from tests.booking_builders import create_booking, get_booking, make_departure, seats_taken
from tests.payment_builders import drain, post_sandbox_webhook, sandbox_event
from tos.bookings import departure_cancellation
from tos.core.clock import utcnow
from tos.db import tenancy
from tos.outbox.models import OutboxMessage
from tos.payments import refunds
from tos.payments.models import LedgerEntry


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=20, days_ahead=20)


def paid_booking(client, db, org, dep, i):
    b = create_booking(client, org, dep, adults=1, email=f"c{i}@example.com")
    r = client.post(f"/api/v1/bookings/{b['id']}/payments", json={"provider": "sandbox"},
                    headers=org.headers("manager"))  # fmt: skip
    assert r.status_code == 201, r.text
    assert post_sandbox_webhook(client, sandbox_event(r.json())).status_code == 200
    drain(db, org.id)
    return b


def cancel(client, org, dep, role="admin", **body):
    return client.post(f"/api/v1/schedules/{dep.schedule_id}/cancel",
                       json={"reason": "storm", **body}, headers=org.headers(role))  # fmt: skip


def pending_jobs(db, org):
    """The departure job's pending messages (refund calls it promised are others)."""
    with db(write=False) as session, tenancy.unscoped(session):
        return session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.organization_id == org.id,
                                           OutboxMessage.status == "pending",
                                           OutboxMessage.handler == "bookings.cancel_departure")
        ).all()  # fmt: skip


def test_a_crash_half_way_resumes_and_refunds_each_booking_once(client, db, org, dep, monkeypatch):
    monkeypatch.setattr(departure_cancellation, "BATCH", 2)
    paid = [paid_booking(client, db, org, dep, i) for i in range(5)]
    unpaid = create_booking(client, org, dep, adults=2, email="late@example.com")
    r = cancel(client, org, dep, notify_customers=False)
    assert r.status_code == 202, r.text
    assert r.json()["bookings_to_cancel"] == 6 and r.json()["schedule"]["status"] == "cancelled"

    from tos.outbox import service as outbox

    # The first batch commits; the next one dies half-way (its refund call blows up).
    (first,) = pending_jobs(db, org)
    assert outbox.run_message(db, first) == "done"
    real = refunds.request_refund
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("process killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(refunds, "request_refund", dying)
    (second,) = [m for m in pending_jobs(db, org) if m != first]
    assert outbox.run_message(db, second) == "pending"  # rolled back, to be retried
    monkeypatch.setattr(refunds, "request_refund", real)
    with db(write=True) as session, tenancy.unscoped(session):
        session.execute(update(OutboxMessage).where(OutboxMessage.id == second)
                        .values(due_at=utcnow()))  # fmt: skip
        session.commit()
    drain(db, org.id)

    for b in paid:
        got = get_booking(client, org, b["id"])
        assert got["status"] == "refunded", got["status"]
        assert got["paid"] == got["refunded"] == 5000
        with db(write=False, organization_id=org.id) as session:
            refunds_made = session.scalars(
                select(LedgerEntry).where(LedgerEntry.booking_id == b["id"],
                                          LedgerEntry.kind == "refund")
            ).all()  # fmt: skip
        assert len(refunds_made) == 1
    assert get_booking(client, org, unpaid["id"])["status"] == "cancelled"
    assert seats_taken(db, org.id, dep.schedule_id) == 0
    # Asking again changes nothing.
    again = cancel(client, org, dep)
    assert again.status_code == 202 and again.json()["bookings_to_cancel"] == 0


@pytest.mark.parametrize("role", ["manager", "staff", "accountant", "guide"])
def test_only_owners_and_admins_cancel_a_departure(client, org, dep, role):
    assert cancel(client, org, dep, role=role).status_code == 403


def test_another_organizations_departure_is_404(client, org, other_org, dep):
    assert cancel(client, other_org, dep).status_code == 404
