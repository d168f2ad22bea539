"""Seasonal pricing, promotional codes and automatic pricing rules over /api/v1."""

import datetime as dt
import uuid

import pytest
from sqlalchemy import select, update

from tos.bookings.models import Booking
from tos.catalog.models import Tour
from tos.core.money import MAX_AMOUNT
from tos.crm.models import Customer
from tos.pricing.models import PromoRedemption, PromotionalCode

API = "/api/v1"
ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]
READERS = {"owner", "admin", "manager", "staff", "accountant", "guide"}
WRITERS = {"owner", "admin"}

SEASON = {"name": "Summer Peak", "start_date": "2030-06-01", "end_date": "2030-08-31",
          "adjustment_type": "percentage", "adjustment_value": 2000}  # fmt: skip
PROMO = {"code": "summer2030", "discount_type": "percentage", "discount_value": 1000,
         "valid_from": "2030-01-01T00:00:00Z",
         "valid_until": "2030-12-31T23:00:00+01:00"}  # fmt: skip
RULE = {"kind": "group", "name": "Groups of six", "discount_type": "percentage",
        "discount_value": 500, "min_participants": 6}  # fmt: skip


def post(client, org, path, body, role="owner"):
    r = client.post(f"{API}{path}", json=body, headers=org.headers(role))
    assert r.status_code == 201, r.text
    return r.json()


def error_paths(r):
    return [f["path"] for f in r.json()["error"]["details"]["fields"]]


def audit_entries(client, org, entity_type, entity_id):
    r = client.get(f"{API}/audit", params={"entity_type": entity_type, "entity_id": entity_id},
                   headers=org.headers())  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()["items"]


def new_tour(client, org, name="Old Town Walk"):
    return post(client, org, "/tours", {"name": name, "duration_minutes": 90})["id"]


@pytest.fixture
def pricing(client, org):
    tour = new_tour(client, org)
    return {
        "tour": tour,
        "variant": post(client, org, f"/tours/{tour}/variants", {"name": "Morning"})["id"],
        "season": post(client, org, f"/tours/{tour}/seasonal-pricing", SEASON)["id"],
        "promo": post(client, org, "/promotional-codes", PROMO)["id"],
        "rule": post(client, org, "/pricing-rules", RULE)["id"],
    }


READS = [
    "/tours/{tour}/seasonal-pricing",
    "/tours/{tour}/seasonal-pricing/{season}",
    "/promotional-codes",
    "/promotional-codes/{promo}",
    "/pricing-rules",
    "/pricing-rules/{rule}",
]
WRITES = [
    ("POST", "/tours/{tour}/seasonal-pricing", {**SEASON, "name": "Winter"}, 201),
    ("PATCH", "/tours/{tour}/seasonal-pricing/{season}", {"priority": 5}, 200),
    ("DELETE", "/tours/{tour}/seasonal-pricing/{season}", None, 204),
    ("POST", "/promotional-codes", {**PROMO, "code": "WINTER"}, 201),
    ("PATCH", "/promotional-codes/{promo}", {"status": "inactive"}, 200),
    ("DELETE", "/promotional-codes/{promo}", None, 204),
    ("POST", "/pricing-rules", {**RULE, "name": "Big groups"}, 201),
    ("PATCH", "/pricing-rules/{rule}", {"active": False}, 200),
    ("DELETE", "/pricing-rules/{rule}", None, 204),
]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_staff_read_pricing_rules_and_only_owners_and_admins_write_them(client, org, pricing, role):
    for path in READS:
        r = client.get(API + path.format(**pricing), headers=org.headers(role))
        assert r.status_code == (200 if role in READERS else 403), f"GET {path}: {r.text}"
    for method, path, body, ok in WRITES:
        r = client.request(method, API + path.format(**pricing), json=body,
                           headers=org.headers(role))  # fmt: skip
        assert r.status_code == (ok if role in WRITERS else 403), f"{method} {path}: {r.text}"


ID_ROUTES = [("GET", p, None) for p in READS if "{" in p] + [
    (m, p, body) for m, p, body, _ in WRITES if "{" in p
]


