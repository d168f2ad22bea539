"""Invariant 1 over real HTTP: concurrent buyers on one departure never oversell it."""

import random
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from tests.booking_builders import booking_body, make_departure
from tos.bookings.models import Booking
from tos.inventory.models import Schedule

pytestmark = pytest.mark.e2e
CAPACITY = 25
BUYERS = 40


def test_forty_concurrent_buyers_get_exactly_the_capacity_and_no_5xx(server_factory, db, org):
    server = server_factory(workers=2)
    dep = make_departure(db, org.id, capacity=CAPACITY)
    rng = random.Random(7)
    wanted = [rng.randint(1, 3) for _ in range(BUYERS)]
    headers = org.headers("manager")

    def buy(i: int) -> tuple[int, int, str]:
        body = booking_body(dep, adults=wanted[i], email=f"buyer{i}@example.com")
        with httpx.Client(base_url=server.url, timeout=60) as client:
            r = client.post("/api/v1/bookings", json=body, headers=headers)
        return r.status_code, wanted[i], r.json()["error"]["code"] if r.status_code >= 400 else ""

    with ThreadPoolExecutor(BUYERS) as pool:
        results = list(pool.map(buy, range(BUYERS)))

    statuses = {status for status, _, _ in results}
    assert statuses <= {201, 409}, results
    assert {code for status, _, code in results if status == 409} <= {"CAPACITY_EXCEEDED", "BUSY"}
    sold = sum(seats for status, seats, _ in results if status == 201)
    with db(write=False, organization_id=org.id) as session:
        taken = session.scalar(select(Schedule.seats_taken).where(Schedule.id == dep.schedule_id))
        held = session.scalar(
            select(func.coalesce(func.sum(Booking.held_seats), 0)).where(
                Booking.schedule_id == dep.schedule_id
            )
        )
    assert taken == held == sold
    assert sold <= CAPACITY
    # With 40 buyers wanting ~80 seats, the departure sells out (nobody who fits is turned away
    # once the remainder is smaller than every request).
    assert sold >= CAPACITY - 2


def test_one_idempotency_key_sent_by_many_clients_at_once_makes_one_booking(
    server_factory, db, org
):
    server = server_factory(workers=2)
    dep = make_departure(db, org.id, capacity=CAPACITY)
    body = booking_body(dep, adults=2, email="same@example.com")
    headers = {**org.headers("manager"), "Idempotency-Key": "checkout-123"}

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return client.post("/api/v1/bookings", json=body, headers=headers)

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(send, range(12)))

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    with db(write=False, organization_id=org.id) as session:
        count = session.scalar(select(func.count()).where(Booking.schedule_id == dep.schedule_id))
        taken = session.scalar(select(Schedule.seats_taken).where(Schedule.id == dep.schedule_id))
    assert (count, taken) == (1, 2)
