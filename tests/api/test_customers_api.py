"""/api/v1/customers: who may read and write, list search and pagination, the booking history,
edits with validation and email conflicts, tenancy. Merging is in
tests/integration/test_customer_merge.py."""

import datetime as dt

import pytest

from tests.booking_builders import (
    add_schedule,
    audit_actions,
    booking_body,
    create_booking,
    make_departure,
    walk_to,
)
from tos.core.clock import utcnow
from tos.crm.service import find_or_create_customer

ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]
READERS = ["owner", "admin", "manager", "staff", "accountant"]
WRITERS = ["owner", "admin", "manager", "staff"]
API = "/api/v1/customers"


def make_customer(db, org, email, *, minutes_ago=0, first_name="", last_name="", phone=None,
                  **fields) -> str:  # fmt: skip
    """A customer through the service a booking uses, then facts set with the ORM."""
    with db(write=True, organization_id=org.id) as s:
        c = find_or_create_customer(s, org.actor(), email=email, first_name=first_name,
                                    last_name=last_name, phone=phone)  # fmt: skip
        for name, value in fields.items():
            setattr(c, name, value)
        c.last_activity_at = utcnow() - dt.timedelta(minutes=minutes_ago)
        s.commit()
        return c.id


def listing(client, org, query="", role="owner") -> dict:
    r = client.get(f"{API}{query}", headers=org.headers(role))
    assert r.status_code == 200, r.text
    return r.json()


def emails(page: dict) -> list[str]:
    return [c["email"] for c in page["items"]]


def detail(client, org, customer_id, role="owner") -> dict:
    r = client.get(f"{API}/{customer_id}", headers=org.headers(role))
    assert r.status_code == 200, r.text
    return r.json()


def patch(client, org, customer_id, body, role="owner"):
    return client.patch(f"{API}/{customer_id}", headers=org.headers(role), json=body)


def paths(r) -> list:
    return [f["path"] for f in r.json()["error"]["details"]["fields"]]


@pytest.fixture
def customer_id(db, org):
    return make_customer(db, org, "ana@example.com", first_name="Ana", last_name="Silva")


# --- the permission table -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_endpoint_follows_the_permission_table(client, db, org, customer_id, role):
    read, write = (200 if role in READERS else 403), (200 if role in WRITERS else 403)
    assert client.get(API, headers=org.headers(role)).status_code == read
    assert client.get(f"{API}/{customer_id}", headers=org.headers(role)).status_code == read
    r = patch(client, org, customer_id, {"notes": "prefers mornings"}, role=role)
    assert r.status_code == write, r.text
    if write == 403:
        assert r.json()["error"]["code"] == "FORBIDDEN"
    assert (detail(client, org, customer_id)["notes"] is None) == (write == 403)
    other = make_customer(db, org, "ana.dup@example.com")
    r = client.post(f"{API}/{customer_id}/merge", headers=org.headers(role),
                    json={"other_id": other})  # fmt: skip
    assert r.status_code == write, r.text
    assert (detail(client, org, other)["merged_into_id"] is None) == (write == 403)


def test_without_a_key_customers_are_401(client, customer_id):
    assert client.get(API).status_code == 401
    assert client.get(f"{API}/{customer_id}").status_code == 401
    assert client.patch(f"{API}/{customer_id}", json={"notes": "x"}).status_code == 401


# --- tenancy --------------------------------------------------------------------------------------


def test_another_organizations_customer_is_404_everywhere(client, db, org, other_org):
    theirs = make_customer(db, other_org, "theirs@example.com")
    mine = make_customer(db, org, "mine@example.com")
    assert client.get(f"{API}/{theirs}", headers=org.headers()).status_code == 404
    assert patch(client, org, theirs, {"notes": "x"}).status_code == 404
    merge = f"{API}/{theirs}/merge"
    assert client.post(merge, headers=org.headers(), json={"other_id": mine}).status_code == 404
    r = client.post(f"{API}/{mine}/merge", headers=org.headers(), json={"other_id": theirs})
    assert r.status_code == 404 and r.json()["error"]["details"]["id"] == theirs
    assert emails(listing(client, org)) == ["mine@example.com"]
    assert detail(client, other_org, theirs)["notes"] is None


