"""Seed 003's pricing applied to bookings and quotes: seasons, rules, codes, taxes, deposits."""

import datetime as dt

import pytest

from tests.booking_builders import (
    booking_body,
    create_booking,
    get_booking,
    make_departure,
    move,
    pay,
)
from tests.pricing_builders import make_promo, make_rule, make_season, promo_uses, set_org_settings


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=20, days_ahead=40)


def quote(client, org, body, role="manager"):
    return client.post("/api/v1/pricing/quote", headers=org.headers(role), json=body)


def quote_body(dep, *, adults=1, children=0, **extra):
    body = booking_body(dep, adults=adults, children=children)
    body.pop("customer")
    return body | extra


def test_a_booking_stores_seasons_rules_code_and_taxes_and_the_quote_agrees(client, db, org, dep):
    make_season(db, org.id, dep.tour_id, adjustment_value=2000)  # +20 %
    make_rule(db, org.id, "early_bird", min_days_before=30, discount_value=1000)
    make_rule(db, org.id, "group", min_participants=3, discount_type="fixed",
              discount_value=500, currency="EUR")  # fmt: skip
    promo = make_promo(db, org.id, code="SUMMER", discount_type="fixed", discount_value=1000)
    set_org_settings(db, org.id, taxes=[
        {"name": "VAT", "rate_bp": 2300, "inclusive": False},
        {"name": "City", "rate_bp": 100, "inclusive": True},
    ])  # fmt: skip

    q = quote(client, org, quote_body(dep, adults=2, children=1, promotional_code="summer"))
    assert q.status_code == 200, q.text
    b = create_booking(client, org, dep, adults=2, children=1, promotional_code="summer")

    snap = b["price_snapshot"]
    assert [ln["unit_price"]["amount"] for ln in snap["lines"]] == [6000, 3000]
    assert snap["subtotal"]["amount"] == 15000
    # Early bird 10 % (1500), group 5.00 (500), code 10.00 (1000): 3000 off.
    assert [(d["type"], d["amount"]["amount"]) for d in snap["discounts"]] == [
        ("early_bird", 1500), ("group", 500), ("promotional_code", 1000)]  # fmt: skip
    # 12000 holds 1 % city tax: net 11881, city 119; VAT 23 % of the net on top.
    taxes = {t["name"]: t for t in snap["taxes"]}
    assert taxes["City"]["amount"]["amount"] == 119 and taxes["City"]["inclusive"]
    assert taxes["VAT"]["amount"]["amount"] == 2733
    assert b["subtotal"] == 15000 and b["discount_total"] == 3000 and b["tax_total"] == 2733
    assert b["total"] == 15000 - 3000 + 2733 == snap["total"]["amount"]
    assert b["promotional_code_id"] == promo.id
    assert promo_uses(db, org.id, promo.id) == 1
    # The quote is what the booking stored.
    for key in ("lines", "subtotal", "discounts", "taxes", "total"):
        assert q.json()[key] == snap[key]


def test_the_deposit_rule_sets_what_confirmation_needs(client, db, org, dep):
    set_org_settings(db, org.id, deposit={"type": "percentage", "value": 3000})
    b = create_booking(client, org, dep, adults=2)
    assert b["total"] == 10000 and b["deposit_required"] == 3000
    assert move(client, org, b["id"], "payment_pending").status_code == 200
    assert move(client, org, b["id"], "payment_confirmed").status_code == 409
    assert pay(client, org, b["id"], 3000).status_code == 201
    assert move(client, org, b["id"], "payment_confirmed").status_code == 200
    assert get_booking(client, org, b["id"])["balance_due"] == 7000


def test_hold_minutes_come_from_the_organization(client, db, org, dep):
    set_org_settings(db, org.id, hold_minutes=5)
    b = create_booking(client, org, dep, hold=True)
    created = dt.datetime.fromisoformat(b["created_at"])
    expires = dt.datetime.fromisoformat(b["expires_at"])
    assert dt.timedelta(minutes=4) < expires - created <= dt.timedelta(minutes=5, seconds=5)


def test_availability_shows_the_season_adjusted_price(client, db, org, dep):
    make_season(db, org.id, dep.tour_id, adjustment_type="fixed", adjustment_value=-1000)
    day = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    r = client.get(f"/api/v1/availability?tour_id={dep.tour_id}&date_from={day}&date_to={day}",
                   headers=org.headers())  # fmt: skip
    assert r.status_code == 200, r.text
    prices = {p["name"]: p["price"]["amount"] for p in r.json()["schedules"][0]["pricing"]}
    assert prices == {"Adult": 4000, "Child": 1500}


