"""Guide manifests: the bookings holding seats on a departure with customers, tiers,
participants, requests and money; totals; the day's manifests of a guide; row rules (a guide
sees only the departures it leads, others are 404), tenancy, CSV, and no N+1."""

import csv
import io

import pytest
from sqlalchemy import event, update

from tests.booking_builders import (
    add_schedule,
    create_booking,
    lead_schedule,
    make_departure,
    pay,
)
from tests.inventory_builders import make_guide, set_schedule
from tos.catalog.models import Tour

READERS = ["owner", "admin", "manager", "staff", "accountant"]
MEETING = {"name": "Praça do Comércio", "address": "1100-148 Lisboa", "lat": 38.7, "lng": -9.1}


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=20)


def body(dep, first, last, *, adults=1, children=0, participants=(), phone=None, **extra):
    """A booking of adults and children; participants under 12 go on the child line."""
    grown = [p for p in participants if p.get("age", 30) >= 12]
    young = [p for p in participants if p.get("age", 30) < 12]
    lines = [{"pricing_tier_id": dep.adult, "quantity": adults, "participants": grown}]
    if children:
        lines.append({"pricing_tier_id": dep.child, "quantity": children, "participants": young})
    email = f"{first.lower()}.{last.lower()}@example.com"
    customer = {"email": email, "first_name": first, "last_name": last, "phone": phone}
    return {"schedule_id": dep.schedule_id, "line_items": lines, "customer": customer, **extra}


def get_manifest(client, org, schedule_id, role="owner"):
    r = client.get(f"/api/v1/schedules/{schedule_id}/manifest", headers=org.headers(role))
    assert r.status_code == 200, r.text
    return r.json()


def day_list(client, org, query, role="owner"):
    return client.get(f"/api/v1/manifests?{query}", headers=org.headers(role))


def set_tour(db, org_id, tour_id, **values):
    with db(write=True, organization_id=org_id) as session:
        session.execute(update(Tour).where(Tour.id == tour_id).values(**values))
        session.commit()


# --- one departure ---------------------------------------------------------------------------