def test_an_unknown_customer_is_404(client, org):
    r = client.get(f"{API}/nope", headers=org.headers())
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


# --- the list -----------------------------------------------------------------------------------


def test_the_list_is_newest_activity_first_and_counts_bookings(client, db, org):
    dep = make_departure(db, org.id)
    make_customer(db, org, "old@example.com", minutes_ago=30)
    make_customer(db, org, "mid@example.com", minutes_ago=20)
    create_booking(client, org, dep, email="new@example.com")
    create_booking(client, org, dep, email="new@example.com")
    page = listing(client, org)
    assert emails(page) == ["new@example.com", "mid@example.com", "old@example.com"]
    assert [c["bookings_count"] for c in page["items"]] == [2, 0, 0]
    assert page["total_count"] == 3 and page["next_cursor"] is None
    first = page["items"][0]
    assert (first["first_name"], first["last_name"], first["source"]) == ("Ana", "Silva", "direct")
    assert first["tags"] == [] and first["marketing_consent"] is False


SEARCHES = [
    ("ANA@", ["ana@example.com"]),
    ("silva", ["ana@example.com"]),
    ("ana sil", ["ana@example.com"]),
    ("COSTA", ["rui@example.com"]),
    ("912 345", ["ana@example.com"]),
    ("+44", ["rui@example.com"]),
    ("example.com", ["rui@example.com", "ana@example.com"]),
    ("%", ["pct%@example.org"]),
    ("_", []),
    ("nobody", []),
]


def test_search_matches_email_name_and_phone_literally(client, db, org):
    make_customer(db, org, "ana@example.com", first_name="Ana", last_name="Silva",
                  phone="+351912345678", minutes_ago=3)  # fmt: skip
    make_customer(db, org, "rui@example.com", first_name="Rui", last_name="Costa",
                  phone="+442079460958", minutes_ago=2)  # fmt: skip
    make_customer(db, org, "pct%@example.org", minutes_ago=1)
    for search, expected in SEARCHES:
        r = client.get(API, params={"search": search}, headers=org.headers())
        assert r.status_code == 200, r.text
        assert (search, emails(r.json())) == (search, expected)
        assert r.json()["total_count"] == len(expected)


def test_the_list_filters_by_tag_and_source(client, db, org):
    make_customer(db, org, "a@example.com", tags=["vip", "repeat"], source="referral")
    make_customer(db, org, "b@example.com", tags=["vip"], minutes_ago=1)
    make_customer(db, org, "c@example.com", tags=["vipx"], source="referral", minutes_ago=2)
    assert emails(listing(client, org, "?tag=vip")) == ["a@example.com", "b@example.com"]
    assert emails(listing(client, org, "?source=referral")) == ["a@example.com", "c@example.com"]
    assert emails(listing(client, org, "?tag=vip&source=referral")) == ["a@example.com"]
    assert emails(listing(client, org, "?tag=none")) == []


def test_an_unknown_source_filter_is_422(client, org):
    r = client.get(f"{API}?source=billboard", headers=org.headers())
    assert r.status_code == 422 and paths(r) == [["query", "source"]]


def test_cursor_pages_walk_the_whole_list_once(client, db, org):
    for i in range(5):
        make_customer(db, org, f"c{i}@example.com", minutes_ago=i)
    # Equal activity times are ordered by id: the cursor must still not skip or repeat.
    make_customer(db, org, "tie1@example.com", minutes_ago=2)
    seen, query = [], "?limit=2"
    while True:
        page = listing(client, org, query)
        assert page["total_count"] == 6
        seen += emails(page)
        if not page["next_cursor"]:
            break
        query = f"?limit=2&cursor={page['next_cursor']}"
    assert sorted(seen) == sorted(emails(listing(client, org)))
    assert seen == emails(listing(client, org))


def test_page_and_page_size_split_the_list(client, db, org):
    for i in range(5):
        make_customer(db, org, f"c{i}@example.com", minutes_ago=i)
    pages = [listing(client, org, f"?page={n}&page_size=2") for n in (1, 2, 3, 4)]
    assert [emails(p) for p in pages] == [
        ["c0@example.com", "c1@example.com"],
        ["c2@example.com", "c3@example.com"],
        ["c4@example.com"],
        [],
    ]
    assert {p["total_count"] for p in pages} == {5}


