import pytest

from tests.inventory_builders import make_guide, make_tour, set_schedule

ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]
CREATORS = ["owner", "admin"]
UPDATERS = ["owner", "admin", "manager"]
READERS = ["owner", "admin", "manager", "staff", "accountant"]
SUNDAYS = {"type": "recurring", "days_of_week": [0], "start_times": ["10:00"]}


def post(client, org, role="owner", **body):
    return client.post("/api/v1/schedules", json=body, headers=org.headers(role))


def make_schedule(client, org, tour, day="2030-01-07", start="09:00", **kw):
    r = post(client, org, variant_id=tour.variant_id, date=day, start_time=start, **kw)
    assert r.status_code == 201, r.text
    return r.json()[0]


def generate(client, org, variant_id, date_from, date_to, role="owner"):
    return client.post(f"/api/v1/variants/{variant_id}/generate-schedules",
                       json={"date_from": date_from, "date_to": date_to},
                       headers=org.headers(role))  # fmt: skip


def audit(client, org, schedule_id):
    r = client.get(f"/api/v1/audit?entity_type=schedule&entity_id={schedule_id}",
                   headers=org.headers())  # fmt: skip
    return r.json()["items"]


def error_path(r):
    return r.json()["error"]["details"]["fields"][0]["path"]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_creating_a_schedule_follows_the_permission_table(client, db, org, role):
    tour = make_tour(db, org.id)
    r = post(client, org, role, variant_id=tour.variant_id, date="2030-01-07", start_time="09:00")
    assert r.status_code == (201 if role in CREATORS else 403)


def test_a_created_schedule_takes_the_tour_timezone_and_variant_capacity(client, db, org):
    tour = make_tour(db, org.id, timezone="America/New_York", capacity=30, duration_minutes=60,
                     variants=[{"capacity": 12, "duration_minutes": 90}])  # fmt: skip
    s = make_schedule(client, org, tour, day="2030-07-01", start="09:00", notes="n",
                      special_instructions="Bring water")  # fmt: skip
    assert s["timezone"] == "America/New_York"
    assert (s["date"], s["start_time"], s["end_time"]) == ("2030-07-01", "09:00", "10:30")
    assert s["starts_at"] == "2030-07-01T13:00:00Z"
    assert s["ends_at"] == "2030-07-01T14:30:00Z"
    assert (s["capacity"], s["seats_taken"], s["available_spots"]) == (12, 0, 12)
    assert (s["status"], s["generated_from_pattern"]) == ("open", False)
    assert (s["tour_id"], s["variant_id"]) == (tour.id, tour.variant_id)
    assert (s["notes"], s["special_instructions"]) == ("n", "Bring water")
    assert [e["action"] for e in audit(client, org, s["id"])] == ["schedule.created"]


def test_capacity_and_duration_fall_back_to_the_tour(client, db, org):
    tour = make_tour(db, org.id, capacity=25, duration_minutes=45)
    s = make_schedule(client, org, tour, start="23:30")
    assert (s["capacity"], s["end_time"]) == (25, "00:15")


def test_an_explicit_null_capacity_makes_a_freesale_schedule(client, db, org):
    tour = make_tour(db, org.id, capacity=25)
    s = make_schedule(client, org, tour, capacity=None, end_time="12:00")
    assert (s["capacity"], s["available_spots"], s["end_time"]) == (None, None, "12:00")


def test_bulk_dates_create_one_schedule_each_all_audited(client, db, org):
    tour = make_tour(db, org.id)
    r = post(client, org, variant_id=tour.variant_id, start_time="09:00", capacity=8,
             dates=["2030-01-07", "2030-01-08", "2030-01-09"])  # fmt: skip
    assert r.status_code == 201
    assert [s["date"] for s in r.json()] == ["2030-01-07", "2030-01-08", "2030-01-09"]
    assert all(len(audit(client, org, s["id"])) == 1 for s in r.json())


