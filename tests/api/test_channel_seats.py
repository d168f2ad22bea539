"""Mapped packages take seats on TOS departures; a sold-out departure still takes the website's
already-charged booking, counted as overbooked."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from tests.booking_builders import add_schedule, create_booking, get_booking, make_departure
from tests.channel_builders import register_site, seed_payload, sync
from tos.inventory.models import Schedule


def _mapped(client, org, db, *, capacity: int):
    dep = make_departure(db, org.id, capacity=capacity, days_ahead=12)
    site = register_site(client, org)
    r = client.put(
        f"/api/v1/websites/{site.slug}/packages",
        headers=org.headers("admin"),
        json={
            "package_name": "World A+",
            "variant_id": dep.variant_id,
            "pricing_tier_id": dep.adult,
        },
    )
    assert r.status_code == 200, r.text
    with db(organization_id=org.id) as s:
        sched = s.scalar(select(Schedule).where(Schedule.id == dep.schedule_id))
        day, slot = sched.date.isoformat(), sched.start_time.strftime("%H:%M")
    return dep, site, {"activity_date": day, "time_slot": slot, "currency": "EUR"}


def _counts(db, org, schedule_id):
    with db(organization_id=org.id) as s:
        sched = s.scalar(select(Schedule).where(Schedule.id == schedule_id))
        return sched.seats_taken, sched.seats_overbooked


def test_a_mapped_package_takes_seats_and_gives_them_back_on_cancel(client, org, db):
    dep, site, when = _mapped(client, org, db, capacity=10)
    body = seed_payload(**when, guest_count=3)
    booking = get_booking(client, org, sync(client, site, body).json()["booking_id"])
    assert booking["schedule_id"] == dep.schedule_id and booking["held_seats"] == 3
    assert _counts(db, org, dep.schedule_id) == (3, 0)
    # The website moves it to 4 guests, then cancels: seats follow.
    sync(
        client,
        site,
        {
            "event": "booking.updated",
            "source_booking_id": body["source_booking_id"],
            "guest_count": 4,
        },
    )
    assert _counts(db, org, dep.schedule_id) == (4, 0)
    sync(
        client, site, {"event": "booking.cancelled", "source_booking_id": body["source_booking_id"]}
    )
    assert _counts(db, org, dep.schedule_id) == (0, 0)


def test_a_sold_out_departure_still_takes_the_sync_flagged_overbooked(client, org, db):
    dep, site, when = _mapped(client, org, db, capacity=2)
    create_booking(client, org, dep, adults=2)
    body = seed_payload(**when, guest_count=2)
    r = sync(client, site, body)
    assert r.status_code == 200, r.text
    booking = get_booking(client, org, r.json()["booking_id"])
    assert "overbooked" in booking["flags"] and booking["overbooked_seats"] == 2
    assert booking["held_seats"] == 0
    assert _counts(db, org, dep.schedule_id) == (2, 2)
    listed = client.get(
        "/api/v1/bookings", headers=org.headers("admin"), params={"website": site.slug}
    ).json()
    assert [b["id"] for b in listed["items"]] == [booking["id"]]
    sync(
        client, site, {"event": "booking.cancelled", "source_booking_id": body["source_booking_id"]}
    )
    assert _counts(db, org, dep.schedule_id) == (2, 0)


def test_no_departure_at_that_time_is_flagged_and_takes_no_seat(client, org, db):
    dep, site, when = _mapped(client, org, db, capacity=10)
    other_day = (dt.date.fromisoformat(when["activity_date"]) + dt.timedelta(days=1)).isoformat()
    r = sync(client, site, seed_payload(**{**when, "activity_date": other_day}))
    booking = get_booking(client, org, r.json()["booking_id"])
    assert booking["schedule_id"] is None and "no_departure" in booking["flags"]
    assert _counts(db, org, dep.schedule_id) == (0, 0)


def test_staff_move_a_synced_booking_with_put_not_rebook(client, org, db):
    dep, site, when = _mapped(client, org, db, capacity=10)
    later = add_schedule(db, org.id, dep.tour_id, dep.variant_id, capacity=10, days_ahead=12,
                         hour=14)  # fmt: skip
    body = seed_payload(**when, guest_count=2)
    booking_id = sync(client, site, body).json()["booking_id"]
    r = client.post(f"/api/v1/bookings/{booking_id}/rebook", headers=org.headers("admin"),
                    json={"schedule_id": later})  # fmt: skip
    assert r.status_code == 409 and r.json()["error"]["code"] == "SYNCED_BOOKING"
    # Through seed 002's PUT the website's price stays and the seats follow the new slot.
    r = client.put(f"/api/bookings/{booking_id}", headers=org.headers("manager"),
                   json={"time_slot": "14:00", "guest_count": 3})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["updated_fields"] == ["guest_count", "time_slot"]
    assert _counts(db, org, dep.schedule_id) == (0, 0)
    assert _counts(db, org, later) == (3, 0)
    booking = get_booking(client, org, booking_id)
    assert booking["schedule_id"] == later and booking["total"] == 850_000
