"""Seed 002 end to end against a real TOS server, driven by the source-website kit: a create
whose answer is lost and retried, updates, a stale event, a staff edit arriving at the website
as a signed webhook (verified with the seed's algorithm), no echo of the website's own changes;
and syncs racing direct bookings for the last seats."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from onebooking_kit import OneBookingClient, SyncRejected, booking_payload, event_payload
from tests.booking_builders import booking_body, make_departure
from tests.fakes.website_receiver import WebsiteReceiver
from tos.bookings.models import Booking
from tos.inventory.models import Schedule

pytestmark = pytest.mark.e2e
SECRET = "whsec_e2e_onebooking_secret"


class LosesOneAnswer(httpx.HTTPTransport):
    """The hub commits and answers, the answer never arrives (a dropped connection)."""

    lose_next = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if self.lose_next:
            self.lose_next = False
            response.read()
            raise httpx.ReadError("connection reset after the hub answered")
        return response


def _register(server, org, **body) -> dict:
    slug = f"site-{uuid.uuid4().hex[:8]}"
    r = httpx.post(
        f"{server.url}/api/websites",
        headers=org.headers("admin"),
        timeout=30,
        json={"id": slug, "name": slug, "domain": f"{slug}.test", **body},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def _payload(source_id: str, **kw):
    fields = {"package_name": "World A+", "package_price": 3490, "activity_date": "2031-03-01",
              "time_slot": "10:00", "guest_count": 2, "total_amount": 8500,
              "customer": {"name": "John Doe", "email": "john@example.com"}} | kw  # fmt: skip
    return booking_payload("booking.created", source_id, "HW-000023", **fields)


def test_seed_002_flow_with_the_source_website_kit(server_factory, org):
    server = server_factory(workers=2)
    with WebsiteReceiver(secret=SECRET) as receiver:
        site = _register(server, org, webhook_url=receiver.url, webhook_secret=SECRET)
        sleeps: list[float] = []
        transport = LosesOneAnswer()
        kit = OneBookingClient(server.url, site["api_key"], sleep=sleeps.append,
                               transport=transport)  # fmt: skip
        source_id = str(uuid.uuid4())
        transport.lose_next = True
        created = kit.push(_payload(source_id))
        assert created.ok and sleeps == [1]  # retried once, after the seed's first delay
        admin = httpx.Client(base_url=server.url, headers=org.headers("admin"), timeout=30)
        listed = admin.get("/api/bookings", params={"search": source_id}).json()
        assert [b["id"] for b in listed["bookings"]] == [created.booking_id]
        assert listed["bookings"][0]["total_amount"] == 8500
        booking = admin.get(f"/api/v1/bookings/{created.booking_id}").json()
        assert booking["total"] == 850_000 and booking["payment_status"] == "paid"

        assert kit.push(event_payload("booking.updated", source_id, guest_count=3)).ok
        with pytest.raises(SyncRejected) as dup:
            kit.push(_payload(source_id, guest_count=4))
        assert dup.value.code == "DUPLICATE_BOOKING"

        # Staff edit in TOS: the website hears of exactly the changed fields, signed.
        r = admin.put(
            f"/api/bookings/{created.booking_id}",
            json={"status": "cancelled", "admin_notes": "flight change"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["updated_fields"] == ["admin_notes", "status"]
        _wait_for(lambda: receiver.verified)
        (event,) = receiver.verified
        assert event.event == "booking.updated" and event.source_booking_id == source_id
        assert event.updated_fields == ["admin_notes", "status"]
        assert event.data == {"admin_notes": "flight change", "status": "cancelled"}
        assert event.updated_by == f"admin@{org.slug}.test"

        # The website's own refund and a stale "confirmed": no echo; the stale one is refused.
        assert kit.push(event_payload("booking.refunded", source_id, status="refunded")).ok
        with pytest.raises(SyncRejected) as stale:
            kit.push(event_payload("booking.updated", source_id, status="confirmed"))
        assert stale.value.code == "INVALID_TRANSITION"
        time.sleep(3)  # the outbox would have delivered an echo by now
        assert len(receiver.received) == 1
        assert admin.get(f"/api/v1/bookings/{created.booking_id}").json()["status"] == "refunded"


def test_syncs_and_direct_bookings_racing_for_the_last_seats(server_factory, db, org):
    capacity, syncs, buyers = 10, 12, 12
    server = server_factory(workers=2)
    dep = make_departure(db, org.id, capacity=capacity, days_ahead=20)
    site = _register(server, org)
    r = httpx.put(f"{server.url}/api/v1/websites/{site['website']['id']}/packages",
                  headers=org.headers("admin"), timeout=30,
                  json={"package_name": "Zip", "variant_id": dep.variant_id,
                        "pricing_tier_id": dep.adult})  # fmt: skip
    assert r.status_code == 200, r.text
    with db(organization_id=org.id) as s:
        sched = s.scalar(select(Schedule).where(Schedule.id == dep.schedule_id))
        day, slot = sched.date.isoformat(), sched.start_time.strftime("%H:%M")
    kit = OneBookingClient(server.url, site["api_key"], sleep=lambda _: time.sleep(0.2))

    def sync(i: int):
        body = _payload(str(uuid.uuid4()), package_name="Zip", activity_date=day,
                        time_slot=slot, guest_count=1, total_amount=50, currency="EUR",
                        package_price=50)  # fmt: skip
        return "sync", kit.push(body).ok

    def buy(i: int):
        with httpx.Client(base_url=server.url, timeout=60) as c:
            r = c.post("/api/v1/bookings", headers=org.headers("manager"),
                       json=booking_body(dep, email=f"b{i}@example.com"))  # fmt: skip
        return "direct", r.status_code

    with ThreadPoolExecutor(syncs + buyers) as pool:
        jobs = [pool.submit(sync, i) for i in range(syncs)] + [
            pool.submit(buy, i) for i in range(buyers)]  # fmt: skip
        results = [j.result() for j in jobs]
    assert all(ok for kind, ok in results if kind == "sync")  # every charged sync is accepted
    assert {code for kind, code in results if kind == "direct"} <= {201, 409}
    sold_direct = sum(1 for kind, code in results if kind == "direct" and code == 201)
    with db(organization_id=org.id) as s:
        sched = s.scalar(select(Schedule).where(Schedule.id == dep.schedule_id))
        held, over = s.execute(
            select(func.sum(Booking.held_seats), func.sum(Booking.overbooked_seats))
            .where(Booking.schedule_id == dep.schedule_id)).one()  # fmt: skip
        flagged = s.scalar(select(func.count()).where(
            Booking.schedule_id == dep.schedule_id, Booking.overbooked_seats > 0))  # fmt: skip
        synced = s.scalar(select(func.count()).where(Booking.website_id.is_not(None)))
    # Never oversold: the guarded counter equals the live bookings' seats and fits capacity;
    # only already-charged syncs go past it, counted apart and flagged for staff.
    assert sched.seats_taken == held <= capacity
    assert sched.seats_overbooked == over == flagged
    assert synced == syncs and held + over == syncs + sold_direct