def test_bad_paging_is_422(client, org):
    for query in ["?cursor=garbage", "?page=0", "?page_size=0", "?limit=201", "?page=1&cursor=x"]:
        assert client.get(f"{API}{query}", headers=org.headers()).status_code == 422, query


# --- one customer and its booking history ------------------------------------------------------


def test_the_history_is_newest_departure_first_unscheduled_last(client, db, org):
    early = make_departure(db, org.id, days_ahead=5, adult_price=4000)
    late = make_departure(db, org.id, days_ahead=20, adult_price=6000)
    late_evening = add_schedule(db, org.id, late.tour_id, late.variant_id, days_ahead=20, hour=18)
    b_early = create_booking(client, org, early, adults=2, children=1)
    unscheduled = create_booking(client, org, body={
        "customer": {"email": "ana@example.com"},
        "line_items": [{"description": "Airport transfer", "quantity": 1, "unit_amount": 1500}],
    })  # fmt: skip
    b_late = create_booking(client, org, late)
    evening = booking_body(late, adults=3)
    evening["schedule_id"] = late_evening
    b_evening = create_booking(client, org, body=evening)
    walk_to(client, org, b_early, "payment_confirmed")

    customer = detail(client, org, b_early["customer"]["id"])
    assert customer["email"] == "ana@example.com" and customer["bookings_count"] == 4
    history = customer["bookings"]
    assert [b["id"] for b in history] == [
        b_evening["id"], b_late["id"], b_early["id"], unscheduled["id"]
    ]  # fmt: skip
    first = history[2]
    assert first["reference"] == b_early["reference"]
    assert (first["status"], first["payment_status"]) == ("payment_confirmed", "paid")
    assert first["total"] == {"amount": 10500, "currency": "EUR"}
    assert first["tour_date"] == (dt.date.today() + dt.timedelta(days=5)).isoformat()
    assert first["start_time"] == "09:00:00"
    assert first["tour_name"].startswith("Tour ") and first["variant_name"] == "Standard"
    assert first["total_participants"] == 3
    assert history[0]["start_time"] == "18:00:00" and history[0]["total_participants"] == 3
    assert history[1]["payment_status"] == "unpaid"
    last = history[3]
    assert (last["tour_date"], last["start_time"], last["tour_name"]) == (None, None, None)
    assert last["total"] == {"amount": 1500, "currency": "EUR"}
    assert last["total_participants"] == 0


def test_staff_see_only_their_own_bookings_in_a_history(client, db, org):
    """The bookings row of the permission table (staff: own) holds inside a customer too."""
    dep = make_departure(db, org.id)
    create_booking(client, org, dep, role="manager")
    mine = create_booking(client, org, dep, role="staff")
    cid = mine["customer"]["id"]
    assert detail(client, org, cid, "manager")["bookings_count"] == 2
    staff_view = detail(client, org, cid, "staff")
    assert staff_view["bookings_count"] == 1
    assert [b["id"] for b in staff_view["bookings"]] == [mine["id"]]
    assert listing(client, org, role="staff")["items"][0]["bookings_count"] == 1


def test_a_customer_without_bookings_has_an_empty_history(client, org, customer_id):
    c = detail(client, org, customer_id)
    assert (c["bookings"], c["bookings_count"], c["merged_into_id"]) == ([], 0, None)


# --- editing ------------------------------------------------------------------------------------


def test_every_editable_field_is_normalised_and_audited(client, org, customer_id):
    r = patch(client, org, customer_id, {
        "first_name": " Ana Maria ", "last_name": "Silva Costa", "phone": "+351 912 345 678",
        "email": " Ana.Costa@Example.COM ", "notes": "Allergic to nuts",
        "tags": ["vip", "family", "vip"], "source": "referral", "source_detail": "Hotel Avenida",
        "preferred_language": "PT", "preferred_currency": "usd",
    })  # fmt: skip
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["first_name"], c["last_name"]) == ("Ana Maria", "Silva Costa")
    assert (c["email"], c["phone"]) == ("ana.costa@example.com", "+351912345678")
    assert c["tags"] == ["vip", "family"]
    assert (c["source"], c["source_detail"]) == ("referral", "Hotel Avenida")
    assert (c["preferred_language"], c["preferred_currency"]) == ("pt", "USD")
    assert c["notes"] == "Allergic to nuts"
    assert detail(client, org, customer_id)["email"] == "ana.costa@example.com"
    assert audit_actions(client, org, "customer", customer_id) == [
        "customer.created", "customer.updated"
    ]  # fmt: skip
    entry = client.get(f"/api/v1/audit?entity_id={customer_id}&action=customer.updated",
                       headers=org.headers()).json()["items"][0]  # fmt: skip
    assert entry["before"]["email"] == "ana@example.com"
    assert entry["after"]["email"] == "ana.costa@example.com"


