"""Seed 000 §7's automations through the outbox: one invoice, one confirmation, documents and
the lifecycle moved on — exactly once, even when a step dies half-way and is retried."""

import datetime as dt

import pytest
from sqlalchemy import select, update

from tests.booking_builders import add_schedule, create_booking, get_booking, make_departure
from tests.payment_builders import drain, post_sandbox_webhook, sandbox_event
from tos.automations import periodic
from tos.core import clock
from tos.db import tenancy
from tos.documents.models import Document
from tos.messaging.models import Communication
from tos.outbox.models import OutboxMessage


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=10, days_ahead=20)


def paid(client, db, org, dep, **kw):
    b = create_booking(client, org, dep, **kw)
    r = client.post(f"/api/v1/bookings/{b['id']}/payments", json={"provider": "sandbox"},
                    headers=org.headers("manager"))  # fmt: skip
    assert r.status_code == 201, r.text
    assert post_sandbox_webhook(client, sandbox_event(r.json())).status_code == 200
    return b


def rows(db, org, model, **where):
    with db(write=False, organization_id=org.id) as session:
        stmt = select(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return session.scalars(stmt).all()


def test_a_paid_booking_gets_its_invoice_documents_and_one_confirmation(client, db, org, dep):
    b = paid(client, db, org, dep, adults=2)
    drain(db, org.id, skip=("messaging.deliver",))
    got = get_booking(client, org, b["id"])
    assert got["status"] == "documents_generated"
    docs = rows(db, org, Document, booking_id=b["id"])
    assert sorted(d.type for d in docs) == ["invoice", "itinerary", "voucher"]
    invoice = next(d for d in docs if d.type == "invoice")
    assert invoice.number and invoice.number.startswith("INV-")
    confirmations = [c for c in rows(db, org, Communication, booking_id=b["id"])
                     if c.kind == "confirmation"]  # fmt: skip
    assert [c.channel for c in confirmations] == ["email"]
    assert sorted(confirmations[0].attachments) == sorted(d.id for d in docs)


def test_a_worker_dying_between_confirmation_and_invoice_still_makes_one_of_each(
    client, db, org, dep, monkeypatch
):
    from tos.documents import service as documents

    b = paid(client, db, org, dep)
    real = documents.issue_voucher
    state = {"calls": 0}

    def dying(session, booking_id):
        state["calls"] += 1
        if state["calls"] == 1:
            raise RuntimeError("worker killed")  # after the invoice was issued in this run
        return real(session, booking_id)

    monkeypatch.setattr(documents, "issue_voucher", dying)
    drain(db, org.id, skip=("messaging.deliver",))  # the failing run rolls back
    with db(write=True) as session, tenancy.unscoped(session):
        mine = (OutboxMessage.organization_id == org.id, OutboxMessage.status == "pending")
        session.execute(update(OutboxMessage).where(*mine).values(due_at=clock.utcnow()))
        session.commit()
    drain(db, org.id, skip=("messaging.deliver",))
    invoices = rows(db, org, Document, booking_id=b["id"], type="invoice")
    assert len(invoices) == 1
    confirmations = rows(db, org, Communication, booking_id=b["id"], kind="confirmation")
    assert len(confirmations) == 1
    assert get_booking(client, org, b["id"])["status"] == "documents_generated"
    # The number sequence gave out exactly one number: the rolled-back one came back.
    assert invoices[0].number.endswith("-000001")


def test_reminders_are_queued_once_and_never_for_cancelled_or_moved_bookings(client, db, org, dep):
    soon = add_schedule(db, org.id, dep.tour_id, dep.variant_id, days_ahead=1, hour=18)
    later = add_schedule(db, org.id, dep.tour_id, dep.variant_id, days_ahead=5)
    stay = paid(client, db, org, dep, email="stay@example.com")
    gone = paid(client, db, org, dep, email="gone@example.com")
    moved = paid(client, db, org, dep, email="moved@example.com")
    drain(db, org.id, skip=("messaging.deliver",))
    for b in (stay, gone, moved):
        r = client.post(f"/api/v1/bookings/{b['id']}/rebook", json={"schedule_id": soon},
                        headers=org.headers("manager"))  # fmt: skip
        assert r.status_code == 200, r.text
    client.post(f"/api/v1/bookings/{gone['id']}/cancel", json={"reason": "ill"},
                headers=org.headers("admin"))  # fmt: skip
    client.post(f"/api/v1/bookings/{moved['id']}/rebook", json={"schedule_id": later},
                headers=org.headers("manager"))  # fmt: skip
    now = clock.utcnow() + dt.timedelta(hours=12)  # the soon departure is now within 24 h
    periodic.send_due_reminders(db, now=now)
    periodic.send_due_reminders(db, now=now)
    reminded = {c.booking_id for c in rows(db, org, Communication, kind="reminder")}
    assert reminded == {stay["id"]}
    assert len(rows(db, org, Communication, kind="reminder", channel="email")) == 1


def test_ended_tours_complete(client, db, org, dep):
    b = paid(client, db, org, dep)
    drain(db, org.id, skip=("messaging.deliver",))
    assert periodic.complete_ended(db)["completed"] == 0
    done = periodic.complete_ended(db, now=clock.utcnow() + dt.timedelta(days=30))
    assert done["completed"] >= 1
    assert get_booking(client, org, b["id"])["status"] == "completed"


def test_a_departure_cancelled_without_notice_sends_no_cancellation(client, db, org, dep):
    b = paid(client, db, org, dep)
    drain(db, org.id, skip=("messaging.deliver",))
    body = {"reason": "storm", "notify_customers": False}
    r = client.post(f"/api/v1/schedules/{dep.schedule_id}/cancel", json=body, headers=org.headers())
    assert r.status_code == 202
    drain(db, org.id, skip=("messaging.deliver",))
    assert rows(db, org, Communication, booking_id=b["id"], kind="cancellation") == []
    assert rows(db, org, Communication, booking_id=b["id"], kind="refund")
    assert len(rows(db, org, Document, booking_id=b["id"], type="credit_note")) == 1


def test_a_moved_booking_gets_new_voucher_and_itinerary_versions_with_the_notice(
    client, db, org, dep
):
    b = paid(client, db, org, dep)
    drain(db, org.id, skip=("messaging.deliver",))
    later = add_schedule(db, org.id, dep.tour_id, dep.variant_id, days_ahead=25)
    r = client.post(f"/api/v1/bookings/{b['id']}/rebook", json={"schedule_id": later},
                    headers=org.headers("manager"))  # fmt: skip
    assert r.status_code == 200, r.text
    drain(db, org.id, skip=("messaging.deliver",))
    vouchers = rows(db, org, Document, booking_id=b["id"], type="voucher")
    assert sorted(d.version for d in vouchers) == [1, 2]
    (notice,) = rows(db, org, Communication, booking_id=b["id"], kind="modification")
    newest = {d.id for d in rows(db, org, Document, booking_id=b["id"], version=2)}
    assert set(notice.attachments) == newest and len(newest) == 2