def test_a_start_in_the_spring_forward_gap_moves_forward_an_hour(client, db, org):
    tour = make_tour(db, org.id, timezone="America/New_York")
    s = make_schedule(client, org, tour, day="2026-03-08", start="02:30")
    assert (s["start_time"], s["starts_at"]) == ("03:30", "2026-03-08T07:30:00Z")


def test_the_same_variant_and_start_twice_is_a_conflict_with_details(client, db, org):
    tour = make_tour(db, org.id)
    first = make_schedule(client, org, tour)
    r = post(client, org, variant_id=tour.variant_id, start_time="09:00",
             dates=["2030-01-06", "2030-01-07"])  # fmt: skip
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "SCHEDULE_EXISTS"
    assert err["details"]["schedule_ids"] == [first["id"]]
    assert err["details"]["starts_at"] == ["2030-01-07T09:00:00+00:00"]


@pytest.mark.parametrize(
    "body,path",
    [
        ({"date": "2030-01-07"}, ["start_time"]),
        ({"start_time": "09:00"}, ["date"]),
        ({"date": "2030-01-07", "dates": ["2030-01-08"], "start_time": "09:00"}, ["date"]),
        ({"dates": ["2030-01-07", "2030-01-07"], "start_time": "09:00"}, ["dates", 1]),
        ({"dates": [], "start_time": "09:00"}, ["dates"]),
        ({"date": "2030-01-07", "start_time": "9am"}, ["start_time"]),
        ({"date": "2030-13-01", "start_time": "09:00"}, ["date"]),
        ({"date": "2030-01-07", "start_time": "09:00", "capacity": 0}, ["capacity"]),
        ({"date": "2030-01-07", "start_time": "09:00", "end_time": "09:00"}, ["end_time"]),
        ({"date": "2030-01-07", "start_time": "09:00", "open_time": "09:00"}, ["open_time"]),
        ({"date": "2030-01-07", "start_time": "09:00", "assigned_guide_id": "nope"},
         ["assigned_guide_id"]),
        ({"date": "2030-01-07", "start_time": "09:00", "colour": "red"}, ["colour"]),
        ({"date": "9999-12-31", "start_time": "23:30"}, ["date"]),
        ({"date": "2030-01-07", "start_time": "09:00", "notes": "a\u0000b"}, ["notes"]),
    ],
)  # fmt: skip
def test_invalid_schedule_requests_are_422_with_their_path(client, db, org, body, path):
    tour = make_tour(db, org.id)
    r = post(client, org, variant_id=tour.variant_id, **body)
    assert r.status_code == 422, r.text
    assert error_path(r) == path


def test_a_variant_of_another_organization_is_a_422_on_variant_id(client, db, org, other_org):
    tour = make_tour(db, other_org.id)
    r = post(client, org, variant_id=tour.variant_id, date="2030-01-07", start_time="09:00")
    assert r.status_code == 422
    assert error_path(r) == ["variant_id"]


def test_an_opening_hours_tour_takes_open_and_close_times(client, db, org):
    tour = make_tour(db, org.id, availability_type="opening_hours")
    r = post(client, org, variant_id=tour.variant_id, date="2030-01-07", start_time="09:00")
    assert (r.status_code, error_path(r)) == (422, ["start_time"])
    r = post(client, org, variant_id=tour.variant_id, date="2030-01-07", open_time="10:00",
             close_time="24:00")  # fmt: skip
    assert r.status_code == 201, r.text
    s = r.json()[0]
    assert (s["start_time"], s["end_time"], s["ends_at"]) == ("10:00", "00:00",
                                                              "2030-01-08T00:00:00Z")  # fmt: skip


@pytest.mark.parametrize("role", ALL_ROLES)
def test_generating_schedules_follows_the_permission_table(client, db, org, role):
    tour = make_tour(db, org.id)
    r = generate(client, org, tour.variant_id, "2030-01-01", "2030-01-03", role)
    assert r.status_code == (201 if role in CREATORS else 403)


