"""Invariant 4 over real processes: whatever a committed transaction promised is delivered after
crashes — the job-queue hand-over lost, workers killed with SIGKILL at random moments — and its
effect is recorded exactly once."""

import datetime as dt
import random
import sqlite3
import time

import httpx
import pytest
from sqlalchemy import func, select

from tests.booking_builders import booking_body, make_departure
from tos.bookings.models import Booking, LifecycleEvent
from tos.inventory.models import Schedule
from tos.outbox.models import OutboxMessage

pytestmark = pytest.mark.e2e
HOLDS = 20


def test_hold_expiries_survive_lost_handovers_and_killed_workers(server_factory, db, org):
    server = server_factory(workers=1, jobs=False)
    dep = make_departure(db, org.id, capacity=HOLDS)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=4)
    with httpx.Client(base_url=server.url, headers=org.headers("manager"), timeout=30) as client:
        ids = []
        for i in range(HOLDS):
            at = (expires + dt.timedelta(milliseconds=100 * i)).isoformat()
            body = booking_body(dep, email=f"hold{i}@example.com", expires_at=at)
            r = client.post("/api/v1/bookings", json=body)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])

    # A crash between commit and hand-over: the queue loses every task it was given.
    with sqlite3.connect(server.env["TOS_HUEY_SQLITE_PATH"]) as q:
        # huey queues a delayed task first; a consumer moves it to its schedule later.
        lost = sum(
            q.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("task", "schedule")
        )
        q.execute("DELETE FROM schedule")
        q.execute("DELETE FROM task")
    assert lost == HOLDS

    rng = random.Random(11)
    for _ in range(3):  # workers killed at random moments while holds expire
        worker = server.worker("--threads", "2")
        time.sleep(4 + rng.random() * 2)
        worker.kill()
    final = server.worker("--threads", "2")
    try:
        _wait_until_all_cancelled(db, org.id, ids, timeout=60)
    finally:
        final.stop()

    with db(write=False, organization_id=org.id) as session:
        bookings = session.scalars(select(Booking).where(Booking.id.in_(ids))).all()
        assert {(b.status, b.cancel_reason, b.held_seats) for b in bookings} == {
            ("cancelled", "expired", 0)
        }
        per_booking = session.execute(
            select(LifecycleEvent.booking_id, func.count())
            .where(LifecycleEvent.booking_id.in_(ids), LifecycleEvent.to_status == "cancelled")
            .group_by(LifecycleEvent.booking_id)
        ).all()
        assert sorted(n for _, n in per_booking) == [1] * HOLDS
        keys = session.scalars(
            select(LifecycleEvent.idempotency_key).where(
                LifecycleEvent.booking_id.in_(ids), LifecycleEvent.to_status == "cancelled"
            )
        ).all()
        assert set(keys) == {f"hold-expiry:{i}" for i in ids}
        taken = session.scalar(select(Schedule.seats_taken).where(Schedule.id == dep.schedule_id))
        assert taken == 0
        statuses = session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.handler == "bookings.expire_hold")
        ).all()
        assert set(statuses) == {"done"}


def _wait_until_all_cancelled(db, org_id, ids, *, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db(write=False, organization_id=org_id) as session:
            open_ = session.scalar(
                select(func.count()).where(Booking.id.in_(ids), Booking.status != "cancelled")
            )
        if open_ == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"{open_} holds still not expired after {timeout}s")