def test_another_organizations_pricing_is_not_found_and_stays_untouched(
    client, org, other_org, pricing
):
    for method, path, body in ID_ROUTES:
        r = client.request(method, API + path.format(**pricing), json=body,
                           headers=other_org.headers())  # fmt: skip
        assert r.status_code == 404, f"{method} {path}: {r.text}"
        assert r.json()["error"]["code"] == "NOT_FOUND"
    for path in READS:
        if "{" in path and "seasonal-pricing" not in path:
            continue
        r = client.get(API + path.format(**pricing), headers=org.headers())
        assert r.status_code == 200
    assert client.get(f"{API}/promotional-codes/{pricing['promo']}",
                      headers=org.headers()).json()["status"] == "active"  # fmt: skip
    assert client.get(f"{API}/pricing-rules", headers=other_org.headers()).json()["items"] == []
    # Another organization's tour cannot be targeted either.
    theirs = post(client, other_org, "/promotional-codes", PROMO)
    assert theirs["code"] == "SUMMER2030"  # codes are unique per organization only
    body = {**PROMO, "code": "X", "applicable_tour_ids": [pricing["tour"]]}
    r = client.post(f"{API}/promotional-codes", json=body, headers=other_org.headers())
    assert (r.status_code, error_paths(r)) == (422, [["applicable_tour_ids", 0]])
    r = client.post(f"{API}/pricing-rules", json={**RULE, "tour_id": pricing["tour"]},
                    headers=other_org.headers())  # fmt: skip
    assert (r.status_code, error_paths(r)) == (422, [["tour_id"]])


# --- seasonal pricing


