"""Invariant 1 over real HTTP: OCTO holds, direct bookings and seed 002 channel syncs racing for
the last seats of one departure never oversell it (only the syncs, already charged by their
website, go past capacity: counted apart and flagged); concurrent identical reservations (one
uuid) make one booking."""

import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from onebooking_kit import OneBookingClient, booking_payload
from tests.booking_builders import Departure, booking_body
from tests.octo_builders import make_product, make_reseller, reserve_body
from tos.bookings.models import Booking
from tos.inventory.models import Schedule

pytestmark = pytest.mark.e2e
CAPACITY = 20
BUYERS = 32


def _website_selling(server, org, db, product, dep) -> OneBookingClient:
    """A seed 002 source website whose package "Zip" is the product's option and adult tier."""
    admin = httpx.Client(base_url=server.url, headers=org.headers("admin"), timeout=60)
    site = admin.post("/api/websites", json={"id": "zip-site", "name": "Zip", "domain": "zip.test"})
    assert site.status_code == 201, site.text
    r = admin.put(
        "/api/v1/websites/zip-site/packages",
        json={
            "package_name": "Zip",
            "variant_id": product.option_id,
            "pricing_tier_id": product.adult,
        },
    )
    assert r.status_code == 200, r.text
    return OneBookingClient(server.url, site.json()["api_key"], sleep=lambda _: None)


def test_octo_holds_direct_bookings_and_syncs_never_oversell(server_factory, db, org):
    server = server_factory(workers=2)
    product = make_product(db, org.id, capacity=CAPACITY, days=1)
    reseller = make_reseller(db, org.id)
    dep = Departure(product.tour_id, product.option_id, product.slots[0], product.adult,
                    product.child)  # fmt: skip
    with db(write=False, organization_id=org.id) as session:
        slot = session.scalar(select(Schedule).where(Schedule.id == dep.schedule_id))
        day, time_slot = slot.date.isoformat(), slot.start_time.strftime("%H:%M")
    kit = _website_selling(server, org, db, product, dep)
    rng = random.Random(11)
    wanted = [rng.randint(1, 3) for _ in range(BUYERS)]
    synced: list[int] = []

    def buy(i: int) -> tuple[int, int]:
        if i % 3 == 2:  # a website sold it already: accepted whatever is left
            body = booking_payload(
                "booking.created", str(uuid.uuid4()), f"Z-{i}", "Zip", 50, day, time_slot,
                wanted[i], 50 * wanted[i], {"name": "Web Buyer", "email": f"w{i}@example.com"},
                currency="EUR",
            )  # fmt: skip
            result = kit.push(body)
            assert result.ok, result
            synced.append(wanted[i])
            return 0, 200
        with httpx.Client(base_url=server.url, timeout=60) as client:
            if i % 3 == 1:
                r = client.post("/octo/bookings", headers=reseller.headers(),
                                json=reserve_body(product, adults=wanted[i]))  # fmt: skip
                ok = r.status_code == 200
                assert ok or r.json()["error"] == "UNPROCESSABLE_ENTITY", r.text
            else:
                r = client.post("/api/v1/bookings", headers=org.headers("manager"),
                                json=booking_body(dep, adults=wanted[i],
                                                  email=f"b{i}@example.com"))  # fmt: skip
                ok = r.status_code == 201
                assert ok or r.json()["error"]["code"] in ("CAPACITY_EXCEEDED", "BUSY"), r.text
        return (wanted[i] if ok else 0), r.status_code

    with ThreadPoolExecutor(BUYERS) as pool:
        results = list(pool.map(buy, range(BUYERS)))

    assert all(status < 500 for _, status in results), results
    sold = sum(seats for seats, _ in results)
    with db(write=False, organization_id=org.id) as session:
        sched = session.scalar(select(Schedule).where(Schedule.id == dep.schedule_id))
        held, over = session.execute(
            select(func.coalesce(func.sum(Booking.held_seats), 0),
                   func.coalesce(func.sum(Booking.overbooked_seats), 0))
            .where(Booking.schedule_id == dep.schedule_id)).one()  # fmt: skip
        syncs_held = session.scalar(
            select(func.coalesce(func.sum(Booking.held_seats), 0))
            .where(Booking.schedule_id == dep.schedule_id, Booking.source == "sync"))  # fmt: skip
    assert sched.seats_taken == held == sold + syncs_held <= CAPACITY
    assert sched.seats_overbooked == over == sum(synced) - syncs_held
    assert held >= CAPACITY - 2  # the departure sells out


def test_one_uuid_sent_by_many_resellers_threads_at_once_makes_one_booking(server_factory, db, org):
    server = server_factory(workers=2)
    product = make_product(db, org.id, capacity=CAPACITY, days=1)
    reseller = make_reseller(db, org.id)
    body = reserve_body(product, adults=2, uuid="5d7c1c1e-3a0b-4f8e-9d65-1f2e3d4c5b6a")

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return client.post("/octo/bookings", json=body, headers=reseller.headers())

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(send, range(12)))

    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    with db(write=False, organization_id=org.id) as session:
        count = session.scalar(select(func.count()).where(Booking.schedule_id == product.slots[0]))
        taken = session.scalar(select(Schedule.seats_taken).where(Schedule.id == product.slots[0]))
    assert (count, taken) == (1, 2)
