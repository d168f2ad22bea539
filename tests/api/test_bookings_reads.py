"""Reading bookings: one booking with lines, snapshot, statuses and ledger; lists with filters,
group names, search, sorts, cursors and pages; row rules; PATCH of notes and assignment."""

import datetime as dt

import pytest

from tests.booking_builders import (
    add_schedule,
    audit_actions,
    create_booking,
    lead_schedule,
    make_departure,
    move,
    pay,
    walk_to,
)

ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=None)


def listing(client, org, query="", role="owner") -> dict:
    r = client.get(f"/api/v1/bookings{query}", headers=org.headers(role))
    assert r.status_code == 200, r.text
    return r.json()


def ids(client, org, query="", role="owner") -> set[str]:
    return {b["id"] for b in listing(client, org, query, role)["items"]}


def error(r) -> dict:
    return r.json()["error"]


def patch(client, org, booking_id, body, role="manager"):
    return client.patch(f"/api/v1/bookings/{booking_id}", headers=org.headers(role), json=body)


# --- one booking ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_reading_a_booking_follows_the_permission_table_and_row_rules(client, db, org, dep, role):
    b = create_booking(client, org, dep, assigned_to=org.user_ids["staff"])
    lead_schedule(db, org, dep.schedule_id)
    r = client.get(f"/api/v1/bookings/{b['id']}", headers=org.headers(role))
    assert r.status_code == (403 if role == "reseller" else 200), r.text


def test_a_booking_shows_lines_snapshot_statuses_and_ledger(client, org, dep):
    b = create_booking(client, org, dep, adults=2)
    walk_to(client, org, b, "payment_pending")
    pay(client, org, b["id"], 3000, method="bank_transfer", reference="TRX-1")
    got = client.get(f"/api/v1/bookings/{b['id']}", headers=org.headers("accountant")).json()
    assert got["status"] == "payment_pending" and got["payment_status"] == "partial"
    assert (got["paid"], got["balance_due"]) == (3000, 7000)
    assert [ln["pricing_tier_id"] for ln in got["line_items"]] == [dep.adult]
    assert got["price_snapshot"]["total"]["amount"] == 10000
    [entry] = got["ledger"]
    assert (entry["kind"], entry["status"], entry["amount"], entry["currency"]) == (
        "manual",
        "succeeded",
        3000,
        "EUR",
    )
    assert (entry["method"], entry["reference"], entry["actor_id"]) == (
        "bank_transfer",
        "TRX-1",
        org.user_ids["accountant"],
    )


def test_staff_see_a_booking_not_assigned_to_them_as_404(client, org, dep):
    b = create_booking(client, org, dep, assigned_to=org.user_ids["manager"])
    r = client.get(f"/api/v1/bookings/{b['id']}", headers=org.headers("staff"))
    assert r.status_code == 404 and error(r)["code"] == "NOT_FOUND"


def test_a_guide_sees_a_booking_on_a_schedule_they_do_not_lead_as_404(client, db, org, dep):
    b = create_booking(client, org, dep)
    r = client.get(f"/api/v1/bookings/{b['id']}", headers=org.headers("guide"))
    assert r.status_code == 404


def test_a_guide_does_not_see_a_booking_without_a_schedule(client, db, org):
    body = {
        "customer": {"email": "x@example.com"},
        "line_items": [{"description": "Transfer", "quantity": 1, "unit_amount": 100}],
    }
    b = create_booking(client, org, body=body)
    assert (
        client.get(f"/api/v1/bookings/{b['id']}", headers=org.headers("guide")).status_code == 404
    )


# --- lists: row rules ---------------------------------------------------------------------------


def test_a_list_shows_only_the_callers_organization(client, db, org, other_org, dep):
    mine = create_booking(client, org, dep)
    create_booking(client, other_org, make_departure(db, other_org.id))
    page = listing(client, org)
    assert {b["id"] for b in page["items"]} == {mine["id"]} and page["total_count"] == 1


def test_staff_list_only_the_bookings_assigned_to_them(client, org, dep):
    own = create_booking(client, org, dep, role="staff")
    create_booking(client, org, dep, assigned_to=org.user_ids["manager"])
    create_booking(client, org, dep)
    page = listing(client, org, role="staff")
    assert {b["id"] for b in page["items"]} == {own["id"]} and page["total_count"] == 1


def test_a_guide_lists_only_bookings_on_schedules_they_lead(client, db, org, dep):
    led = create_booking(client, org, dep)
    other_schedule = add_schedule(
        db, org.id, dep.tour_id, dep.variant_id, days_ahead=11, capacity=None
    )
    create_booking(client, org, dep, schedule_id=other_schedule)
    lead_schedule(db, org, dep.schedule_id)
    assert ids(client, org, role="guide") == {led["id"]}