def test_the_manifest_shows_every_booking_holding_seats_with_its_details(client, db, org, dep):
    set_tour(db, org.id, dep.tour_id, meeting_point=MEETING)
    set_schedule(db, org.id, dep.schedule_id, special_instructions="Bring water")
    guide_id = make_guide(db, org.id, first_name="Rui", last_name="Costa", phone="+351911111111")
    set_schedule(db, org.id, dep.schedule_id, assigned_guide_id=guide_id)
    kids = [{"first_name": "Tom", "last_name": "Young", "age": 8}]
    young = create_booking(
        client,
        org,
        body=body(
            dep,
            "Zoe",
            "Young",
            adults=2,
            children=1,
            phone="+351 912 345 678",
            participants=[{"first_name": "Zoe", "last_name": "Young", "age": 40}, *kids],
            special_requests="Wheelchair access",
            dietary_restrictions="Vegan",
        ),
    )
    # Lower case on purpose: the order ignores case, the same on both databases.
    almeida = create_booking(client, org, body=body(dep, "Rita", "almeida", adults=1))
    # An unscheduled add-on takes no seat and is not a tier on the manifest.
    bravo = body(dep, "Bo", "Bravo", adults=3)
    bravo["line_items"].append({"description": "Lunch", "quantity": 3, "unit_amount": 1500})
    bravo = create_booking(client, org, body=bravo)

    m = get_manifest(client, org, dep.schedule_id)
    s = m["schedule"]
    assert (s["id"], s["tour_id"], s["variant_name"]) == (dep.schedule_id, dep.tour_id, "Standard")
    assert s["tour_name"].startswith("Tour ")
    assert (s["start_time"], s["end_time"], s["timezone"]) == ("09:00", "11:00", "Europe/Lisbon")
    assert (s["status"], s["capacity"], s["seats_taken"]) == ("open", 20, 7)
    assert s["meeting_point"] == MEETING
    assert s["special_instructions"] == "Bring water"
    assert s["guide"] == {"id": guide_id, "name": "Rui Costa", "phone": "+351911111111"}

    assert [b["reference"] for b in m["bookings"]] == [
        almeida["reference"],
        bravo["reference"],
        young["reference"],
    ]
    y = m["bookings"][2]
    assert y["booking_id"] == young["id"]
    assert y["status"] == "booking_created"
    assert y["customer"] == {
        "name": "Zoe Young",
        "email": "zoe.young@example.com",
        "phone": "+351912345678",
    }
    assert y["participants_count"] == 3
    assert y["participants_by_tier"] == [
        {"tier": "Adult", "unit_type": "ADULT", "quantity": 2},
        {"tier": "Child", "unit_type": "CHILD", "quantity": 1},
    ]
    assert {(p["first_name"], p["age"], p["tier"]) for p in y["participants"]} == {
        ("Zoe", 40, "Adult"),
        ("Tom", 8, "Child"),
    }
    assert (y["special_requests"], y["dietary_restrictions"]) == ("Wheelchair access", "Vegan")
    assert y["payment_status"] == "unpaid"
    assert y["balance_due"] == {"amount": 2 * 5000 + 2500, "currency": "EUR"}
    b = m["bookings"][1]
    assert b["participants_by_tier"] == [{"tier": "Adult", "unit_type": "ADULT", "quantity": 3}]
    assert b["balance_due"]["amount"] == 3 * 5000 + 3 * 1500

    assert m["totals"] == {
        "bookings": 3,
        "participants": 7,
        "participants_by_tier": [
            {"tier": "Adult", "unit_type": "ADULT", "quantity": 6},
            {"tier": "Child", "unit_type": "CHILD", "quantity": 1},
        ],
        "unpaid_bookings": 3,
    }


def test_cancelling_and_paying_change_the_manifest(client, org, dep):
    a = create_booking(client, org, body=body(dep, "Ann", "Alpha", adults=2))
    b = create_booking(client, org, body=body(dep, "Ben", "Beta", adults=1, children=2))
    c = create_booking(client, org, body=body(dep, "Cy", "Gamma", adults=1))
    before = get_manifest(client, org, dep.schedule_id)
    assert [x["booking_id"] for x in before["bookings"]] == [a["id"], b["id"], c["id"]]
    assert {x["payment_status"] for x in before["bookings"]} == {"unpaid"}
    assert (before["totals"]["participants"], before["totals"]["unpaid_bookings"]) == (6, 3)

    r = client.post(
        f"/api/v1/bookings/{b['id']}/cancel",
        headers=org.headers("manager"),
        json={"reason": "changed plans"},
    )
    assert r.status_code == 200, r.text
    assert pay(client, org, a["id"], a["total"]).status_code == 201
    assert pay(client, org, c["id"], 1000).status_code == 201

    m = get_manifest(client, org, dep.schedule_id)
    assert [x["booking_id"] for x in m["bookings"]] == [a["id"], c["id"]]
    paid, partial = m["bookings"]
    assert (paid["payment_status"], paid["balance_due"]["amount"]) == ("paid", 0)
    assert (partial["payment_status"], partial["balance_due"]["amount"]) == ("partial", 4000)
    assert m["totals"] == {
        "bookings": 2,
        "participants": 3,
        "participants_by_tier": [{"tier": "Adult", "unit_type": "ADULT", "quantity": 3}],
        "unpaid_bookings": 1,
    }
    assert m["schedule"]["seats_taken"] == 3


def test_an_empty_departure_has_an_empty_manifest(client, org, dep):
    m = get_manifest(client, org, dep.schedule_id)
    assert m["bookings"] == []
    assert m["schedule"]["guide"] is None
    assert m["totals"] == {
        "bookings": 0,
        "participants": 0,
        "participants_by_tier": [],
        "unpaid_bookings": 0,
    }


