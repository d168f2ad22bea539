"""POST /api/v1/bookings/{id}/rebook: seats move in one step, re-priced, difference recorded."""

import pytest
from sqlalchemy import func, select

from tests.booking_builders import (
    add_schedule,
    audit_actions,
    create_booking,
    get_booking,
    make_departure,
    move,
    seats_taken,
    walk_to,
)
from tests.pricing_builders import make_promo, make_season, promo_uses
from tos.bookings.models import Booking


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=10, days_ahead=20)


def rebook(client, org, booking_id, body, role="manager", headers=None):
    return client.post(
        f"/api/v1/bookings/{booking_id}/rebook",
        headers={**org.headers(role), **(headers or {})},
        json=body,
    )


def later(db, org, dep, *, days_ahead=30, capacity=10):
    return add_schedule(db, org.id, dep.tour_id, dep.variant_id, days_ahead=days_ahead,
                        capacity=capacity)  # fmt: skip


def test_moving_to_another_date_moves_the_seats_and_records_the_difference(client, db, org, dep):
    b = create_booking(client, org, dep, adults=2, children=1)
    target = later(db, org, dep)
    make_season(db, org.id, dep.tour_id, start_date=_date(db, org, target),
                end_date=_date(db, org, target), adjustment_value=1000)  # fmt: skip
    r = rebook(client, org, b["id"], {"schedule_id": target})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["from_schedule_id"] == dep.schedule_id
    # 2 x 5000 + 2500 = 12500 before; +10 % now: 13750.
    assert out["difference"] == {"amount": 1250, "currency": "EUR", "direction": "due"}
    moved = out["booking"]
    assert moved["schedule_id"] == target and moved["held_seats"] == 3
    assert moved["total"] == 13750 and moved["balance_due"] == 13750
    kinds = [(ln["kind"], ln["amount"]) for ln in moved["line_items"]]
    assert ("adjustment", 1250) in kinds
    assert sorted(k for k, _ in kinds) == ["adjustment", "scheduled", "scheduled"]
    assert all(
        ln["schedule_id"] == target for ln in moved["line_items"] if ln["kind"] == "scheduled"
    )
    assert seats_taken(db, org.id, dep.schedule_id) == 0
    assert seats_taken(db, org.id, target) == 3
    assert "booking.modified" in audit_actions(client, org, "booking", b["id"])


def _date(db, org, schedule_id):
    from tos.inventory.models import Schedule

    with db(write=False, organization_id=org.id) as session:
        return session.scalar(select(Schedule.date).where(Schedule.id == schedule_id))


def test_a_full_target_is_a_409_and_changes_nothing(client, db, org, dep):
    b = create_booking(client, org, dep, adults=3)
    target = later(db, org, dep, capacity=2)
    r = rebook(client, org, b["id"], {"schedule_id": target})
    assert r.status_code == 409 and r.json()["error"]["code"] == "CAPACITY_EXCEEDED"
    after = get_booking(client, org, b["id"])
    assert after["schedule_id"] == dep.schedule_id and after["held_seats"] == 3
    assert after["total"] == b["total"] and len(after["line_items"]) == 1
    assert seats_taken(db, org.id, dep.schedule_id) == 3 and seats_taken(db, org.id, target) == 0


def test_changing_the_line_items_on_the_same_departure_takes_or_returns_the_difference(
    client, db, org, dep
):
    b = create_booking(client, org, dep, adults=2)
    more = [{"pricing_tier_id": dep.adult, "quantity": 3},
            {"pricing_tier_id": dep.child, "quantity": 2}]  # fmt: skip
    r = rebook(client, org, b["id"], {"schedule_id": dep.schedule_id, "line_items": more})
    assert r.status_code == 200, r.text
    assert r.json()["difference"]["amount"] == 10000
    assert seats_taken(db, org.id, dep.schedule_id) == 5
    fewer = [{"pricing_tier_id": dep.adult, "quantity": 1}]
    r = rebook(client, org, b["id"], {"schedule_id": dep.schedule_id, "line_items": fewer})
    assert r.json()["difference"] == {"amount": -15000, "currency": "EUR", "direction": "credit"}
    got = r.json()["booking"]
    assert got["held_seats"] == 1 and got["total"] == 5000
    assert seats_taken(db, org.id, dep.schedule_id) == 1
    # The original total plus the adjustment lines is the current total.
    adjustments = sum(ln["amount"] for ln in got["line_items"] if ln["kind"] == "adjustment")
    assert b["total"] + adjustments == got["total"]


def test_a_cheaper_date_after_payment_leaves_a_credit(client, db, org, dep):
    b = walk_to(client, org, create_booking(client, org, dep, adults=2), "payment_confirmed")
    target = later(db, org, dep)
    day = _date(db, org, target)
    make_season(db, org.id, dep.tour_id, start_date=day, end_date=day,
                adjustment_type="fixed", adjustment_value=-1000)  # fmt: skip
    r = rebook(client, org, b["id"], {"schedule_id": target})
    assert r.status_code == 200, r.text
    got = r.json()["booking"]
    assert got["status"] == "payment_confirmed"
    assert got["total"] == 8000 and got["credit"] == 2000 and got["balance_due"] == 0