def test_null_clears_the_optional_fields(client, org, customer_id):
    filled = {"phone": "+351912345678", "notes": "x", "source_detail": "y",
              "preferred_currency": "EUR"}  # fmt: skip
    assert patch(client, org, customer_id, filled).status_code == 200
    r = patch(client, org, customer_id, {"phone": None, "notes": None, "source_detail": None,
                                         "preferred_currency": None})  # fmt: skip
    c = r.json()
    assert (c["phone"], c["notes"], c["source_detail"], c["preferred_currency"]) == (None,) * 4


def test_marketing_consent_is_stamped_kept_and_cleared(client, org, customer_id):
    before = utcnow()
    given = patch(client, org, customer_id, {"marketing_consent": True}).json()
    assert given["marketing_consent"] is True
    stamped = dt.datetime.fromisoformat(given["marketing_consent_date"])
    assert before - dt.timedelta(seconds=1) <= stamped <= utcnow()
    again = patch(client, org, customer_id, {"marketing_consent": True}).json()
    assert again["marketing_consent_date"] == given["marketing_consent_date"]
    withdrawn = patch(client, org, customer_id, {"marketing_consent": False}).json()
    assert (withdrawn["marketing_consent"], withdrawn["marketing_consent_date"]) == (False, None)


def test_an_unchanged_edit_writes_no_audit(client, org, customer_id):
    assert patch(client, org, customer_id, {"first_name": "Ana"}).status_code == 200
    assert audit_actions(client, org, "customer", customer_id) == ["customer.created"]


INVALID = [
    ({"phone": "12345"}, ["phone"]),
    ({"phone": "not a phone"}, ["phone"]),
    ({"email": "nope"}, ["email"]),
    ({"email": None}, ["email"]),
    ({"first_name": None}, ["first_name"]),
    ({"first_name": "x" * 101}, ["first_name"]),
    ({"tags": ["x" * 61]}, ["tags", 0]),
    ({"tags": None}, ["tags"]),
    ({"source": "billboard"}, ["source"]),
    ({"marketing_consent": None}, ["marketing_consent"]),
    ({"preferred_currency": "EURO"}, ["preferred_currency"]),
    ({"preferred_language": "english"}, ["preferred_language"]),
    ({"notes": "a\u0000b"}, ["notes"]),
    ({"colour": "blue"}, ["colour"]),
    ({"merged_into_id": "x"}, ["merged_into_id"]),
]


def test_invalid_fields_are_422_with_their_path(client, org, customer_id):
    for body, path in INVALID:
        r = patch(client, org, customer_id, body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"
        assert (body, paths(r)[0]) == (body, path)
    assert audit_actions(client, org, "customer", customer_id) == ["customer.created"]


def test_another_customers_email_is_a_409_with_details(client, db, org, customer_id):
    taken = make_customer(db, org, "taken@example.com")
    r = patch(client, org, customer_id, {"email": "TAKEN@example.com", "notes": "x"})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "CONFLICT"
    assert error["details"] == {"email": "taken@example.com", "customer_id": taken,
                                "merged_into_id": None}  # fmt: skip
    assert detail(client, org, customer_id)["notes"] is None


def test_the_same_email_in_another_organization_is_no_conflict(client, db, org, other_org,
                                                                customer_id):  # fmt: skip
    make_customer(db, other_org, "shared@example.com")
    r = patch(client, org, customer_id, {"email": "shared@example.com"})
    assert r.status_code == 200 and r.json()["email"] == "shared@example.com"
