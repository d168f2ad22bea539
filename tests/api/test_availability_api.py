import datetime as dt

import pytest

from tests.inventory_builders import make_tour, set_schedule

ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]
TIERS = [
    {"name": "Adult", "amount": 4500, "sort_order": 0},
    {"name": "Child", "amount": 2500, "unit_type": "CHILD", "sort_order": 1},
]


def create(client, org, tour, day, start="09:00", variant=0, **kw):
    r = client.post("/api/v1/schedules",
                    json={"variant_id": tour.variant_ids[variant], "date": day,
                          "start_time": start, **kw},
                    headers=org.headers())  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()[0]["id"]


def availability(client, org, tour_id, date_from="2030-01-01", date_to="2030-01-31", role="owner",
                 **params):  # fmt: skip
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(
        f"/api/v1/availability?tour_id={tour_id}&date_from={date_from}&date_to={date_to}&{query}",
        headers=org.headers(role),
    )


@pytest.mark.parametrize("role", ALL_ROLES)
def test_availability_is_readable_by_every_staff_role_but_not_resellers(client, db, org, role):
    tour = make_tour(db, org.id)
    assert availability(client, org, tour.id, role=role).status_code == (
        403 if role == "reseller" else 200
    )


def test_availability_answers_seed_003s_shape_in_snake_case(client, db, org):
    tour = make_tour(db, org.id, timezone="Europe/Rome", tiers=TIERS, capacity=10,
                     variants=[{"name": "Morning"}])  # fmt: skip
    sid = create(client, org, tour, "2030-01-07")
    set_schedule(db, org.id, sid, seats_taken=3)
    body = availability(client, org, tour.id).json()
    assert body == {
        "tour_id": tour.id,
        "timezone": "Europe/Rome",
        "availability_type": "start_time",
        "schedules": [{
            "id": sid, "variant_id": tour.variant_id, "variant_name": "Morning",
            "date": "2030-01-07", "start_time": "09:00", "end_time": "11:00",
            "starts_at": "2030-01-07T08:00:00Z", "available_spots": 7, "capacity": 10,
            "status": "open",
            "pricing": [
                {"tier_id": tour.tier_ids["Adult"], "name": "Adult", "unit_type": "ADULT",
                 "price": {"amount": 4500, "currency": "EUR"}},
                {"tier_id": tour.tier_ids["Child"], "name": "Child", "unit_type": "CHILD",
                 "price": {"amount": 2500, "currency": "EUR"}},
            ],
        }],
    }  # fmt: skip


def test_by_default_only_bookable_departures_are_listed(client, db, org):
    tour = make_tour(db, org.id, capacity=4)
    ids = {name: create(client, org, tour, f"2030-01-{day:02d}")
           for day, name in enumerate(["open", "full", "closed", "cancelled", "completed",
                                       "freesale"], start=10)}  # fmt: skip
    set_schedule(db, org.id, ids["full"], seats_taken=4)
    for status in ("closed", "cancelled", "completed"):
        set_schedule(db, org.id, ids[status], status=status)
    set_schedule(db, org.id, ids["freesale"], capacity=None, seats_taken=50)
    past = create(client, org, tour, (dt.date.today() - dt.timedelta(days=2)).isoformat())

    listed = availability(client, org, tour.id).json()["schedules"]
    assert [s["id"] for s in listed] == [ids["open"], ids["freesale"]]
    assert listed[1]["available_spots"] is None and listed[1]["capacity"] is None

    everything = availability(client, org, tour.id, include_unavailable="true").json()
    statuses = {s["id"]: s["status"] for s in everything["schedules"]}
    assert statuses == {ids[n]: ("open" if n == "freesale" else n) for n in ids}
    assert (
        next(s for s in everything["schedules"] if s["id"] == ids["full"])["available_spots"] == 0
    )

    today = dt.date.today()
    window = {"date_from": (today - dt.timedelta(days=5)).isoformat(), "date_to": today.isoformat()}
    assert availability(client, org, tour.id, **window).json()["schedules"] == []
    shown = availability(client, org, tour.id, include_unavailable="true", **window).json()
    assert [(s["id"], s["status"]) for s in shown["schedules"]] == [(past, "closed")]


def test_departures_of_an_inactive_variant_are_not_offered(client, db, org):
    tour = make_tour(db, org.id, variants=[{"name": "Old", "status": "inactive"}, {"name": "New"}])
    create(client, org, tour, "2030-01-07", variant=0)
    new = create(client, org, tour, "2030-01-07", variant=1)
    assert [s["id"] for s in availability(client, org, tour.id).json()["schedules"]] == [new]


def test_the_window_is_inclusive_local_dates_and_ordered_by_start(client, db, org):
    tour = make_tour(db, org.id)
    late = create(client, org, tour, "2030-02-01", "18:00")
    early = create(client, org, tour, "2030-02-01", "08:00")
    create(client, org, tour, "2030-02-02")
    create(client, org, tour, "2030-01-31")
    body = availability(client, org, tour.id, date_from="2030-02-01", date_to="2030-02-01").json()
    assert [s["id"] for s in body["schedules"]] == [early, late]