def test_a_season_is_created_read_listed_patched_and_deleted_on_the_audit_trail(client, org):
    tour = new_tour(client, org)
    url = f"{API}/tours/{tour}/seasonal-pricing"
    season = post(client, org, f"/tours/{tour}/seasonal-pricing", SEASON)
    assert {k: season[k] for k in SEASON} == SEASON
    assert (season["tour_id"], season["priority"]) == (tour, 0)
    early = post(client, org, f"/tours/{tour}/seasonal-pricing",
                 {**SEASON, "name": "Spring", "start_date": "2030-03-01",
                  "end_date": "2030-03-01", "adjustment_type": "fixed",
                  "adjustment_value": -1500, "priority": 3})  # fmt: skip
    r = client.get(url, headers=org.headers("guide"))
    assert [s["name"] for s in r.json()["items"]] == ["Spring", "Summer Peak"]
    assert client.get(f"{url}/{early['id']}", headers=org.headers()).json() == early

    r = client.patch(f"{url}/{season['id']}", json={"end_date": "2030-09-15", "priority": 2},
                     headers=org.headers("admin"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["end_date"], r.json()["priority"]) == ("2030-09-15", 2)
    assert client.delete(f"{url}/{season['id']}", headers=org.headers()).status_code == 204
    assert client.get(f"{url}/{season['id']}", headers=org.headers()).status_code == 404

    created, updated, deleted = audit_entries(client, org, "seasonal_pricing", season["id"])
    assert [e["action"] for e in (created, updated, deleted)] == [
        "seasonal_pricing.created", "seasonal_pricing.updated", "seasonal_pricing.deleted"
    ]  # fmt: skip
    assert (updated["before"]["end_date"], updated["after"]["end_date"]) == (
        "2030-08-31", "2030-09-15"
    )  # fmt: skip
    assert updated["actor_id"] == org.user_ids["admin"]
    assert (deleted["before"]["name"], deleted["after"]) == ("Summer Peak", None)


def test_a_season_belongs_to_its_tour_only(client, org, pricing):
    other = new_tour(client, org, "Harbour Cruise")
    url = f"{API}/tours/{other}/seasonal-pricing/{pricing['season']}"
    assert client.get(url, headers=org.headers()).status_code == 404
    assert client.patch(url, json={"priority": 1}, headers=org.headers()).status_code == 404
    for tour in ("no-such-tour", "x" * 300):
        r = client.post(f"{API}/tours/{tour}/seasonal-pricing", json=SEASON, headers=org.headers())
        assert r.status_code == 404


INVALID_SEASONS = [
    ({"end_date": "2030-05-31"}, ["end_date"]),
    ({"start_date": "2030-02-30"}, ["start_date"]),
    ({"start_date": None}, ["start_date"]),
    ({"adjustment_value": -10001}, ["adjustment_value"]),
    ({"adjustment_value": 100001}, ["adjustment_value"]),
    ({"adjustment_value": 10**20}, ["adjustment_value"]),
    ({"adjustment_value": "2000"}, ["adjustment_value"]),
    ({"adjustment_value": 12.5}, ["adjustment_value"]),
    ({"adjustment_value": True}, ["adjustment_value"]),
    ({"adjustment_type": "multiply"}, ["adjustment_type"]),
    ({"name": ""}, ["name"]),
    ({"name": "x" * 101}, ["name"]),
    ({"name": "Nul\x00"}, ["name"]),
    ({"priority": 2**40}, ["priority"]),
    ({"tour_id": "x"}, ["tour_id"]),
]


def test_invalid_seasons_are_422_with_their_path(client, org):
    tour = new_tour(client, org)
    for body, path in INVALID_SEASONS:
        r = client.post(f"{API}/tours/{tour}/seasonal-pricing", json={**SEASON, **body},
                        headers=org.headers())  # fmt: skip
        assert r.status_code == 422, (body, r.text)
        assert path in error_paths(r), body


def test_a_season_patch_is_checked_against_the_stored_values(client, org):
    tour = new_tour(client, org)
    fixed = {**SEASON, "adjustment_type": "fixed", "adjustment_value": -20000}
    url = (
        f"{API}/tours/{tour}/seasonal-pricing/"
        + post(client, org, f"/tours/{tour}/seasonal-pricing", fixed)["id"]
    )
    for body, path in [
        ({"end_date": "2030-01-01"}, ["end_date"]),
        ({"start_date": "2030-09-01"}, ["start_date"]),
        ({"adjustment_type": "percentage"}, ["adjustment_type"]),
        ({"name": None}, ["name"]),
        ({"priority": None}, ["priority"]),
    ]:
        r = client.patch(url, json=body, headers=org.headers())
        assert r.status_code == 422, r.text
        assert error_paths(r) == [path], body
    r = client.patch(url, json={"adjustment_type": "percentage", "adjustment_value": -10000},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 200
    r = client.patch(url, json={"adjustment_value": 100000}, headers=org.headers())
    assert r.json()["adjustment_value"] == 100000  # +1000 %, the most a season adds
    r = client.patch(url, json={"start_date": "2030-08-31"}, headers=org.headers())
    assert r.json()["start_date"] == r.json()["end_date"] == "2030-08-31"


def test_every_season_change_bumps_the_tours_inventory_version(client, db, org):
    tour = new_tour(client, org)

    def version():
        with db(write=False, organization_id=org.id) as session:
            return session.scalar(select(Tour.inventory_version).where(Tour.id == tour))

    start = version()
    season = post(client, org, f"/tours/{tour}/seasonal-pricing", SEASON)
    assert version() == start + 1
    url = f"{API}/tours/{tour}/seasonal-pricing/{season['id']}"
    assert client.patch(url, json={"adjustment_value": 2500}, headers=org.headers()).is_success
    assert version() == start + 2
    assert client.delete(url, headers=org.headers()).status_code == 204
    assert version() == start + 3


# --- promotional codes


def test_a_code_is_stored_upper_case_with_its_currency_and_instants_in_utc(client, org, pricing):
    promo = client.get(f"{API}/promotional-codes/{pricing['promo']}", headers=org.headers()).json()
    assert promo["code"] == "SUMMER2030"
    assert (promo["currency"], promo["current_uses"], promo["status"]) == (None, 0, "active")
    assert promo["valid_until"] == "2030-12-31T22:00:00Z"
    assert (promo["applicable_tour_ids"], promo["max_uses"]) == ([], None)

    fixed = post(client, org, "/promotional-codes", {
        **PROMO, "code": " Ten-Off_1 ", "discount_type": "fixed", "discount_value": 1000,
        "applicable_tour_ids": [pricing["tour"], pricing["tour"]],
        "applicable_variant_ids": [pricing["variant"]], "max_uses": 10,
        "max_uses_per_customer": 1, "description": "Ten off",
    })  # fmt: skip
    assert (fixed["code"], fixed["currency"]) == ("TEN-OFF_1", org.currency)
    assert fixed["applicable_tour_ids"] == [pricing["tour"]]
    assert fixed["applicable_variant_ids"] == [pricing["variant"]]
    minimum = post(client, org, "/promotional-codes",
                   {**PROMO, "code": "MIN", "min_booking_amount": 5000})  # fmt: skip
    assert minimum["currency"] == org.currency
    usd = post(client, org, "/promotional-codes",
               {**PROMO, "code": "USD", "discount_type": "fixed", "currency": "usd"})  # fmt: skip
    assert usd["currency"] == "USD"
    now = dt.datetime.now(dt.UTC)
    body = {k: v for k, v in PROMO.items() if k != "valid_from"} | {"code": "NOW"}
    since = dt.datetime.fromisoformat(post(client, org, "/promotional-codes", body)["valid_from"])
    assert abs(since - now) < dt.timedelta(minutes=1)


def test_a_code_is_unique_per_organization_whatever_its_case(client, org, pricing):
    r = client.post(f"{API}/promotional-codes", json={**PROMO, "code": "Summer2030"},
                    headers=org.headers())  # fmt: skip
    assert r.status_code == 409
    assert r.json()["error"]["details"]["code"] == "SUMMER2030"
    other = post(client, org, "/promotional-codes", {**PROMO, "code": "AUTUMN"})
    r = client.patch(f"{API}/promotional-codes/{other['id']}", json={"code": "summer2030"},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 409
    r = client.patch(f"{API}/promotional-codes/{pricing['promo']}", json={"code": "Summer2030"},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 200  # its own code, in another case: no change at all
    assert [
        e["action"] for e in audit_entries(client, org, "promotional_code", pricing["promo"])
    ] == ["promotional_code.created"]


INVALID_CODES = [
    ({"code": ""}, ["code"]),
    ({"code": "TWO WORDS"}, ["code"]),
    ({"code": "CAFÉ"}, ["code"]),
    ({"code": "straße"}, ["code"]),
    ({"code": "X" * 65}, ["code"]),
    ({"code": "A;DROP"}, ["code"]),
    ({"code": 2030}, ["code"]),
    ({"discount_value": 0}, ["discount_value"]),
    ({"discount_value": 10001}, ["discount_value"]),
    ({"discount_type": "fixed", "discount_value": MAX_AMOUNT + 1}, ["discount_value"]),
    ({"discount_value": "10"}, ["discount_value"]),
    ({"discount_value": 10**30}, ["discount_value"]),
    ({"discount_type": "bogo"}, ["discount_type"]),
    ({"currency": "euro"}, ["currency"]),
    ({"discount_type": "fixed", "currency": None}, ["currency"]),
    ({"min_booking_amount": -1}, ["min_booking_amount"]),
    ({"max_uses": 0}, ["max_uses"]),
    ({"max_uses": 2**31}, ["max_uses"]),
    ({"max_uses_per_customer": 0}, ["max_uses_per_customer"]),
    ({"valid_from": "2030-01-01T00:00:00"}, ["valid_from"]),
    ({"valid_until": "2030-12-31"}, ["valid_until"]),
    ({"valid_until": "2029-12-31T00:00:00Z"}, ["valid_until"]),
    ({"valid_until": "2030-01-01T01:00:00+01:00"}, ["valid_until"]),
    ({"valid_until": "9999-12-31T23:00:00-05:00"}, ["valid_until"]),
    ({"valid_from": "0001-01-01T00:00:00+05:00"}, ["valid_from"]),
    ({"valid_until": "soon"}, ["valid_until"]),
    ({"applicable_tour_ids": ["no-such-tour"]}, ["applicable_tour_ids", 0]),
    ({"applicable_tour_ids": "all"}, ["applicable_tour_ids"]),
    ({"applicable_tour_ids": [""]}, ["applicable_tour_ids", 0]),
    ({"applicable_variant_ids": ["x" * 37]}, ["applicable_variant_ids", 0]),
    ({"applicable_variant_ids": ["no-such-variant"]}, ["applicable_variant_ids", 0]),
    ({"status": "paused"}, ["status"]),
    ({"current_uses": 5}, ["current_uses"]),
    ({"description": "x" * 301}, ["description"]),
]


def test_invalid_codes_are_422_with_their_path(client, org):
    for body, path in INVALID_CODES:
        r = client.post(f"{API}/promotional-codes", json={**PROMO, **body}, headers=org.headers())
        assert r.status_code == 422, (body, r.text)
        assert path in error_paths(r), body
    assert client.get(f"{API}/promotional-codes", headers=org.headers()).json()["items"] == []


def test_a_code_may_target_only_this_organizations_tours_and_variants(client, org, pricing):
    body = {**PROMO, "code": "T", "applicable_tour_ids": [pricing["tour"], "nope"]}
    r = client.post(f"{API}/promotional-codes", json=body, headers=org.headers())
    assert error_paths(r) == [["applicable_tour_ids", 1]]
    body = {**PROMO, "code": "V", "applicable_variant_ids": [pricing["tour"]]}
    r = client.post(f"{API}/promotional-codes", json=body, headers=org.headers())
    assert error_paths(r) == [["applicable_variant_ids", 0]]


def test_a_code_patch_is_checked_against_the_stored_values(client, org):
    fixed = post(client, org, "/promotional-codes",
                 {**PROMO, "discount_type": "fixed", "discount_value": 50000})  # fmt: skip
    url = f"{API}/promotional-codes/{fixed['id']}"
    for body, path in [
        ({"discount_type": "percentage"}, ["discount_type"]),
        ({"valid_until": "2029-06-01T00:00:00Z"}, ["valid_until"]),
        ({"valid_from": "2031-06-01T00:00:00Z"}, ["valid_from"]),
        ({"currency": None}, ["currency"]),
        ({"code": None}, ["code"]),
        ({"applicable_tour_ids": None}, ["applicable_tour_ids"]),
        ({"current_uses": 0}, ["current_uses"]),
    ]:
        r = client.patch(url, json=body, headers=org.headers())
        assert r.status_code == 422, r.text
        assert error_paths(r) == [path], body
    r = client.patch(url, json={"discount_type": "percentage", "discount_value": 2500,
                                "max_uses": None, "description": "quarter"},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["discount_type"], r.json()["currency"]) == ("percentage", org.currency)


def redeem(db, org, promo_id, uses=1):
    """A booking that used the code, as the booking code records one."""
    with db(write=True, organization_id=org.id) as session:
        customer = Customer(email=f"c-{uuid.uuid4().hex[:8]}@example.com")
        session.add(customer)
        session.flush()
        for _ in range(uses):
            booking = Booking(
                reference=f"BK-T-{uuid.uuid4().hex[:8]}", customer_id=customer.id,
                status="booking_created", source="admin", currency="EUR", subtotal=1000,
                total=900, deposit_required=900, created_by_type="system",
                promotional_code_id=promo_id,
            )  # fmt: skip
            session.add(booking)
            session.flush()
            session.add(PromoRedemption(promotional_code_id=promo_id, booking_id=booking.id,
                                        customer_id=customer.id, amount=100))  # fmt: skip
        session.execute(update(PromotionalCode).where(PromotionalCode.id == promo_id)
                        .values(current_uses=PromotionalCode.current_uses + uses))  # fmt: skip
        session.commit()


def test_max_uses_cannot_drop_below_the_uses_a_code_already_has(client, db, org, pricing):
    redeem(db, org, pricing["promo"], uses=3)
    url = f"{API}/promotional-codes/{pricing['promo']}"
    r = client.patch(url, json={"max_uses": 2}, headers=org.headers())
    assert r.status_code == 409
    assert r.json()["error"]["details"] == {"max_uses": 2, "current_uses": 3}
    r = client.patch(url, json={"max_uses": 3}, headers=org.headers())
    assert (r.status_code, r.json()["max_uses"], r.json()["current_uses"]) == (200, 3, 3)


def test_a_used_code_cannot_be_deleted_but_can_be_deactivated(client, db, org, pricing):
    redeem(db, org, pricing["promo"])
    url = f"{API}/promotional-codes/{pricing['promo']}"
    r = client.delete(url, headers=org.headers())
    assert r.status_code == 409
    assert "inactive" in r.json()["error"]["message"]
    assert r.json()["error"]["details"]["redemptions"] == 1
    r = client.patch(url, json={"status": "inactive"}, headers=org.headers())
    assert r.json()["status"] == "inactive"
    unused = post(client, org, "/promotional-codes", {**PROMO, "code": "UNUSED"})
    url = f"{API}/promotional-codes/{unused['id']}"
    assert client.delete(url, headers=org.headers("admin")).status_code == 204
    assert client.get(url, headers=org.headers()).status_code == 404
    created, deleted = audit_entries(client, org, "promotional_code", unused["id"])
    assert (created["action"], deleted["action"]) == (
        "promotional_code.created", "promotional_code.deleted"
    )  # fmt: skip
    assert (deleted["before"]["code"], deleted["after"]) == ("UNUSED", None)


def test_codes_are_listed_by_code_and_filtered_by_status_and_search(client, org):
    # Codes that sort alike under any collation (SQLite's bytes, PostgreSQL's locale).
    for code, status in [("SPRING", "active"), ("SUMMER", "inactive"), ("WIN_TER", "expired"),
                         ("VINATE", "active")]:  # fmt: skip
        post(client, org, "/promotional-codes", {**PROMO, "code": code, "status": status})

    def codes(**query):
        r = client.get(f"{API}/promotional-codes", params=query, headers=org.headers("staff"))
        assert r.status_code == 200, r.text
        return [p["code"] for p in r.json()["items"]]

    assert codes() == ["SPRING", "SUMMER", "VINATE", "WIN_TER"]
    assert codes(status="active") == ["SPRING", "VINATE"]
    assert codes(search="s") == ["SPRING", "SUMMER"]
    assert codes(search="n_t") == ["WIN_TER"]  # _ is the character, not a wildcard
    assert codes(search="%") == []
    assert codes(search="win", status="expired") == ["WIN_TER"]
    page = client.get(f"{API}/promotional-codes", params={"limit": 3}, headers=org.headers())
    assert page.json()["total_count"] == 4
    rest = client.get(f"{API}/promotional-codes", headers=org.headers(),
                      params={"limit": 3, "cursor": page.json()["next_cursor"]})  # fmt: skip
    assert [p["code"] for p in rest.json()["items"]] == ["WIN_TER"]
    for query in ({"status": "paused"}, {"search": "\x00"}, {"search": "x" * 65}):
        r = client.get(f"{API}/promotional-codes", params=query, headers=org.headers())
        assert r.status_code == 422


# --- automatic rules


def test_rules_are_created_for_every_tour_or_one_and_listed_by_kind_and_tour(client, org, pricing):
    rule = client.get(f"{API}/pricing-rules/{pricing['rule']}", headers=org.headers()).json()
    assert {k: rule[k] for k in RULE} == RULE
    assert (rule["tour_id"], rule["currency"], rule["min_days_before"], rule["active"]) == (
        None, None, None, True
    )  # fmt: skip
    early = post(client, org, "/pricing-rules", {
        "kind": "early_bird", "name": "Book a month ahead", "tour_id": pricing["tour"],
        "discount_type": "fixed", "discount_value": 500, "min_days_before": 30,
    })  # fmt: skip
    assert (early["tour_id"], early["currency"]) == (pricing["tour"], org.currency)

    def names(**query):
        r = client.get(f"{API}/pricing-rules", params=query, headers=org.headers("accountant"))
        assert r.status_code == 200, r.text
        return [x["name"] for x in r.json()["items"]]

    assert names() == ["Book a month ahead", "Groups of six"]
    assert names(kind="group") == ["Groups of six"]
    assert names(tour_id=pricing["tour"]) == ["Book a month ahead"]
    assert names(tour_id="nope") == []
    r = client.get(f"{API}/pricing-rules", params={"kind": "loyalty"}, headers=org.headers())
    assert r.status_code == 422


INVALID_RULES = [
        ({"min_participants": None}, ["min_participants"]),
        ({"min_participants": 1}, ["min_participants"]),
        ({"min_participants": 10**12}, ["min_participants"]),
        ({"min_days_before": 7}, ["min_days_before"]),
        ({"kind": "early_bird", "min_participants": None}, ["min_days_before"]),
        ({"kind": "early_bird", "min_days_before": 7}, ["min_participants"]),
        ({"kind": "early_bird", "min_participants": None, "min_days_before": 0},
         ["min_days_before"]),
        ({"kind": "loyalty"}, ["kind"]),
        ({"tour_id": "no-such-tour"}, ["tour_id"]),
        ({"tour_id": ""}, ["tour_id"]),
        ({"discount_value": 10001}, ["discount_value"]),
        ({"discount_value": -5}, ["discount_value"]),
        ({"discount_type": "fixed", "currency": "12"}, ["currency"]),
        ({"name": ""}, ["name"]),
        ({"active": "perhaps"}, ["active"]),
        ({"priority": 1}, ["priority"]),
]  # fmt: skip


def test_invalid_rules_are_422_with_their_path(client, org):
    for body, path in INVALID_RULES:
        r = client.post(f"{API}/pricing-rules", json={**RULE, **body}, headers=org.headers())
        assert r.status_code == 422, (body, r.text)
        assert path in error_paths(r), body


def test_a_rule_changes_kind_only_with_the_other_kinds_threshold(client, org, pricing):
    url = f"{API}/pricing-rules/{pricing['rule']}"
    r = client.patch(url, json={"kind": "early_bird", "min_days_before": 14},
                     headers=org.headers())  # fmt: skip
    assert (r.status_code, error_paths(r)) == (422, [["min_participants"]])
    r = client.patch(url, json={"discount_type": "fixed"}, headers=org.headers())
    assert r.json()["currency"] == org.currency  # a fixed amount gets its currency
    r = client.patch(url, json={"kind": "early_bird", "min_days_before": 14,
                                "min_participants": None, "name": "Early"},
                     headers=org.headers("admin"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["kind"], r.json()["min_participants"]) == ("early_bird", None)
    assert client.delete(url, headers=org.headers()).status_code == 204
    entries = audit_entries(client, org, "pricing_rule", pricing["rule"])
    assert [e["action"] for e in entries] == [
        "pricing_rule.created", "pricing_rule.updated", "pricing_rule.updated",
        "pricing_rule.deleted",
    ]  # fmt: skip
    assert entries[2]["before"]["kind"] == "group"
    assert entries[2]["after"]["min_days_before"] == 14


def test_malformed_ids_are_not_found_and_malformed_bodies_422(client, org, pricing):
    for path in ("/pricing-rules/{bad}", "/promotional-codes/{bad}",
                 "/tours/{tour}/seasonal-pricing/{bad}"):  # fmt: skip
        for bad in ("nope", "x" * 300, "%00", "..%2F..%2Fetc"):
            url = API + path.format(bad=bad, **pricing)
            assert client.get(url, headers=org.headers()).status_code == 404, url
            assert client.delete(url, headers=org.headers()).status_code == 404, url
    headers = {**org.headers(), "content-type": "application/json"}
    for path in (
        "/promotional-codes",
        "/pricing-rules",
        f"/tours/{pricing['tour']}/seasonal-pricing",
    ):
        for body in ("[]", "not json", '{"name": "x"', "", "null"):
            r = client.post(API + path, content=body, headers=headers)
            assert r.status_code == 422, (path, body)