def test_moving_to_another_tour_needs_its_tiers(client, db, org, dep):
    b = create_booking(client, org, dep, adults=2)
    other = make_departure(db, org.id, capacity=5, adult_price=9000)
    r = rebook(client, org, b["id"], {"schedule_id": other.schedule_id})
    assert r.status_code == 422
    assert r.json()["error"]["details"]["fields"][0]["path"] == ["line_items"]
    wrong = [{"pricing_tier_id": dep.adult, "quantity": 2}]
    r = rebook(client, org, b["id"], {"schedule_id": other.schedule_id, "line_items": wrong})
    assert r.status_code == 422
    assert r.json()["error"]["details"]["fields"][0]["path"] == ["line_items", 0, "pricing_tier_id"]
    right = [{"pricing_tier_id": other.adult, "quantity": 2}]
    r = rebook(client, org, b["id"], {"schedule_id": other.schedule_id, "line_items": right})
    assert r.status_code == 200, r.text
    got = r.json()["booking"]
    assert got["tour_id"] == other.tour_id and got["total"] == 18000
    assert seats_taken(db, org.id, other.schedule_id) == 2
    assert seats_taken(db, org.id, dep.schedule_id) == 0


@pytest.mark.parametrize("status", ["cancelled", "completed"])
def test_a_closed_booking_cannot_be_moved(client, db, org, dep, status):
    b = create_booking(client, org, dep)
    if status == "cancelled":
        assert move(client, org, b["id"], "cancelled", note="x").status_code == 200
    else:
        walk_to(client, org, b, "completed")
    r = rebook(client, org, b["id"], {"schedule_id": later(db, org, dep)})
    assert r.status_code == 409 and r.json()["error"]["code"] == "BOOKING_CLOSED"


def test_a_departed_closed_or_foreign_target_is_refused(client, db, org, other_org, dep):
    b = create_booking(client, org, dep)
    closed = add_schedule(db, org.id, dep.tour_id, dep.variant_id, days_ahead=25, status="closed")
    r = rebook(client, org, b["id"], {"schedule_id": closed})
    assert r.status_code == 409 and r.json()["error"]["code"] == "SCHEDULE_NOT_OPEN"
    theirs = make_departure(db, other_org.id)
    r = rebook(client, org, b["id"], {"schedule_id": theirs.schedule_id})
    assert r.status_code == 422
    assert (
        rebook(client, other_org, b["id"], {"schedule_id": theirs.schedule_id}).status_code == 404
    )


def test_rebooking_follows_the_permission_table_and_row_rules(client, db, org, dep):
    b = create_booking(client, org, dep)
    target = later(db, org, dep)
    for role in ("guide", "accountant", "reseller"):
        assert rebook(client, org, b["id"], {"schedule_id": target}, role=role).status_code == 403
    # Staff act on bookings assigned to them only.
    assert rebook(client, org, b["id"], {"schedule_id": target}, role="staff").status_code == 404
    mine = create_booking(client, org, dep, role="staff")
    assert rebook(client, org, mine["id"], {"schedule_id": target}, role="staff").status_code == 200


def test_an_idempotency_key_replays_the_move(client, db, org, dep):
    b = create_booking(client, org, dep, adults=2)
    target = later(db, org, dep)
    key = {"Idempotency-Key": "move-1"}
    first = rebook(client, org, b["id"], {"schedule_id": target}, headers=key)
    again = rebook(client, org, b["id"], {"schedule_id": target}, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert seats_taken(db, org.id, target) == 2
    other = rebook(client, org, b["id"], {"schedule_id": dep.schedule_id}, headers=key)
    assert other.status_code == 409


def test_a_kept_code_applies_again_and_one_that_no_longer_targets_is_given_back(
    client, db, org, dep
):
    promo = make_promo(db, org.id, applicable_tour_ids=[dep.tour_id], max_uses=3)
    b = create_booking(client, org, dep, adults=2, promotional_code=promo.code)
    assert b["discount_total"] == 1000
    r = rebook(client, org, b["id"], {"schedule_id": later(db, org, dep)})
    assert r.json()["booking"]["discount_total"] == 1000
    assert promo_uses(db, org.id, promo.id) == 1
    other = make_departure(db, org.id)
    lines = [{"pricing_tier_id": other.adult, "quantity": 2}]
    r = rebook(client, org, b["id"], {"schedule_id": other.schedule_id, "line_items": lines})
    got = r.json()["booking"]
    assert got["discount_total"] == 0 and got["promotional_code_id"] is None
    assert promo_uses(db, org.id, promo.id) == 0


def test_seats_stay_consistent_after_many_moves(client, db, org, dep):
    b1 = create_booking(client, org, dep, adults=2)
    b2 = create_booking(client, org, dep, adults=1, email="rui@example.com")
    a, c = later(db, org, dep, days_ahead=30), later(db, org, dep, days_ahead=31)
    for target in (a, c, dep.schedule_id, a):
        assert rebook(client, org, b1["id"], {"schedule_id": target}).status_code == 200
    assert rebook(client, org, b2["id"], {"schedule_id": c}).status_code == 200
    with db(write=False, organization_id=org.id) as session:
        for sid in (dep.schedule_id, a, c):
            held = session.scalar(
                select(func.coalesce(func.sum(Booking.held_seats), 0)).where(
                    Booking.schedule_id == sid
                )
            )
            assert held == seats_taken(db, org.id, sid)
    assert seats_taken(db, org.id, a) == 2 and seats_taken(db, org.id, c) == 1


def test_bad_bodies_are_422(client, org, dep):
    b = create_booking(client, org, dep)
    assert rebook(client, org, b["id"], {}).status_code == 422
    assert (
        rebook(client, org, b["id"], {"schedule_id": dep.schedule_id, "line_items": []}).status_code
        == 422
    )
    assert rebook(client, org, b["id"], {"schedule_id": "nope", "x": 1}).status_code == 422
