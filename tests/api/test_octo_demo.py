"""The demo organization is ready for a reseller (both availability types with bookable slots
in the next 30 days, and a working reseller key) and for a seed 002 source website."""

import datetime as dt

import pytest
from sqlalchemy import select

from tos.identity.models import Organization


def test_the_demo_lets_a_reseller_book_at_once(client, db, capsys):
    from tos.demo import load_demo

    with db(write=False) as session:
        if session.scalar(select(Organization.id).where(Organization.slug == "demo")):
            pytest.skip("the demo organization was loaded earlier in this database")
    owner = load_demo()
    printed = capsys.readouterr().err.strip().splitlines()
    token = next(line for line in printed if line.startswith("tos_"))
    website_key = next(line for line in printed if line.startswith("obk_"))
    h = {"Authorization": f"Bearer {token}"}
    products = client.get("/octo/products", headers=h).json()
    assert {p["availabilityType"] for p in products} == {"START_TIME", "OPENING_HOURS"}
    today = dt.date.today()
    for p in products:
        option = p["options"][0]
        r = client.post("/octo/availability", headers=h, json={
            "productId": p["id"], "optionId": option["id"],
            "localDateStart": today.isoformat(),
            "localDateEnd": (today + dt.timedelta(days=30)).isoformat(),
        })  # fmt: skip
        open_slots = [a for a in r.json() if a["available"]]
        assert open_slots, p["internalName"]
        r = client.post("/octo/bookings", headers=h, json={
            "productId": p["id"], "optionId": option["id"], "availabilityId": open_slots[0]["id"],
            "unitItems": [{"unitId": option["units"][0]["id"]}],
        })  # fmt: skip
        assert r.status_code == 200 and r.json()["status"] == "ON_HOLD", r.text

    # The demo website's package takes a seat on a Morning departure of the Alfama walk.
    day = today + dt.timedelta(days=3)
    while day.weekday() == 6:  # Morning runs Monday to Saturday
        day += dt.timedelta(days=1)
    r = client.post("/api/bookings/sync", headers={"X-API-Key": website_key}, json={
        "event": "booking.created", "source_booking_id": "demo-1", "booking_ref": "DS-1",
        "package_name": "Alfama Morning", "package_price": 35, "activity_date": day.isoformat(),
        "time_slot": "09:30", "guest_count": 2, "total_amount": 70, "currency": "EUR",
        "customer": {"name": "Ana Demo", "email": "ana@example.com"},
    })  # fmt: skip
    assert r.status_code == 200, r.text
    booking = client.get(f"/api/v1/bookings/{r.json()['booking_id']}",
                         headers={"Authorization": f"Bearer {owner}"}).json()  # fmt: skip
    assert booking["held_seats"] == 2 and booking["schedule_id"] is not None