@pytest.mark.parametrize("role", ["owner", "admin", "manager", "accountant"])
def test_other_readers_list_every_booking(client, org, dep, role):
    create_booking(client, org, dep, role="staff")
    create_booking(client, org, dep)
    assert listing(client, org, role=role)["total_count"] == 2


def test_a_reseller_cannot_list_bookings(client, org):
    assert client.get("/api/v1/bookings", headers=org.headers("reseller")).status_code == 403


def test_list_items_carry_payment_status_and_customer_without_lines(client, org, dep):
    b = create_booking(client, org, dep)
    pay(client, org, b["id"], 1000)
    [item] = listing(client, org)["items"]
    assert item["payment_status"] == "partial" and item["paid"] == 1000
    assert item["customer"]["email"] == "ana@example.com"
    assert item["line_items"] is None and item["ledger"] is None


# --- lists: filters ------------------------------------------------------------------------------


@pytest.fixture
def spread(client, org, dep):
    """One booking per interesting status."""
    made = {}
    for status in [
        "booking_created",
        "payment_pending",
        "payment_confirmed",
        "documents_generated",
        "completed",
        "no_show",
        "cancelled",
    ]:
        b = create_booking(client, org, dep)
        walk_to(client, org, b, status)
        made[status] = b["id"]
    return made


@pytest.mark.parametrize(
    "query,expected",
    [
        ("status=pending", {"booking_created", "payment_pending"}),
        ("status=confirmed", {"payment_confirmed", "documents_generated"}),
        ("status=cancelled", {"cancelled"}),
        ("status=completed", {"completed"}),
        ("status=no_show", {"no_show"}),
        ("status=payment_pending", {"payment_pending"}),
        ("status=payment_pending,completed", {"payment_pending", "completed"}),
        ("status=pending&status=no_show", {"booking_created", "payment_pending", "no_show"}),
        ("stage=payment_confirmed", {"payment_confirmed"}),
        ("stage=confirmed", {"payment_confirmed", "documents_generated"}),
        ("status=refunded", set()),
    ],
)
def test_the_status_filter_takes_statuses_and_group_names(client, org, spread, query, expected):
    assert ids(client, org, "?" + query) == {spread[s] for s in expected}


def test_an_unknown_status_filter_is_422(client, org):
    r = client.get("/api/v1/bookings?status=shipped", headers=org.headers())
    assert r.status_code == 422
    assert [f["path"] for f in error(r)["details"]["fields"]] == [["query", "status"]]


def test_the_schedule_filter(client, db, org, dep):
    a = create_booking(client, org, dep)
    other = add_schedule(db, org.id, dep.tour_id, dep.variant_id, days_ahead=12, capacity=None)
    create_booking(client, org, dep, schedule_id=other)
    assert ids(client, org, f"?schedule_id={dep.schedule_id}") == {a["id"]}


def test_the_tour_filter(client, db, org, dep):
    a = create_booking(client, org, dep)
    other = make_departure(db, org.id, capacity=None)
    create_booking(client, org, other)
    assert ids(client, org, f"?tour_id={dep.tour_id}") == {a["id"]}


def test_the_customer_filter(client, org, dep):
    a = create_booking(client, org, dep, email="one@example.com")
    create_booking(client, org, dep, email="two@example.com")
    assert ids(client, org, f"?customer_id={a['customer']['id']}") == {a["id"]}


def test_the_owner_filter(client, org, dep):
    a = create_booking(client, org, dep, assigned_to=org.user_ids["admin"])
    create_booking(client, org, dep, assigned_to=org.user_ids["staff"])
    create_booking(client, org, dep)
    assert ids(client, org, f"?owner_id={org.user_ids['admin']}") == {a["id"]}


def test_the_source_filter(client, org, dep):
    a = create_booking(client, org, dep, source="phone")
    create_booking(client, org, dep, source="website")
    assert ids(client, org, "?source=phone") == {a["id"]}


def test_the_date_range_filter_uses_the_departure_date(client, db, org, dep):
    near = create_booking(client, org, dep)  # 10 days ahead
    later = add_schedule(db, org.id, dep.tour_id, dep.variant_id, days_ahead=20, capacity=None)
    far = create_booking(client, org, dep, schedule_id=later)
    day = lambda n: (dt.date.today() + dt.timedelta(days=n)).isoformat()  # noqa: E731
    assert ids(client, org, f"?date_from={day(15)}") == {far["id"]}
    assert ids(client, org, f"?date_to={day(15)}") == {near["id"]}
    assert ids(client, org, f"?date_from={day(10)}&date_to={day(20)}") == {near["id"], far["id"]}
    assert ids(client, org, f"?date_from={day(11)}&date_to={day(19)}") == set()