def test_generation_creates_the_pattern_once_and_is_idempotent(client, db, org):
    pattern = SUNDAYS | {"excluded_dates": ["2030-01-13"]}
    tour = make_tour(db, org.id, variants=[{"availability_pattern": pattern, "capacity": 6}])
    r = generate(client, org, tour.variant_id, "2030-01-01", "2030-01-31")
    assert r.status_code == 201
    first = r.json()
    assert (first["created"], first["skipped"]) == (3, 0)
    listed = client.get(f"/api/v1/schedules?variant_id={tour.variant_id}", headers=org.headers())
    items = listed.json()["items"]
    assert [s["date"] for s in items] == ["2030-01-06", "2030-01-20", "2030-01-27"]
    assert all(s["generated_from_pattern"] and s["capacity"] == 6 for s in items)
    assert sorted(first["schedule_ids"]) == sorted(s["id"] for s in items)
    assert [e["action"] for e in audit(client, org, items[0]["id"])] == ["schedule.created"]
    again = generate(client, org, tour.variant_id, "2030-01-01", "2030-02-10").json()
    assert (again["created"], again["skipped"]) == (2, 3)  # only Feb 3 and Feb 10 are new


def test_generation_across_spring_forward_shifts_only_the_changed_day(client, db, org):
    pattern = {"type": "recurring", "start_times": ["02:30"]}
    tour = make_tour(db, org.id, timezone="America/New_York",
                     variants=[{"availability_pattern": pattern}])  # fmt: skip
    assert generate(client, org, tour.variant_id, "2026-03-07", "2026-03-09").json()["created"] == 3
    items = client.get(f"/api/v1/schedules?tour_id={tour.id}", headers=org.headers()).json()
    got = [(s["date"], s["start_time"], s["starts_at"]) for s in items["items"]]
    assert got == [
        ("2026-03-07", "02:30", "2026-03-07T07:30:00Z"),
        ("2026-03-08", "03:30", "2026-03-08T07:30:00Z"),
        ("2026-03-09", "02:30", "2026-03-09T06:30:00Z"),
    ]


def test_an_on_request_pattern_generates_nothing(client, db, org):
    tour = make_tour(db, org.id, variants=[{"availability_pattern": {"type": "on_request"}}])
    r = generate(client, org, tour.variant_id, "2030-01-01", "2030-12-31")
    assert r.json() == {"created": 0, "skipped": 0, "schedule_ids": []}


@pytest.mark.parametrize(
    "date_from,date_to,path",
    [("2030-01-10", "2030-01-09", ["date_to"]), ("2030-01-01", "2031-02-05", ["date_to"]),
     ("2030-01-01", "soon", ["date_to"]), ("9999-12-01", "9999-12-31", ["date_from"])],
)  # fmt: skip
def test_generation_ranges_are_validated(client, db, org, date_from, date_to, path):
    tour = make_tour(db, org.id)
    r = generate(client, org, tour.variant_id, date_from, date_to)
    assert (r.status_code, error_path(r)) == (422, path)


def test_an_unreadable_pattern_is_a_422_pointing_into_it(client, db, org):
    pattern = {"type": "recurring", "start_times": ["25:00"]}
    tour = make_tour(db, org.id, variants=[{"availability_pattern": pattern}])
    r = generate(client, org, tour.variant_id, "2030-01-01", "2030-01-31")
    assert (r.status_code, error_path(r)) == (422, ["availability_pattern", "start_times", 0])


def test_generating_for_another_organizations_variant_is_not_found(client, db, org, other_org):
    tour = make_tour(db, other_org.id)
    assert generate(client, org, tour.variant_id, "2030-01-01", "2030-01-02").status_code == 404


@pytest.mark.parametrize("role", ALL_ROLES)
def test_reading_schedules_follows_the_permission_table(client, db, org, role):
    tour = make_tour(db, org.id)
    s = make_schedule(client, org, tour)
    listed = client.get("/api/v1/schedules", headers=org.headers(role))
    one = client.get(f"/api/v1/schedules/{s['id']}", headers=org.headers(role))
    if role == "reseller":
        assert (listed.status_code, one.status_code) == (403, 403)
    elif role == "guide":  # not assigned to it
        assert (listed.json()["total_count"], one.status_code) == (0, 404)
    else:
        assert (listed.json()["total_count"], one.status_code) == (1, 200)