@pytest.mark.parametrize(
    ("promo", "reason"),
    [
        ({"status": "inactive"}, "inactive"),
        ({"valid_until": dt.datetime(2020, 1, 2, tzinfo=dt.UTC),
          "valid_from": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}, "expired"),
        ({"valid_from": dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
          "valid_until": dt.datetime(2100, 2, 1, tzinfo=dt.UTC)}, "not_yet_valid"),
        ({"applicable_tour_ids": ["another-tour"]}, "not_applicable"),
        ({"min_booking_amount": 100000}, "min_booking_value"),
    ],
)  # fmt: skip
def test_an_unusable_code_is_a_422_with_its_reason_and_books_nothing(
    client, db, org, dep, promo, reason
):
    code = make_promo(db, org.id, **promo).code
    for r in (
        client.post("/api/v1/bookings", headers=org.headers("manager"),
                    json=booking_body(dep, promotional_code=code)),
        quote(client, org, quote_body(dep, promotional_code=code)),
    ):  # fmt: skip
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == "PROMO_CODE_INVALID"
        assert err["details"]["reason"] == reason
        assert err["details"]["fields"][0]["path"] == ["promotional_code"]
    listed = client.get(f"/api/v1/bookings?schedule_id={dep.schedule_id}", headers=org.headers())
    assert listed.json()["total_count"] == 0


def test_an_unknown_code_is_a_422(client, org, dep):
    r = client.post("/api/v1/bookings", headers=org.headers("manager"),
                    json=booking_body(dep, promotional_code="NOPE"))  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["details"]["reason"] == "not_found"


def test_a_code_targets_variants_and_tours(client, db, org, dep):
    ok = make_promo(db, org.id, applicable_tour_ids=[dep.tour_id],
                    applicable_variant_ids=[dep.variant_id])  # fmt: skip
    assert create_booking(client, org, dep, promotional_code=ok.code)["discount_total"] == 500
    other = make_promo(db, org.id, applicable_variant_ids=["another-variant"])
    r = quote(client, org, quote_body(dep, promotional_code=other.code))
    assert r.status_code == 422


def test_a_used_up_code_is_a_409_and_cancelling_before_payment_gives_a_use_back(
    client, db, org, dep
):
    promo = make_promo(db, org.id, max_uses=1)
    first = create_booking(client, org, dep, promotional_code=promo.code, email="a@example.com")
    body = booking_body(dep, promotional_code=promo.code, email="b@example.com")
    r = client.post("/api/v1/bookings", headers=org.headers("manager"), json=body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "PROMO_CODE_EXHAUSTED"
    assert promo_uses(db, org.id, promo.id) == 1
    assert move(client, org, first["id"], "cancelled", note="changed plans").status_code == 200
    assert promo_uses(db, org.id, promo.id) == 0
    create_booking(client, org, dep, promotional_code=promo.code, email="b@example.com")
    assert promo_uses(db, org.id, promo.id) == 1


def test_cancelling_after_money_came_in_keeps_the_use(client, db, org, dep):
    promo = make_promo(db, org.id, max_uses=5)
    b = create_booking(client, org, dep, promotional_code=promo.code)
    assert pay(client, org, b["id"], 1000).status_code == 201
    assert move(client, org, b["id"], "cancelled", note="x").status_code == 200
    assert promo_uses(db, org.id, promo.id) == 1


def test_the_per_customer_limit_counts_that_customers_uses(client, db, org, dep):
    promo = make_promo(db, org.id, max_uses_per_customer=1)
    create_booking(client, org, dep, promotional_code=promo.code, email="ana@example.com")
    body = booking_body(dep, promotional_code=promo.code, email="ANA@example.com")
    r = client.post("/api/v1/bookings", headers=org.headers("manager"), json=body)
    assert r.status_code == 409
    assert r.json()["error"]["details"]["reason"] == "max_uses_per_customer"
    q = quote(client, org, quote_body(dep, promotional_code=promo.code,
                                      customer_email="ana@example.com"))  # fmt: skip
    assert q.status_code == 409
    create_booking(client, org, dep, promotional_code=promo.code, email="rui@example.com")
    assert promo_uses(db, org.id, promo.id) == 2


def test_a_code_of_another_organization_is_unknown(client, db, org, other_org, dep):
    theirs = make_promo(db, other_org.id)
    r = quote(client, org, quote_body(dep, promotional_code=theirs.code))
    assert r.status_code == 422 and r.json()["error"]["details"]["reason"] == "not_found"


def test_a_quote_validates_like_a_booking_and_checks_permissions(client, org, dep):
    assert quote(client, org, {"line_items": []}).status_code == 422
    r = quote(client, org, {"line_items": [{"pricing_tier_id": dep.adult, "quantity": 1}]})
    assert r.status_code == 422
    assert quote(client, org, quote_body(dep), role="guide").status_code == 403
    assert quote(client, org, quote_body(dep), role="staff").status_code == 200
    r = quote(client, org, quote_body(dep, adults=3))
    assert r.json()["total"] == {"amount": 15000, "currency": "EUR"}
    assert r.json()["deposit_required"] == {"amount": 15000, "currency": "EUR"}
