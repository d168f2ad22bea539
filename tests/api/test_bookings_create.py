"""POST /api/v1/bookings: who may book, what a booking records, capacity and schedule rules,
validation with field paths, Idempotency-Key, customers found by normalised email, holds."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from tests.booking_builders import (
    add_schedule,
    audit_actions,
    booking_body,
    count_rows,
    create_booking,
    held_seats_sum,
    make_departure,
    seats_taken,
)
from tests.inventory_builders import make_tour, set_schedule
from tos.bookings.models import Booking
from tos.catalog.models import PricingTier
from tos.core.money import MAX_AMOUNT
from tos.crm.models import Customer
from tos.identity.models import Organization
from tos.outbox.models import OutboxMessage

ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]
CREATORS = ["owner", "admin", "manager", "staff"]


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=10)


def post(client, org, body, role="manager", **headers):
    return client.post("/api/v1/bookings", headers=org.headers(role) | headers, json=body)


def error(r) -> dict:
    return r.json()["error"]


def paths(r) -> list:
    return [f["path"] for f in error(r)["details"]["fields"]]


# --- who may book -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_creating_a_booking_follows_the_permission_table(client, org, dep, role):
    r = post(client, org, booking_body(dep), role=role)
    assert r.status_code == (201 if role in CREATORS else 403), r.text
    if role not in CREATORS:
        assert error(r)["code"] == "FORBIDDEN"


def test_without_a_key_creating_a_booking_is_401(client, dep):
    r = client.post("/api/v1/bookings", json=booking_body(dep))
    assert r.status_code == 401 and error(r)["code"] == "UNAUTHENTICATED"


def test_a_refused_role_takes_no_seats(client, db, org, dep):
    post(client, org, booking_body(dep, adults=3), role="accountant")
    assert seats_taken(db, org.id, dep.schedule_id) == 0
    assert count_rows(db, org.id, Booking) == 0


# --- what a booking records ---------------------------------------------------------------------


def test_a_new_booking_is_booking_created_unpaid_with_a_reference(client, org, dep):
    b = create_booking(client, org, dep, adults=2, children=1)
    year = dt.datetime.now(ZoneInfo(org.timezone)).year
    assert re.fullmatch(rf"BK-{year}-[A-HJ-NP-Z2-9]{{6}}", b["reference"]), b["reference"]
    assert b["status"] == "booking_created"
    assert b["payment_status"] == "unpaid"
    assert (b["paid"], b["refunded"], b["balance_due"]) == (0, 0, 12500)


def test_the_price_snapshot_holds_each_tier_line_and_the_totals(client, org, dep):
    b = create_booking(client, org, dep, adults=2, children=1)
    assert (b["currency"], b["subtotal"], b["total"], b["deposit_required"]) == (
        "EUR",
        12500,
        12500,
        12500,
    )
    snap = b["price_snapshot"]
    assert snap["total"] == {"amount": 12500, "currency": "EUR"}
    assert [
        (ln["name"], ln["quantity"], ln["unit_price"]["amount"], ln["total_price"]["amount"])
        for ln in snap["lines"]
    ] == [("Adult", 2, 5000, 10000), ("Child", 1, 2500, 2500)]


def test_line_items_are_stored_with_their_tier_schedule_and_amounts(client, org, dep):
    b = create_booking(client, org, dep, adults=2, children=1)
    lines = {ln["pricing_tier_id"]: ln for ln in b["line_items"]}
    assert set(lines) == {dep.adult, dep.child}
    adult = lines[dep.adult]
    assert (adult["kind"], adult["schedule_id"], adult["quantity"], adult["amount"]) == (
        "scheduled",
        dep.schedule_id,
        2,
        10000,
    )
    assert adult["unit_type"] == "ADULT" and lines[dep.child]["unit_type"] == "CHILD"


def test_a_booking_takes_its_seats_on_the_schedule(client, db, org, dep):
    b = create_booking(client, org, dep, adults=2, children=1)
    assert (b["held_seats"], b["participants_count"]) == (3, 3)
    assert (b["schedule_id"], b["tour_id"]) == (dep.schedule_id, dep.tour_id)
    assert seats_taken(db, org.id, dep.schedule_id) == 3


def test_the_price_snapshot_does_not_follow_later_tier_price_changes(client, db, org, dep):
    b = create_booking(client, org, dep, adults=1)
    with db(write=True, organization_id=org.id) as s:
        s.execute(update(PricingTier).where(PricingTier.id == dep.adult).values(amount=9999))
        s.commit()
    got = client.get(f"/api/v1/bookings/{b['id']}", headers=org.headers()).json()
    assert got["total"] == 5000 and got["price_snapshot"]["total"]["amount"] == 5000


def test_the_customer_special_requests_diet_source_and_utm_are_recorded(client, org, dep):
    body = booking_body(
        dep,
        special_requests="window seat",
        dietary_restrictions="vegan",
        notes="VIP",
        source="phone",
        utm_source="newsletter",
        utm_campaign="spring",
    )
    body["customer"]["phone"] = "+351 912 345 678"
    b = create_booking(client, org, body=body)
    assert (b["special_requests"], b["dietary_restrictions"], b["notes"]) == (
        "window seat",
        "vegan",
        "VIP",
    )
    assert b["source"] == "phone"
    assert b["utm"] == {"source": "newsletter", "campaign": "spring"}
    assert b["customer"]["email"] == "ana@example.com"
    assert (b["customer"]["first_name"], b["customer"]["last_name"]) == ("Ana", "Silva")
    assert b["customer"]["phone"] == "+351912345678"


def test_the_source_defaults_to_admin(client, org, dep):
    assert create_booking(client, org, dep)["source"] == "admin"


def test_participants_are_kept_on_their_line(client, org, dep):
    body = booking_body(dep, adults=2)
    body["line_items"][0]["participants"] = [{"first_name": "Ana", "age": 34}]
    line = create_booking(client, org, body=body)["line_items"][0]
    assert line["participants"] == [{"first_name": "Ana", "last_name": "", "age": 34}]


def test_references_are_unique_within_the_organization(client, org, dep):
    refs = {create_booking(client, org, dep)["reference"] for _ in range(8)}
    assert len(refs) == 8


def test_creating_a_booking_is_audited_with_the_caller_as_actor(client, org, dep):
    b = create_booking(client, org, dep, role="manager")
    r = client.get(
        f"/api/v1/audit?entity_type=booking&entity_id={b['id']}", headers=org.headers("owner")
    )
    entries = r.json()["items"]
    assert [e["action"] for e in entries] == ["booking.created"]
    assert entries[0]["actor_id"] == org.user_ids["manager"]
    assert entries[0]["before"] is None and entries[0]["after"]["reference"] == b["reference"]


def test_a_new_customer_is_audited(client, org, dep):
    b = create_booking(client, org, dep)
    assert audit_actions(client, org, "customer", b["customer"]["id"]) == ["customer.created"]


def test_the_first_lifecycle_event_is_the_creation_by_the_caller(client, org, dep):
    b = create_booking(client, org, dep, role="admin")
    events = client.get(f"/api/v1/bookings/{b['id']}/events", headers=org.headers()).json()
    assert len(events) == 1
    ev = events[0]
    assert (ev["from_status"], ev["to_status"], ev["actor_type"], ev["actor_id"]) == (
        None,
        "booking_created",
        "user",
        org.user_ids["admin"],
    )


# --- assignment at creation -----------------------------------------------------------------------


def test_a_booking_made_by_staff_is_assigned_to_that_staff_member(client, org, dep):
    b = create_booking(client, org, dep, role="staff")
    assert b["assigned_to"] == org.user_ids["staff"]


def test_staff_may_not_create_a_booking_assigned_to_someone_else(client, db, org, dep):
    r = post(client, org, booking_body(dep, assigned_to=org.user_ids["manager"]), role="staff")
    assert r.status_code == 403
    assert seats_taken(db, org.id, dep.schedule_id) == 0


def test_a_manager_may_assign_a_new_booking_to_a_staff_member(client, org, dep):
    b = create_booking(client, org, dep, role="manager", assigned_to=org.user_ids["staff"])
    assert b["assigned_to"] == org.user_ids["staff"]


def test_a_booking_made_by_a_manager_is_unassigned_by_default(client, org, dep):
    assert create_booking(client, org, dep, role="manager")["assigned_to"] is None


@pytest.mark.parametrize("role", ["guide", "reseller"])
def test_a_booking_cannot_be_assigned_to_a_guide_or_reseller(client, org, dep, role):
    r = post(client, org, booking_body(dep, assigned_to=org.user_ids[role]))
    assert r.status_code == 422 and paths(r) == [["assigned_to"]]


def test_a_booking_cannot_be_assigned_to_another_organizations_user(client, org, other_org, dep):
    r = post(client, org, booking_body(dep, assigned_to=other_org.user_ids["staff"]))
    assert r.status_code == 422 and paths(r) == [["assigned_to"]]


# --- capacity and schedule state --------------------------------------------------------------


def test_a_booking_may_fill_the_schedule_exactly(client, db, org):
    dep = make_departure(db, org.id, capacity=3)
    create_booking(client, org, dep, adults=2, children=1)
    assert seats_taken(db, org.id, dep.schedule_id) == 3


def test_booking_more_seats_than_are_left_is_409_capacity_exceeded_with_spots(client, db, org):
    dep = make_departure(db, org.id, capacity=3)
    create_booking(client, org, dep, adults=2)
    r = post(client, org, booking_body(dep, adults=2))
    assert r.status_code == 409
    err = error(r)
    assert err["code"] == "CAPACITY_EXCEEDED"
    assert err["details"]["available_spots"] == 1 and err["details"]["requested"] == 2


def test_booking_a_full_schedule_reports_zero_spots(client, db, org):
    dep = make_departure(db, org.id, capacity=2)
    create_booking(client, org, dep, adults=2)
    r = post(client, org, booking_body(dep))
    assert r.status_code == 409 and error(r)["details"]["available_spots"] == 0


def test_a_refused_booking_leaves_no_booking_customer_or_seats_behind(client, db, org):
    dep = make_departure(db, org.id, capacity=1)
    r = post(client, org, booking_body(dep, adults=2, email="new@example.com"))
    assert r.status_code == 409
    assert seats_taken(db, org.id, dep.schedule_id) == 0
    assert count_rows(db, org.id, Booking) == 0
    assert count_rows(db, org.id, Customer) == 0
    assert count_rows(db, org.id, OutboxMessage) == 0


def test_a_freesale_schedule_is_never_full(client, db, org):
    dep = make_departure(db, org.id, capacity=None)
    for _ in range(3):
        create_booking(client, org, dep, adults=400)
    assert seats_taken(db, org.id, dep.schedule_id) == 1200


@pytest.mark.parametrize("status", ["closed", "cancelled", "completed"])
def test_booking_a_schedule_that_is_not_open_is_409_schedule_not_open(client, db, org, dep, status):
    set_schedule(db, org.id, dep.schedule_id, status=status)
    r = post(client, org, booking_body(dep))
    assert r.status_code == 409
    assert error(r)["code"] == "SCHEDULE_NOT_OPEN"
    assert error(r)["details"]["status"] == status
    assert seats_taken(db, org.id, dep.schedule_id) == 0


def test_booking_a_departure_that_has_already_started_is_409_schedule_not_open(client, db, org):
    dep = make_departure(db, org.id)
    past = add_schedule(db, org.id, dep.tour_id, dep.variant_id, days_ahead=-1)
    r = post(client, org, booking_body(dep) | {"schedule_id": past})
    assert r.status_code == 409 and error(r)["code"] == "SCHEDULE_NOT_OPEN"


def test_a_full_schedule_that_is_also_closed_is_reported_as_not_open(client, db, org):
    dep = make_departure(db, org.id, capacity=1)
    create_booking(client, org, dep)
    set_schedule(db, org.id, dep.schedule_id, status="closed")
    assert error(post(client, org, booking_body(dep)))["code"] == "SCHEDULE_NOT_OPEN"


def test_the_seat_counter_equals_the_seats_its_bookings_hold(client, db, org, dep):
    for adults in (1, 2, 3):
        create_booking(client, org, dep, adults=adults)
    post(client, org, booking_body(dep, adults=9))  # refused
    assert seats_taken(db, org.id, dep.schedule_id) == held_seats_sum(db, org.id, dep.schedule_id)
    assert seats_taken(db, org.id, dep.schedule_id) == 6


# --- unscheduled lines, bookings without a schedule -----------------------------------------------


def test_an_unscheduled_line_adds_to_the_total_and_takes_no_seats(client, db, org, dep):
    body = booking_body(dep, adults=1)
    body["line_items"].append(
        {"description": "Airport transfer", "quantity": 2, "unit_amount": 1500}
    )
    b = create_booking(client, org, body=body)
    assert b["total"] == 8000 and b["held_seats"] == 1
    item = next(ln for ln in b["line_items"] if ln["kind"] == "item")
    assert (item["name"], item["quantity"], item["amount"]) == ("Airport transfer", 2, 3000)
    assert item["schedule_id"] is None and item["pricing_tier_id"] is None
    assert seats_taken(db, org.id, dep.schedule_id) == 1


def test_a_booking_without_a_schedule_carries_only_item_lines_in_the_org_currency(client, org):
    body = {
        "customer": {"email": "pkg@example.com"},
        "line_items": [{"description": "Bangkok package", "quantity": 1, "unit_amount": 349000}],
    }
    b = create_booking(client, org, body=body)
    assert (b["schedule_id"], b["tour_id"], b["held_seats"]) == (None, None, 0)
    assert (b["total"], b["currency"]) == (349000, org.currency)
    assert b["status"] == "booking_created"


def test_item_lines_on_a_full_schedule_are_still_accepted(client, db, org):
    dep = make_departure(db, org.id, capacity=1)
    create_booking(client, org, dep)
    body = {
        "schedule_id": dep.schedule_id,
        "customer": {"email": "x@example.com"},
        "line_items": [{"description": "Photo pack", "quantity": 1, "unit_amount": 900}],
    }
    assert create_booking(client, org, body=body)["held_seats"] == 0


def test_a_free_booking_is_paid_from_the_start(client, org):
    body = {
        "customer": {"email": "free@example.com"},
        "line_items": [{"description": "Free walk", "quantity": 1, "unit_amount": 0}],
    }
    assert create_booking(client, org, body=body)["payment_status"] == "paid"


# --- pricing tiers that do not apply -------------------------------------------------------------


def test_a_tier_of_another_tour_is_422_at_its_line(client, db, org, dep):
    other = make_departure(db, org.id)
    body = booking_body(dep)
    body["line_items"].append({"pricing_tier_id": other.adult, "quantity": 1})
    r = post(client, org, body)
    assert r.status_code == 422
    assert paths(r) == [["line_items", 1, "pricing_tier_id"]]
    assert seats_taken(db, org.id, dep.schedule_id) == 0


def test_a_tier_of_another_organization_is_422_at_its_line(client, db, org, other_org, dep):
    theirs = make_departure(db, other_org.id)
    body = booking_body(dep)
    body["line_items"][0]["pricing_tier_id"] = theirs.adult
    r = post(client, org, body)
    assert r.status_code == 422 and paths(r) == [["line_items", 0, "pricing_tier_id"]]


def test_a_tier_of_another_variant_of_the_same_tour_is_422(client, db, org):
    tour = make_tour(
        db,
        org.id,
        variants=[{"name": "Morning"}, {"name": "Evening"}],
        tiers=[{"name": "Evening adult", "amount": 100, "variant": 1}],
    )
    schedule = add_schedule(db, org.id, tour.id, tour.variant_ids[0])
    body = {
        "schedule_id": schedule,
        "customer": {"email": "a@example.com"},
        "line_items": [{"pricing_tier_id": tour.tier_ids["Evening adult"], "quantity": 1}],
    }
    r = post(client, org, body)
    assert r.status_code == 422 and paths(r) == [["line_items", 0, "pricing_tier_id"]]


def test_a_tier_not_valid_on_the_departure_date_is_422(client, db, org):
    expired = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    tour = make_tour(
        db,
        org.id,
        tiers=[{"name": "Old", "amount": 100, "valid_until": dt.date.fromisoformat(expired)}],
    )
    schedule = add_schedule(db, org.id, tour.id, tour.variant_id)
    body = {
        "schedule_id": schedule,
        "customer": {"email": "a@example.com"},
        "line_items": [{"pricing_tier_id": tour.tier_ids["Old"], "quantity": 1}],
    }
    assert paths(post(client, org, body)) == [["line_items", 0, "pricing_tier_id"]]


def test_tiers_in_two_currencies_in_one_booking_are_422(client, db, org):
    tour = make_tour(
        db,
        org.id,
        tiers=[
            {"name": "A", "amount": 100, "currency": "EUR"},
            {"name": "B", "amount": 100, "currency": "USD"},
        ],
    )
    schedule = add_schedule(db, org.id, tour.id, tour.variant_id)
    body = {
        "schedule_id": schedule,
        "customer": {"email": "a@example.com"},
        "line_items": [
            {"pricing_tier_id": tour.tier_ids["A"], "quantity": 1},
            {"pricing_tier_id": tour.tier_ids["B"], "quantity": 1},
        ],
    }
    r = post(client, org, body)
    assert r.status_code == 422 and paths(r) == [["line_items"]]


def test_another_organizations_schedule_is_422_at_schedule_id(client, db, org, other_org, dep):
    theirs = make_departure(db, other_org.id)
    r = post(client, org, booking_body(dep) | {"schedule_id": theirs.schedule_id})
    assert r.status_code == 422 and paths(r) == [["schedule_id"]]
    assert seats_taken(db, other_org.id, theirs.schedule_id) == 0


def test_an_unknown_schedule_is_422_at_schedule_id(client, org, dep):
    r = post(client, org, booking_body(dep) | {"schedule_id": "no-such-schedule"})
    assert r.status_code == 422 and paths(r) == [["schedule_id"]]


# --- validation with field paths ---------------------------------------------------------------


def test_a_missing_customer_email_is_422_at_customer_email(client, org, dep):
    body = booking_body(dep)
    del body["customer"]["email"]
    r = post(client, org, body)
    assert r.status_code == 422 and error(r)["code"] == "VALIDATION_ERROR"
    assert ["customer", "email"] in paths(r)


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@b.com", ""])
def test_an_invalid_customer_email_is_422_at_customer_email(client, org, dep, email):
    r = post(client, org, booking_body(dep, email=email))
    assert r.status_code == 422 and ["customer", "email"] in paths(r)


@pytest.mark.parametrize("phone", ["912 345 678", "+1", "call me", "+44 12"])
def test_an_invalid_phone_is_422_at_customer_phone(client, org, dep, phone):
    body = booking_body(dep)
    body["customer"]["phone"] = phone
    r = post(client, org, body)
    assert r.status_code == 422 and ["customer", "phone"] in paths(r)


def test_a_missing_customer_is_422_at_customer(client, org, dep):
    body = booking_body(dep)
    del body["customer"]
    assert ["customer"] in paths(post(client, org, body))


def test_no_line_items_is_422_at_line_items(client, org, dep):
    assert ["line_items"] in paths(post(client, org, booking_body(dep) | {"line_items": []}))


@pytest.mark.parametrize("quantity", [0, -1, 1001, "two"])
def test_a_bad_quantity_is_422_at_its_line(client, org, dep, quantity):
    body = booking_body(dep)
    body["line_items"][0]["quantity"] = quantity
    assert ["line_items", 0, "quantity"] in paths(post(client, org, body))


def test_a_line_with_a_tier_and_a_price_is_422_at_the_line(client, org, dep):
    body = booking_body(dep)
    body["line_items"][0] |= {"description": "x", "unit_amount": 1}
    assert paths(post(client, org, body)) == [["line_items", 0]]


def test_a_line_with_neither_tier_nor_price_is_422_at_the_line(client, org, dep):
    body = booking_body(dep) | {"line_items": [{"quantity": 1, "description": "x"}]}
    assert paths(post(client, org, body)) == [["line_items", 0]]


def test_more_participants_than_the_quantity_is_422_at_the_line(client, org, dep):
    body = booking_body(dep, adults=1)
    body["line_items"][0]["participants"] = [{"first_name": "A"}, {"first_name": "B"}]
    assert paths(post(client, org, body)) == [["line_items", 0]]


def test_a_negative_unit_amount_is_422(client, org, dep):
    body = booking_body(dep) | {
        "line_items": [{"description": "x", "quantity": 1, "unit_amount": -5}]
    }
    assert ["line_items", 0, "unit_amount"] in paths(post(client, org, body))


def test_a_line_too_large_to_store_is_422_at_the_line_on_every_database(client, org):
    body = {
        "customer": {"email": "big@example.com"},
        "line_items": [{"description": "x", "quantity": 1000, "unit_amount": MAX_AMOUNT // 100}],
    }
    r = post(client, org, body)
    assert r.status_code == 422 and paths(r) == [["line_items", 0]]


def test_a_total_too_large_to_store_is_422_at_line_items(client, org):
    line = {"description": "x", "quantity": 1, "unit_amount": MAX_AMOUNT}
    r = post(client, org, {"customer": {"email": "big@example.com"}, "line_items": [line, line]})
    assert r.status_code == 422 and paths(r) == [["line_items"]]


def test_a_unit_amount_too_large_to_store_is_422_at_the_field(client, org):
    line = {"description": "x", "quantity": 1, "unit_amount": MAX_AMOUNT + 1}
    r = post(client, org, {"customer": {"email": "big@example.com"}, "line_items": [line]})
    assert paths(r) == [["line_items", 0, "unit_amount"]]


def test_tier_lines_without_a_schedule_are_422(client, org, dep):
    body = booking_body(dep)
    del body["schedule_id"]
    r = post(client, org, body)
    assert r.status_code == 422 and error(r)["code"] == "VALIDATION_ERROR"


def test_an_unknown_field_is_422_at_that_field(client, org, dep):
    assert ["price"] in paths(post(client, org, booking_body(dep) | {"price": 1}))


def test_an_unknown_source_is_422_at_source(client, org, dep):
    assert ["source"] in paths(post(client, org, booking_body(dep, source="fax")))


def test_a_body_that_is_not_json_is_422(client, org):
    r = client.post(
        "/api/v1/bookings",
        headers=org.headers() | {"content-type": "application/json"},
        content=b"{nope",
    )
    assert r.status_code == 422


# --- customers ---------------------------------------------------------------------------------


def test_the_same_email_in_another_case_and_spacing_finds_the_same_customer(client, db, org, dep):
    first = create_booking(client, org, dep, email="Ana.Silva@Example.com")
    second = create_booking(client, org, dep, email="  ana.silva@EXAMPLE.COM ")
    assert first["customer"]["id"] == second["customer"]["id"]
    assert second["customer"]["email"] == "ana.silva@example.com"
    assert count_rows(db, org.id, Customer) == 1


def test_a_known_customer_keeps_their_name_and_gets_a_missing_phone(client, org, dep):
    create_booking(client, org, dep, email="c@example.com")
    body = booking_body(dep, email="c@example.com")
    body["customer"] |= {"first_name": "Other", "phone": "+44 20 7946 0958"}
    customer = create_booking(client, org, body=body)["customer"]
    assert customer["first_name"] == "Ana"
    assert customer["phone"] == "+442079460958"


def test_a_known_customer_keeps_their_phone(client, org, dep):
    body = booking_body(dep, email="p@example.com")
    body["customer"]["phone"] = "+351912345678"
    create_booking(client, org, body=body)
    body["customer"]["phone"] = "+44 20 7946 0958"
    assert create_booking(client, org, body=body)["customer"]["phone"] == "+351912345678"


def test_phones_are_stored_in_e164(client, org, dep):
    body = booking_body(dep)
    body["customer"]["phone"] = "+1 (415) 555-2671"
    assert create_booking(client, org, body=body)["customer"]["phone"] == "+14155552671"


def test_the_same_email_in_two_organizations_is_two_customers(client, db, org, other_org, dep):
    theirs = make_departure(db, other_org.id)
    mine = create_booking(client, org, dep, email="same@example.com")
    other = create_booking(client, other_org, theirs, email="same@example.com")
    assert mine["customer"]["id"] != other["customer"]["id"]


# --- Idempotency-Key ------------------------------------------------------------------------------


def test_the_same_idempotency_key_and_body_replays_the_first_response(client, db, org, dep):
    body = booking_body(dep, adults=2)
    first = post(client, org, body, **{"Idempotency-Key": "create-1"})
    assert first.status_code == 201
    counts = (
        count_rows(db, org.id, Booking),
        count_rows(db, org.id, Customer),
        seats_taken(db, org.id, dep.schedule_id),
        count_rows(db, org.id, OutboxMessage),
    )
    again = post(client, org, body, **{"Idempotency-Key": "create-1"})
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert counts == (
        count_rows(db, org.id, Booking),
        count_rows(db, org.id, Customer),
        seats_taken(db, org.id, dep.schedule_id),
        count_rows(db, org.id, OutboxMessage),
    )
    assert counts[0] == 1 and counts[2] == 2


def test_a_replay_writes_no_second_audit_entry(client, org, dep):
    body = booking_body(dep)
    b = post(client, org, body, **{"Idempotency-Key": "create-audit"}).json()
    post(client, org, body, **{"Idempotency-Key": "create-audit"})
    assert audit_actions(client, org, "booking", b["id"]) == ["booking.created"]


def test_the_same_idempotency_key_with_another_body_is_409(client, db, org, dep):
    post(client, org, booking_body(dep, adults=1), **{"Idempotency-Key": "create-2"})
    r = post(client, org, booking_body(dep, adults=2), **{"Idempotency-Key": "create-2"})
    assert r.status_code == 409 and error(r)["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert count_rows(db, org.id, Booking) == 1
    assert seats_taken(db, org.id, dep.schedule_id) == 1


def test_an_idempotency_key_is_kept_per_organization(client, db, org, other_org, dep):
    theirs = make_departure(db, other_org.id)
    a = post(client, org, booking_body(dep), **{"Idempotency-Key": "shared"})
    b = post(client, other_org, booking_body(theirs), **{"Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_a_request_that_failed_leaves_its_key_free_for_a_retry(client, db, org):
    dep = make_departure(db, org.id, capacity=1)
    blocker = create_booking(client, org, dep)
    body = booking_body(dep)
    assert post(client, org, body, **{"Idempotency-Key": "retry"}).status_code == 409
    r = client.post(
        f"/api/v1/bookings/{blocker['id']}/cancel",
        headers=org.headers(),
        json={"reason": "make room"},
    )
    assert r.status_code == 200
    assert post(client, org, body, **{"Idempotency-Key": "retry"}).status_code == 201


def test_different_keys_with_the_same_body_make_two_bookings(client, db, org, dep):
    body = booking_body(dep)
    post(client, org, body, **{"Idempotency-Key": "a"})
    post(client, org, body, **{"Idempotency-Key": "b"})
    assert count_rows(db, org.id, Booking) == 2


def test_an_overlong_idempotency_key_is_422_at_the_header(client, org, dep):
    r = post(client, org, booking_body(dep), **{"Idempotency-Key": "k" * 256})
    assert r.status_code == 422 and paths(r) == [["header", "Idempotency-Key"]]


# --- holds ----------------------------------------------------------------------------------------


def _expiry_rows(db, org_id, booking_id):
    with db(write=False, organization_id=org_id) as s:
        rows = s.scalars(
            select(OutboxMessage).where(OutboxMessage.handler == "bookings.expire_hold")
        )
        return [m for m in rows if m.payload["booking_id"] == booking_id]


def test_hold_true_expires_the_booking_in_thirty_minutes(client, db, org, dep):
    before = dt.datetime.now(dt.UTC)
    b = create_booking(client, org, dep, hold=True)
    expires = dt.datetime.fromisoformat(b["expires_at"])
    assert dt.timedelta(minutes=30) <= expires - before <= dt.timedelta(minutes=31)
    [job] = _expiry_rows(db, org.id, b["id"])
    assert job.due_at == expires


def test_hold_uses_the_organizations_hold_time_when_set(client, db, org, dep):
    with db(write=True) as s:
        s.execute(
            update(Organization)
            .where(Organization.id == org.id)
            .values(settings={"hold_minutes": 10})
        )
        s.commit()
    before = dt.datetime.now(dt.UTC)
    expires = dt.datetime.fromisoformat(create_booking(client, org, dep, hold=True)["expires_at"])
    assert dt.timedelta(minutes=10) <= expires - before <= dt.timedelta(minutes=11)


def test_an_explicit_expiry_is_kept_in_utc_and_scheduled(client, db, org, dep):
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).replace(microsecond=0)
    local = at.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    b = create_booking(client, org, dep, expires_at=local.isoformat())
    assert dt.datetime.fromisoformat(b["expires_at"]) == at
    assert [m.due_at for m in _expiry_rows(db, org.id, b["id"])] == [at]


def test_a_booking_without_hold_or_expiry_never_expires(client, db, org, dep):
    b = create_booking(client, org, dep)
    assert b["expires_at"] is None and _expiry_rows(db, org.id, b["id"]) == []


def test_an_expiry_in_the_past_is_422_at_expires_at(client, db, org, dep):
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    r = post(client, org, booking_body(dep, expires_at=past))
    assert r.status_code == 422 and paths(r) == [["expires_at"]]
    assert seats_taken(db, org.id, dep.schedule_id) == 0


def test_an_expiry_without_a_timezone_is_422_at_expires_at(client, org, dep):
    naive = (dt.datetime.now() + dt.timedelta(hours=1)).replace(tzinfo=None).isoformat()
    r = post(client, org, booking_body(dep, expires_at=naive))
    assert r.status_code == 422 and paths(r) == [["expires_at"]]


def test_hold_and_expires_at_together_are_422(client, org, dep):
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    r = post(client, org, booking_body(dep, hold=True, expires_at=at))
    assert r.status_code == 422 and error(r)["code"] == "VALIDATION_ERROR"