def test_a_variant_filter_lists_only_that_variants_departures(client, db, org):
    tour = make_tour(db, org.id, variants=[{"name": "A"}, {"name": "B"}])
    create(client, org, tour, "2030-01-07", variant=0)
    b = create(client, org, tour, "2030-01-07", variant=1)
    body = availability(client, org, tour.id, variant_id=tour.variant_ids[1]).json()
    assert [(s["id"], s["variant_name"]) for s in body["schedules"]] == [(b, "B")]


def test_pricing_follows_the_variant_and_the_local_date(client, db, org):
    tiers = [
        {"name": "Adult", "amount": 4000},
        {"name": "Summer adult", "amount": 5000, "valid_from": dt.date(2030, 6, 1),
         "valid_until": dt.date(2030, 8, 31)},
        {"name": "VIP", "amount": 9000, "variant": 1, "sort_order": -1},
    ]  # fmt: skip
    tour = make_tour(db, org.id, variants=[{"name": "Std"}, {"name": "Premium"}], tiers=tiers)
    may = create(client, org, tour, "2030-05-31")
    june = create(client, org, tour, "2030-06-01")
    premium = create(client, org, tour, "2030-06-01", variant=1)
    body = availability(client, org, tour.id, date_from="2030-05-01", date_to="2030-06-30").json()
    names = {s["id"]: [p["name"] for p in s["pricing"]] for s in body["schedules"]}
    assert names == {
        may: ["Adult"],
        june: ["Adult", "Summer adult"],
        premium: ["VIP", "Adult", "Summer adult"],
    }


def test_a_departure_without_tiers_has_empty_pricing(client, db, org):
    tour = make_tour(db, org.id)
    create(client, org, tour, "2030-01-07")
    assert availability(client, org, tour.id).json()["schedules"][0]["pricing"] == []


def test_another_organizations_tour_is_not_found(client, db, org, other_org):
    tour = make_tour(db, other_org.id)
    create(client, other_org, tour, "2030-01-07")
    r = availability(client, org, tour.id)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND")


def test_a_variant_of_another_tour_is_not_found(client, db, org):
    tour, other = make_tour(db, org.id), make_tour(db, org.id)
    assert availability(client, org, tour.id, variant_id=other.variant_id).status_code == 404


@pytest.mark.parametrize(
    "params,path",
    [
        ({"date_from": "2030-01-10", "date_to": "2030-01-09"}, ["query", "date_to"]),
        ({"date_from": "2030-01-01", "date_to": "2031-01-02"}, ["query", "date_to"]),
        ({"date_from": "yesterday"}, ["query", "date_from"]),
        ({"include_unavailable": "perhaps"}, ["query", "include_unavailable"]),
        ({"variant_id": "%00"}, ["query", "variant_id"]),
    ],
)
def test_bad_availability_queries_are_422_with_their_path(client, db, org, params, path):
    tour = make_tour(db, org.id)
    r = availability(client, org, tour.id, **params)
    assert r.status_code == 422
    assert r.json()["error"]["details"]["fields"][0]["path"] == path


def test_a_full_leap_year_window_is_allowed(client, db, org):
    tour = make_tour(db, org.id)
    r = availability(client, org, tour.id, date_from="2028-01-01", date_to="2028-12-31")
    assert r.status_code == 200


def test_tour_id_is_required(client, org):
    r = client.get("/api/v1/availability?date_from=2030-01-01&date_to=2030-01-02",
                   headers=org.headers())  # fmt: skip
    assert r.status_code == 422
    assert r.json()["error"]["details"]["fields"][0]["path"] == ["query", "tour_id"]


def test_a_tour_id_with_a_nul_byte_is_refused_not_a_server_error(client, org):
    r = availability(client, org, "a%00b")
    assert r.status_code == 422


def test_a_cached_availability_answer_never_hides_a_seat_change(client, db, org):
    from tests.booking_builders import booking_body, make_departure

    dep = make_departure(db, org.id, capacity=5)
    day = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    url = f"/api/v1/availability?tour_id={dep.tour_id}&date_from={day}&date_to={day}"

    def spots():
        body = client.get(url, headers=org.headers()).json()
        return [s["available_spots"] for s in body["schedules"]]

    assert spots() == [5] and spots() == [5]  # the second answer comes from the cache
    booked = client.post(
        "/api/v1/bookings", headers=org.headers("manager"), json=booking_body(dep, adults=2)
    )
    assert booked.status_code == 201
    assert spots() == [3]
    client.post(
        f"/api/v1/bookings/{booked.json()['id']}/cancel",
        headers=org.headers(),
        json={"reason": "test"},
    )
    assert spots() == [5]
    client.patch(
        f"/api/v1/schedules/{dep.schedule_id}", headers=org.headers(), json={"status": "closed"}
    )
    assert spots() == []


def test_a_cached_availability_answer_follows_a_price_change(client, db, org):
    from tests.booking_builders import make_departure

    dep = make_departure(db, org.id, capacity=5, adult_price=5000)
    day = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    url = f"/api/v1/availability?tour_id={dep.tour_id}&date_from={day}&date_to={day}"

    def price():
        body = client.get(url, headers=org.headers()).json()
        return body["schedules"][0]["pricing"][0]["price"]["amount"]

    assert price() == 5000 and price() == 5000
    r = client.patch(
        f"/api/v1/tours/{dep.tour_id}/pricing-tiers/{dep.adult}",
        headers=org.headers(),
        json={"amount": 6000},
    )
    assert r.status_code == 200, r.text
    assert price() == 6000