def test_a_guide_sees_only_the_schedules_it_is_assigned_to(client, db, org):
    tour = make_tour(db, org.id)
    mine = make_guide(db, org.id, user_id=org.user_ids["guide"])
    other = make_guide(db, org.id)
    a = make_schedule(client, org, tour, day="2030-01-07", assigned_guide_id=mine)
    b = make_schedule(client, org, tour, day="2030-01-08", assigned_guide_id=other)
    items = client.get("/api/v1/schedules", headers=org.headers("guide")).json()["items"]
    assert [s["id"] for s in items] == [a["id"]]
    assert (
        client.get(f"/api/v1/schedules/{a['id']}", headers=org.headers("guide")).status_code == 200
    )
    assert (
        client.get(f"/api/v1/schedules/{b['id']}", headers=org.headers("guide")).status_code == 404
    )


def test_another_organizations_schedule_is_not_found(client, db, org, other_org):
    s = make_schedule(client, other_org, make_tour(db, other_org.id))
    assert client.get(f"/api/v1/schedules/{s['id']}", headers=org.headers()).status_code == 404
    r = client.patch(f"/api/v1/schedules/{s['id']}", json={"notes": "x"}, headers=org.headers())
    assert r.status_code == 404
    assert client.get("/api/v1/schedules", headers=org.headers()).json()["total_count"] == 0


def test_the_schedule_list_filters_and_pages_in_start_order(client, db, org):
    tour, other = make_tour(db, org.id), make_tour(db, org.id)
    guide = make_guide(db, org.id)
    days = ["2030-01-09", "2030-01-07", "2030-01-08", "2030-01-10"]
    ids = {d: make_schedule(client, org, tour, day=d, capacity=2)["id"] for d in days}
    make_schedule(client, org, other, day="2030-01-08")
    set_schedule(db, org.id, ids["2030-01-08"], seats_taken=2)
    set_schedule(db, org.id, ids["2030-01-10"], status="closed", assigned_guide_id=guide)

    def dates(query):
        r = client.get(f"/api/v1/schedules?tour_id={tour.id}&{query}", headers=org.headers())
        assert r.status_code == 200, r.text
        return [s["date"][-2:] for s in r.json()["items"]]

    assert dates("") == ["07", "08", "09", "10"]
    assert dates("status=full") == ["08"]
    assert dates("status=open") == ["07", "09"]
    assert dates("status=closed") == ["10"]
    assert dates(f"guide_id={guide}") == ["10"]
    assert dates("date_from=2030-01-08&date_to=2030-01-09") == ["08", "09"]
    page = client.get(f"/api/v1/schedules?tour_id={tour.id}&limit=3", headers=org.headers()).json()
    assert (page["total_count"], len(page["items"])) == (4, 3)
    rest = client.get(f"/api/v1/schedules?tour_id={tour.id}&cursor={page['next_cursor']}",
                      headers=org.headers()).json()  # fmt: skip
    assert [s["date"] for s in rest["items"]] == ["2030-01-10"]
    assert dates("page=2&page_size=3") == ["10"]
    r = client.get("/api/v1/schedules?status=sold", headers=org.headers())
    assert (r.status_code, error_path(r)) == (422, ["query", "status"])


@pytest.mark.parametrize("role", ALL_ROLES)
def test_updating_a_schedule_follows_the_permission_table(client, db, org, role):
    s = make_schedule(client, org, make_tour(db, org.id))
    r = client.patch(f"/api/v1/schedules/{s['id']}", json={"notes": "x"}, headers=org.headers(role))
    assert r.status_code == (200 if role in UPDATERS else 403)


def patch(client, org, schedule_id, **body):
    return client.patch(f"/api/v1/schedules/{schedule_id}", json=body, headers=org.headers())