def test_an_invalid_date_filter_is_422(client, org):
    assert client.get("/api/v1/bookings?date_from=soon", headers=org.headers()).status_code == 422


def test_filters_combine(client, org, dep):
    a = create_booking(client, org, dep, source="phone", email="x@example.com")
    create_booking(client, org, dep, source="phone", email="y@example.com")
    walk_to(client, org, a, "payment_pending")
    assert ids(client, org, "?source=phone&status=pending&search=x@example") == {a["id"]}


# --- lists: search --------------------------------------------------------------------------------


@pytest.fixture
def people(client, org, dep):
    out = {}
    for email, first, last in [
        ("maria.lopez@example.com", "María", "López"),
        ("john@sample.org", "John", "Smith"),
        ("kim_lee@example.com", "Kim", "Lee"),
    ]:
        body = {
            "schedule_id": dep.schedule_id,
            "line_items": [{"pricing_tier_id": dep.adult, "quantity": 1}],
            "customer": {"email": email, "first_name": first, "last_name": last},
        }
        out[first] = create_booking(client, org, body=body)
    return out


def test_search_finds_a_booking_by_its_reference(client, org, people):
    ref = people["John"]["reference"]
    assert ids(client, org, f"?search={ref}") == {people["John"]["id"]}
    assert ids(client, org, f"?search={ref.lower()}") == {people["John"]["id"]}


def test_search_finds_bookings_by_part_of_the_email_in_any_case(client, org, people):
    assert ids(client, org, "?search=SAMPLE.ORG") == {people["John"]["id"]}


def test_search_finds_bookings_by_first_or_full_name(client, org, people):
    assert ids(client, org, "?search=smith") == {people["John"]["id"]}
    assert ids(client, org, "?search=John%20Smith") == {people["John"]["id"]}


def test_search_for_nobody_finds_nothing(client, org, people):
    assert listing(client, org, "?search=zebra")["total_count"] == 0


def test_search_treats_like_wildcards_as_plain_characters(client, org, people):
    assert ids(client, org, "?search=_") == {people["Kim"]["id"]}
    assert ids(client, org, "?search=%25") == set()
    assert ids(client, org, "?search=%5C") == set()


def test_search_does_not_reach_another_organization(client, db, org, other_org, people):
    theirs = make_departure(db, other_org.id)
    create_booking(client, other_org, theirs, email="john@sample.org")
    assert ids(client, org, "?search=john") == {people["John"]["id"]}


def test_an_overlong_search_is_422(client, org):
    r = client.get("/api/v1/bookings?search=" + "a" * 201, headers=org.headers())
    assert r.status_code == 422


# --- lists: sorting and paging --------------------------------------------------------------------


def test_the_newest_booking_comes_first_by_default(client, org, dep):
    made = [create_booking(client, org, dep)["id"] for _ in range(3)]
    assert [b["id"] for b in listing(client, org)["items"]] == made[::-1]


def test_sort_by_created_at_ascending(client, org, dep):
    made = [create_booking(client, org, dep)["id"] for _ in range(3)]
    assert [b["id"] for b in listing(client, org, "?sort=created_at")["items"]] == made


@pytest.mark.parametrize("sort,reverse", [("reference", False), ("-reference", True)])
def test_sort_by_reference(client, org, dep, sort, reverse):
    for _ in range(4):
        create_booking(client, org, dep)
    refs = [b["reference"] for b in listing(client, org, f"?sort={sort}")["items"]]
    assert refs == sorted(refs, reverse=reverse)


def test_an_unknown_sort_is_422_at_sort(client, org):
    r = client.get("/api/v1/bookings?sort=total", headers=org.headers())
    assert r.status_code == 422
    assert [f["path"] for f in error(r)["details"]["fields"]] == [["query", "sort"]]


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "reference", "-reference"])
def test_cursors_walk_every_booking_once_in_each_sort(client, org, dep, sort):
    made = {create_booking(client, org, dep)["id"] for _ in range(5)}
    seen: list[str] = []
    query = f"?sort={sort}&limit=2"
    while True:
        page = listing(client, org, query)
        assert page["total_count"] == 5
        seen += [b["id"] for b in page["items"]]
        if not page["next_cursor"]:
            break
        query = f"?sort={sort}&limit=2&cursor={page['next_cursor']}"
    assert len(seen) == 5 and set(seen) == made


def test_page_and_page_size_split_the_list(client, org, dep):
    made = [create_booking(client, org, dep)["id"] for _ in range(5)]
    pages = [listing(client, org, f"?sort=created_at&page={n}&page_size=2") for n in (1, 2, 3, 4)]
    assert [[b["id"] for b in p["items"]] for p in pages] == [made[:2], made[2:4], made[4:], []]
    assert all(p["total_count"] == 5 for p in pages)