def test_the_manifest_reads_a_fixed_number_of_statements_whatever_the_bookings(
    client, db, org, dep
):
    other = add_schedule(db, org.id, dep.tour_id, dep.variant_id, hour=14)
    create_booking(client, org, body=body(dep, "Ann", "Alpha"))

    def statements(url):
        seen = []

        def count(*_args):
            seen.append(1)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get(url, headers=org.headers()).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    date = get_manifest(client, org, dep.schedule_id)["schedule"]["date"]
    one = statements(f"/api/v1/schedules/{dep.schedule_id}/manifest")
    one_day = statements(f"/api/v1/manifests?date={date}")
    for i in range(4):
        create_booking(client, org, body=body(dep, f"N{i}", f"Name{i}", children=1))
    create_booking(client, org, body={**body(dep, "Oz", "Other"), "schedule_id": other})
    assert statements(f"/api/v1/schedules/{dep.schedule_id}/manifest") == one
    assert statements(f"/api/v1/manifests?date={date}") == one_day
    assert one <= 8


def test_the_manifest_prints_as_csv_one_row_per_booking(client, org, dep):
    a = create_booking(
        client,
        org,
        body=body(
            dep,
            "Ann",
            "Alpha",
            adults=2,
            phone="+351912345678",
            participants=[{"first_name": "Ann", "last_name": "Alpha", "age": 33}],
            special_requests='=HYPERLINK("http://evil")',
        ),
    )
    create_booking(
        client, org, body=body(dep, "Ben", "Beta", children=1, dietary_restrictions="Nuts")
    )
    r = client.get(
        f"/api/v1/schedules/{dep.schedule_id}/manifest?format=csv", headers=org.headers("staff")
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="manifest-')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["reference"] for row in rows] == [a["reference"], rows[1]["reference"]]
    first, second = rows
    assert first["customer"] == "Ann Alpha"
    assert first["phone"] == "+351912345678"  # a phone is a number, not a formula
    assert first["tiers"] == "2 Adult"
    assert first["names"] == "Ann Alpha (33)"
    assert first["special_requests"] == '\'=HYPERLINK("http://evil")'  # defused
    assert first["balance_due"] == "100.00 EUR"
    assert first["payment_status"] == "unpaid"
    assert (second["tiers"], second["dietary_restrictions"]) == ("1 Adult, 1 Child", "Nuts")
    r = client.get(
        f"/api/v1/schedules/{dep.schedule_id}/manifest?format=pdf", headers=org.headers()
    )
    assert r.status_code == 422


# --- who may read it -----------------------------------------------------------------------


@pytest.mark.parametrize("role", [*READERS, "guide", "reseller"])
def test_reading_a_manifest_follows_the_permission_table(client, db, org, dep, role):
    r = client.get(f"/api/v1/schedules/{dep.schedule_id}/manifest", headers=org.headers(role))
    # A departure the guide does not lead is invisible to it: 404, not 403.
    assert r.status_code == {"guide": 404, "reseller": 403}.get(role, 200), r.text
    r = day_list(client, org, "date=2030-01-01", role)
    assert r.status_code == (403 if role == "reseller" else 200), r.text


def test_a_guide_reads_the_manifests_of_the_departures_it_leads_only(client, db, org, dep):
    mine = lead_schedule(db, org, dep.schedule_id)
    theirs = make_guide(db, org.id, first_name="Other", last_name="Guide")
    other = add_schedule(db, org.id, dep.tour_id, dep.variant_id, hour=15)
    set_schedule(db, org.id, other, assigned_guide_id=theirs)
    booking = create_booking(client, org, body=body(dep, "Ann", "Alpha"))

    m = get_manifest(client, org, dep.schedule_id, role="guide")
    assert [b["reference"] for b in m["bookings"]] == [booking["reference"]]
    assert m["schedule"]["guide"]["id"] == mine
    r = client.get(f"/api/v1/schedules/{other}/manifest", headers=org.headers("guide"))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"

    date = m["schedule"]["date"]
    own = day_list(client, org, f"date={date}", "guide").json()["items"]
    assert [x["schedule"]["id"] for x in own] == [dep.schedule_id]
    explicit = day_list(client, org, f"date={date}&guide_id={mine}", "guide").json()
    assert [x["schedule"]["id"] for x in explicit["items"]] == [dep.schedule_id]
    r = day_list(client, org, f"date={date}&guide_id={theirs}", "guide")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"
    # Everyone else reads any guide's day.
    r = day_list(client, org, f"date={date}&guide_id={theirs}", "accountant")
    assert [x["schedule"]["id"] for x in r.json()["items"]] == [other]


def test_a_guide_user_without_a_guide_profile_has_an_empty_day(client, org, dep):
    date = get_manifest(client, org, dep.schedule_id)["schedule"]["date"]
    r = day_list(client, org, f"date={date}", "guide")
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "next_cursor": None, "total_count": 0}