def test_capacity_below_the_seats_taken_is_a_conflict_with_the_numbers(client, db, org):
    s = make_schedule(client, org, make_tour(db, org.id), capacity=10)
    set_schedule(db, org.id, s["id"], seats_taken=7)
    r = patch(client, org, s["id"], capacity=6)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "CAPACITY_BELOW_BOOKED"
    assert r.json()["error"]["details"] == {"seats_taken": 7, "requested_capacity": 6}
    r = patch(client, org, s["id"], capacity=7)
    assert (r.json()["capacity"], r.json()["status"], r.json()["available_spots"]) == (7, "full", 0)
    r = patch(client, org, s["id"], capacity=None)
    assert (r.json()["capacity"], r.json()["available_spots"], r.json()["status"]) == (
        None, None, "open",
    )  # fmt: skip


def test_updates_are_audited_with_before_and_after(client, db, org):
    s = make_schedule(client, org, make_tour(db, org.id), capacity=10)
    r = patch(client, org, s["id"], status="closed", notes="Road works", capacity=12)
    got = r.json()
    assert (got["status"], got["notes"], got["capacity"]) == ("closed", "Road works", 12)
    entry = audit(client, org, s["id"])[-1]
    assert entry["action"] == "schedule.updated"
    assert (entry["before"]["status"], entry["after"]["status"]) == ("open", "closed")
    assert patch(client, org, s["id"], status="open").json()["status"] == "open"


def test_a_completed_or_cancelled_schedule_cannot_be_reopened(client, db, org):
    tour = make_tour(db, org.id)
    for status, day in (("completed", "2030-01-07"), ("cancelled", "2030-01-08")):
        s = make_schedule(client, org, tour, day=day)
        set_schedule(db, org.id, s["id"], status=status)
        r = patch(client, org, s["id"], status="open")
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "INVALID_TRANSITION"


@pytest.mark.parametrize(
    "body,path",
    [({"status": "full"}, ["status"]), ({"status": "cancelled"}, ["status"]),
     ({"status": None}, ["status"]), ({"capacity": -1}, ["capacity"]),
     ({"seats_taken": 0}, ["seats_taken"])],
)  # fmt: skip
def test_invalid_schedule_updates_are_422_with_their_path(client, db, org, body, path):
    s = make_schedule(client, org, make_tour(db, org.id))
    r = patch(client, org, s["id"], **body)
    assert (r.status_code, error_path(r)) == (422, path)


def test_assigning_and_unassigning_a_guide_is_audited_as_guide_assigned(client, db, org):
    s = make_schedule(client, org, make_tour(db, org.id))
    guide = make_guide(db, org.id)
    assert patch(client, org, s["id"], assigned_guide_id=guide).json()["assigned_guide_id"] == guide
    assert patch(client, org, s["id"], assigned_guide_id=None).json()["assigned_guide_id"] is None
    entries = audit(client, org, s["id"])
    assert [e["action"] for e in entries] == ["schedule.created", "schedule.guide_assigned",
                                              "schedule.guide_assigned"]  # fmt: skip
    assert entries[1]["after"]["assigned_guide_id"] == guide
    assert entries[2]["before"]["assigned_guide_id"] == guide


def test_only_an_active_guide_of_this_organization_can_be_assigned(client, db, org, other_org):
    s = make_schedule(client, org, make_tour(db, org.id))
    for guide in (make_guide(db, other_org.id), make_guide(db, org.id, status="inactive")):
        r = patch(client, org, s["id"], assigned_guide_id=guide)
        assert (r.status_code, error_path(r)) == (422, ["assigned_guide_id"])


def test_ids_with_a_nul_byte_are_refused_not_a_server_error(client, db, org):
    for r in (
        client.get("/api/v1/schedules/a%00b", headers=org.headers()),
        client.get("/api/v1/schedules?tour_id=%00", headers=org.headers()),
        patch(client, org, "a%00b", notes="x"),
        generate(client, org, "a%00b", "2030-01-01", "2030-01-02"),
    ):
        assert r.status_code == 422