def test_page_and_cursor_together_are_422(client, org, dep):
    create_booking(client, org, dep)
    create_booking(client, org, dep)
    cursor = listing(client, org, "?limit=1")["next_cursor"]
    r = client.get(f"/api/v1/bookings?page=1&cursor={cursor}", headers=org.headers())
    assert r.status_code == 422


@pytest.mark.parametrize("query", ["?cursor=garbage", "?page=0", "?page_size=0", "?limit=201"])
def test_bad_paging_parameters_are_422(client, org, query):
    assert client.get(f"/api/v1/bookings{query}", headers=org.headers()).status_code == 422


# --- PATCH ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_updating_a_booking_follows_the_permission_table(client, org, dep, role):
    b = create_booking(client, org, dep, assigned_to=org.user_ids["staff"])
    r = patch(client, org, b["id"], {"notes": "call back"}, role=role)
    allowed = role in ("owner", "admin", "manager", "staff")
    assert r.status_code == (200 if allowed else 403), r.text


def test_notes_special_requests_and_diet_are_updated_and_audited(client, org, dep):
    b = create_booking(client, org, dep)
    r = patch(
        client,
        org,
        b["id"],
        {"notes": "VIP", "special_requests": "wheelchair", "dietary_restrictions": "no nuts"},
    )
    got = r.json()
    assert (got["notes"], got["special_requests"], got["dietary_restrictions"]) == (
        "VIP",
        "wheelchair",
        "no nuts",
    )
    audit = client.get(
        f"/api/v1/audit?entity_type=booking&entity_id={b['id']}", headers=org.headers()
    ).json()["items"]
    assert audit[-1]["action"] == "booking.updated"
    assert audit[-1]["actor_id"] == org.user_ids["manager"]
    assert (audit[-1]["before"]["notes"], audit[-1]["after"]["notes"]) == (None, "VIP")


def test_a_patch_that_changes_nothing_writes_no_audit_entry(client, org, dep):
    b = create_booking(client, org, dep, notes="same")
    patch(client, org, b["id"], {"notes": "same"})
    assert audit_actions(client, org, "booking", b["id"]) == ["booking.created"]


def test_a_field_left_out_of_a_patch_is_kept(client, org, dep):
    b = create_booking(client, org, dep, notes="keep", special_requests="old")
    got = patch(client, org, b["id"], {"special_requests": "new"}).json()
    assert (got["notes"], got["special_requests"]) == ("keep", "new")


def test_null_clears_a_note(client, org, dep):
    b = create_booking(client, org, dep, notes="temp")
    assert patch(client, org, b["id"], {"notes": None}).json()["notes"] is None


def test_a_patch_may_assign_the_booking(client, org, dep):
    b = create_booking(client, org, dep)
    got = patch(client, org, b["id"], {"assigned_to": org.user_ids["staff"]}).json()
    assert got["assigned_to"] == org.user_ids["staff"]
    assert audit_actions(client, org, "booking", b["id"])[-1] == "booking.assigned"


def test_staff_may_update_notes_on_their_own_booking(client, org, dep):
    b = create_booking(client, org, dep, role="staff")
    assert patch(client, org, b["id"], {"notes": "mine"}, role="staff").status_code == 200


def test_staff_may_not_reassign_their_booking(client, org, dep):
    b = create_booking(client, org, dep, role="staff")
    r = patch(client, org, b["id"], {"assigned_to": org.user_ids["manager"]}, role="staff")
    assert r.status_code == 403
    assert (
        client.get(f"/api/v1/bookings/{b['id']}", headers=org.headers()).json()["assigned_to"]
        == org.user_ids["staff"]
    )


def test_staff_updating_someone_elses_booking_get_404(client, org, dep):
    b = create_booking(client, org, dep)
    assert patch(client, org, b["id"], {"notes": "x"}, role="staff").status_code == 404


def test_a_patch_cannot_change_status_or_money(client, org, dep):
    b = create_booking(client, org, dep)
    for field, value in [("status", "completed"), ("total", 1), ("reference", "BK-X")]:
        r = patch(client, org, b["id"], {field: value})
        assert r.status_code == 422 and [f["path"] for f in error(r)["details"]["fields"]] == [
            [field]
        ]


def test_a_patch_assigning_a_guide_is_422_at_assigned_to(client, org, dep):
    b = create_booking(client, org, dep)
    r = patch(client, org, b["id"], {"assigned_to": org.user_ids["guide"]})
    assert r.status_code == 422


def test_a_patch_does_not_change_the_lifecycle(client, org, dep):
    b = create_booking(client, org, dep)
    move(client, org, b["id"], "payment_pending")
    assert patch(client, org, b["id"], {"notes": "x"}).json()["status"] == "payment_pending"
