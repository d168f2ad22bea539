"""Dead letters: a message that keeps failing backs off, is parked as dead, and staff replay it."""

import pytest
from sqlalchemy import select

from tos.core import clock
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage


def _failing_message(db, org_id) -> str:
    # A handler name nobody answers to (e.g. removed in a newer release) fails on every run.
    with db(write=True, organization_id=org_id) as session:
        msg = outbox.enqueue(session, "no.such.handler", {"n": 1})
        session.commit()
        return msg.id


def _run_until_dead(db, message_id) -> list[str]:
    statuses = []
    try:
        for _ in range(outbox.MAX_ATTEMPTS):
            statuses.append(outbox.run_message(db, message_id))
            clock.advance(outbox.backoff(outbox.MAX_ATTEMPTS).total_seconds() + 1)
    finally:
        clock.reset()
    return statuses


def test_a_failing_message_backs_off_then_is_parked_as_dead(db, org):
    message_id = _failing_message(db, org.id)
    assert outbox.run_message(db, message_id) == "pending"
    assert outbox.run_message(db, message_id) == "pending"  # not due yet: left alone
    with db(write=False, organization_id=org.id) as session:
        msg = session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
        assert msg.attempts == 1 and "no.such.handler" in msg.last_error
    statuses = _run_until_dead(db, message_id)
    assert statuses[-1] == "dead" and statuses.count("dead") == 1


def test_staff_see_dead_messages_and_replay_them_with_the_same_id(client, db, org):
    message_id = _failing_message(db, org.id)
    _run_until_dead(db, message_id)
    dead = client.get("/api/v1/outbox?status=dead", headers=org.headers("admin")).json()
    assert [m["id"] for m in dead["items"]] == [message_id]
    r = client.post(f"/api/v1/outbox/{message_id}/replay", headers=org.headers("admin"))
    assert r.status_code == 200
    assert (r.json()["id"], r.json()["status"], r.json()["attempts"]) == (message_id, "pending", 0)
    audit = client.get(f"/api/v1/audit?entity_id={message_id}", headers=org.headers()).json()
    assert [e["action"] for e in audit["items"]] == ["outbox.replayed"]
    again = client.post(f"/api/v1/outbox/{message_id}/replay", headers=org.headers("admin"))
    assert again.status_code == 409


def test_another_organizations_dead_letters_are_invisible(client, db, org, other_org):
    message_id = _failing_message(db, other_org.id)
    _run_until_dead(db, message_id)
    assert client.get("/api/v1/outbox?status=dead", headers=org.headers()).json()["items"] == []
    r = client.post(f"/api/v1/outbox/{message_id}/replay", headers=org.headers())
    assert r.status_code == 404


@pytest.mark.parametrize(
    "role,allowed",
    [
        ("owner", True),
        ("admin", True),
        ("manager", False),
        ("staff", False),
        ("accountant", False),
        ("guide", False),
        ("reseller", False),
    ],
)
def test_only_owners_and_admins_manage_the_outbox(client, org, role, allowed):
    r = client.get("/api/v1/outbox", headers=org.headers(role))
    assert r.status_code == (200 if allowed else 403)


def test_a_done_message_runs_no_second_time(db, org):
    with db(write=True, organization_id=org.id) as session:
        msg = outbox.enqueue(session, "bookings.expire_hold", {"booking_id": "gone"})
        session.commit()
    assert outbox.run_message(db, msg.id) == "done"
    assert outbox.run_message(db, msg.id) == "done"
    with db(write=False, organization_id=org.id) as session:
        assert session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == msg.id)) == 1
