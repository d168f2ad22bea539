"""The demo organization is ready for a reseller: both availability types with bookable slots
in the next 30 days, and a working reseller key."""

import datetime as dt

import pytest
from sqlalchemy import select

from tos.identity.models import Organization


def test_the_demo_lets_a_reseller_book_at_once(client, db, capsys):
    from tos.demo import load_demo

    with db(write=False) as session:
        if session.scalar(select(Organization.id).where(Organization.slug == "demo")):
            pytest.skip("the demo organization was loaded earlier in this database")
    load_demo()
    token = capsys.readouterr().err.strip().splitlines()[-1]
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