def test_another_organizations_departures_and_guides_are_404(client, db, org, other_org, dep):
    guide_id = lead_schedule(db, org, dep.schedule_id)
    create_booking(client, org, body=body(dep, "Ann", "Alpha"))
    r = client.get(f"/api/v1/schedules/{dep.schedule_id}/manifest", headers=other_org.headers())
    assert r.status_code == 404
    date = get_manifest(client, org, dep.schedule_id)["schedule"]["date"]
    assert day_list(client, other_org, f"date={date}&guide_id={guide_id}").status_code == 404
    assert day_list(client, other_org, f"date={date}").json()["items"] == []


# --- a guide's day -------------------------------------------------------------------------


def test_the_day_lists_the_guides_departures_on_that_local_date_in_start_order(
    client, db, org, dep
):
    guide_id = lead_schedule(db, org, dep.schedule_id)  # 09:00, ten days ahead
    late = add_schedule(db, org.id, dep.tour_id, dep.variant_id, hour=15)
    early = add_schedule(db, org.id, dep.tour_id, dep.variant_id, hour=7)
    cancelled = add_schedule(db, org.id, dep.tour_id, dep.variant_id, hour=12)
    next_day = add_schedule(db, org.id, dep.tour_id, dep.variant_id, hour=9, days_ahead=11)
    unassigned = add_schedule(db, org.id, dep.tour_id, dep.variant_id, hour=11)
    for sid in (late, early, cancelled, next_day):
        set_schedule(db, org.id, sid, assigned_guide_id=guide_id)
    set_schedule(db, org.id, cancelled, status="cancelled")
    create_booking(client, org, body={**body(dep, "Ann", "Alpha", adults=2), "schedule_id": late})

    date = get_manifest(client, org, dep.schedule_id)["schedule"]["date"]
    r = day_list(client, org, f"date={date}&guide_id={guide_id}", "manager")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [x["schedule"]["id"] for x in items] == [early, dep.schedule_id, late]
    assert [x["schedule"]["start_time"] for x in items] == ["07:00", "09:00", "15:00"]
    assert items[2]["totals"]["participants"] == 2
    assert r.json()["total_count"] == 3
    assert day_list(client, org, f"date={date}", "guide").json()["items"] == items

    everyone = day_list(client, org, f"date={date}", "staff").json()["items"]
    assert [x["schedule"]["id"] for x in everyone] == [early, dep.schedule_id, unassigned, late]


@pytest.mark.parametrize(
    "query", ["", "date=tomorrow", "date=2030-02-30", "date=2030-01-01&guide_id=%00"]
)
def test_the_day_needs_a_valid_date(client, org, query):
    r = day_list(client, org, query)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"


def test_an_unknown_guide_is_404(client, org):
    assert day_list(client, org, "date=2030-01-01&guide_id=nope").status_code == 404
