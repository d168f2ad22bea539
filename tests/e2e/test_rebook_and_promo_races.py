"""Invariants under concurrency over real HTTP: rebooking into the last seats while others book
the same departure never oversells and never loses a booking's seats; a limited code used by
many buyers at once is never used beyond its limit."""

import random
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from tests.booking_builders import add_schedule, booking_body, make_departure
from tests.pricing_builders import make_promo
from tos.bookings.models import Booking
from tos.inventory.models import Schedule
from tos.pricing.models import PromoRedemption, PromotionalCode

pytestmark = pytest.mark.e2e
MOVERS = 12
BUYERS = 10
TARGET_CAPACITY = 9


def _held(session, schedule_id):
    return session.scalar(
        select(func.coalesce(func.sum(Booking.held_seats), 0)).where(
            Booking.schedule_id == schedule_id
        )
    )


def test_rebooking_into_the_last_seats_while_others_book_them(server_factory, db, org):
    server = server_factory(workers=2)
    dep = make_departure(db, org.id, capacity=40, days_ahead=20)
    target = add_schedule(db, org.id, dep.tour_id, dep.variant_id, capacity=TARGET_CAPACITY,
                          days_ahead=30)  # fmt: skip
    headers = org.headers("manager")
    rng = random.Random(11)
    bookings = []
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for i in range(MOVERS):
            seats = rng.randint(1, 2)
            body = booking_body(dep, adults=seats, email=f"mover{i}@example.com")
            r = client.post("/api/v1/bookings", json=body, headers=headers)
            assert r.status_code == 201, r.text
            bookings.append((r.json()["id"], seats))

    def act(i: int) -> tuple[str, int, str, str | None]:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            if i < MOVERS:
                booking_id, _ = bookings[i]
                r = client.post(f"/api/v1/bookings/{booking_id}/rebook",
                                json={"schedule_id": target}, headers=headers)  # fmt: skip
                kind = "move"
            else:
                body = booking_body(dep, adults=1, email=f"buyer{i}@example.com")
                body["schedule_id"] = target
                r = client.post("/api/v1/bookings", json=body, headers=headers)
                booking_id, kind = None, "buy"
        code = r.json()["error"]["code"] if r.status_code >= 400 else ""
        return kind, r.status_code, code, booking_id

    order = list(range(MOVERS + BUYERS))
    rng.shuffle(order)
    with ThreadPoolExecutor(len(order)) as pool:
        results = list(pool.map(act, order))

    assert {s for _, s, _, _ in results} <= {200, 201, 409}, results
    assert {c for _, s, c, _ in results if s == 409} <= {"CAPACITY_EXCEEDED", "BUSY"}
    moved = {bid for kind, s, _, bid in results if kind == "move" and s == 200}
    bought = sum(1 for kind, s, _, _ in results if kind == "buy" and s == 201)
    with db(write=False, organization_id=org.id) as session:
        taken = {
            sid: session.scalar(select(Schedule.seats_taken).where(Schedule.id == sid))
            for sid in (dep.schedule_id, target)
        }
        assert taken[target] == _held(session, target) <= TARGET_CAPACITY
        assert taken[dep.schedule_id] == _held(session, dep.schedule_id)
        for booking_id, seats in bookings:
            b = session.scalar(select(Booking).where(Booking.id == booking_id))
            # Every booking holds its seats in exactly one departure: the new one if it moved.
            assert b.held_seats == seats
            assert b.schedule_id == (target if booking_id in moved else dep.schedule_id)
    assert taken[target] == bought + sum(s for bid, s in bookings if bid in moved)
    # The target sells out or nearly (a request bigger than what is left is turned away).
    assert taken[target] >= TARGET_CAPACITY - 1


def test_a_limited_code_used_by_many_buyers_at_once_is_never_over_used(server_factory, db, org):
    server = server_factory(workers=2)
    dep = make_departure(db, org.id, capacity=100)
    promo = make_promo(db, org.id, max_uses=5)
    headers = org.headers("manager")

    def buy(i: int) -> tuple[int, str]:
        body = booking_body(dep, email=f"p{i}@example.com", promotional_code=promo.code.lower())
        with httpx.Client(base_url=server.url, timeout=60) as client:
            r = client.post("/api/v1/bookings", json=body, headers=headers)
        return r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else ""

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(buy, range(16)))

    assert {s for s, _ in results} <= {201, 409}, results
    assert {c for s, c in results if s == 409} <= {"PROMO_CODE_EXHAUSTED", "BUSY"}
    used = sum(1 for s, _ in results if s == 201)
    with db(write=False, organization_id=org.id) as session:
        uses = session.scalar(
            select(PromotionalCode.current_uses).where(PromotionalCode.id == promo.id)
        )
        redemptions = session.scalar(
            select(func.count()).where(PromoRedemption.promotional_code_id == promo.id)
        )
        discounted = session.scalar(
            select(func.count()).where(Booking.promotional_code_id == promo.id)
        )
    assert uses == redemptions == discounted == used == 5
