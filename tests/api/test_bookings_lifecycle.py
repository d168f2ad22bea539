"""Lifecycle over /api/v1: transitions, stage, owner, cancel and events; who may do which; the
table's 409 with its details; ledger guards; idempotency keys; seats coming back."""

import datetime as dt

import pytest

from tests.booking_builders import (
    audit_actions,
    create_booking,
    get_booking,
    held_seats_sum,
    lead_schedule,
    make_departure,
    move,
    pay,
    refund,
    seats_taken,
    walk_to,
)
from tests.inventory_builders import set_schedule
from tos.bookings.models import LifecycleEvent

ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=10)


@pytest.fixture
def booking(client, org, dep):
    """Two adults (10000 EUR cents), assigned to the org's staff member."""
    return create_booking(client, org, dep, adults=2, assigned_to=org.user_ids["staff"])


def error(r) -> dict:
    return r.json()["error"]


def events(client, org, booking_id, role="owner") -> list[dict]:
    r = client.get(f"/api/v1/bookings/{booking_id}/events", headers=org.headers(role))
    assert r.status_code == 200, r.text
    return r.json()


def statuses(client, org, booking_id) -> list[str]:
    return [e["to_status"] for e in events(client, org, booking_id)]


def cancel(client, org, booking_id, role="owner", reason="changed plans", **headers):
    return client.post(
        f"/api/v1/bookings/{booking_id}/cancel",
        headers=org.headers(role) | headers,
        json={"reason": reason},
    )


def stage(client, org, booking_id, value, role="owner", **headers):
    return client.patch(
        f"/api/v1/bookings/{booking_id}/stage",
        headers=org.headers(role) | headers,
        json={"stage": value},
    )


def owner(client, org, booking_id, owner_id, role="manager"):
    return client.patch(
        f"/api/v1/bookings/{booking_id}/owner",
        headers=org.headers(role),
        json={"owner_id": owner_id},
    )


# --- who may move a booking ---------------------------------------------------------------------

NON_MONEY = ["owner", "admin", "manager", "staff"]
MONEY = ["owner", "admin", "accountant"]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_a_non_money_transition_follows_the_permission_table(client, org, booking, role):
    r = move(client, org, booking["id"], "payment_pending", role=role)
    assert r.status_code == (200 if role in NON_MONEY else 403), r.text
    expected = "payment_pending" if role in NON_MONEY else "booking_created"
    assert get_booking(client, org, booking["id"])["status"] == expected


@pytest.mark.parametrize("role", ALL_ROLES)
def test_payment_confirmed_is_a_money_transition(client, org, booking, role):
    walk_to(client, org, booking, "payment_pending")
    assert pay(client, org, booking["id"], booking["total"]).status_code == 201
    r = move(client, org, booking["id"], "payment_confirmed", role=role)
    assert r.status_code == (200 if role in MONEY else 403), r.text


@pytest.mark.parametrize("role", ALL_ROLES)
def test_refunded_is_a_money_transition(client, org, booking, role):
    walk_to(client, org, booking, "cancelled")
    r = move(client, org, booking["id"], "refunded", role=role)
    assert r.status_code == (200 if role in MONEY else 403), r.text


@pytest.mark.parametrize("role", ["accountant", "guide", "reseller"])
def test_cancelling_is_refused_to_roles_without_the_cancel_permission(client, org, booking, role):
    assert move(client, org, booking["id"], "cancelled", role=role).status_code == 403
    if role != "accountant":
        assert cancel(client, org, booking["id"], role=role).status_code == 403
    assert get_booking(client, org, booking["id"])["status"] == "booking_created"


def test_an_accountant_cancels_through_the_refunding_cancel_only(client, org, booking):
    """API.md: accountants "cancel with a chosen refund"; the bare transition stays refused."""
    r = cancel(client, org, booking["id"], role="accountant")
    assert r.status_code == 200, r.text
    assert r.json()["booking"]["status"] == "cancelled"
    assert r.json()["refund"]["amount"] == 0  # nothing was taken through a provider


@pytest.mark.parametrize("role", NON_MONEY)
def test_cancelling_is_allowed_to_booking_writers(client, org, booking, role):
    assert cancel(client, org, booking["id"], role=role).status_code == 200


def test_staff_may_not_move_a_booking_assigned_to_someone_else_and_see_404(client, org, dep):
    theirs = create_booking(client, org, dep, assigned_to=org.user_ids["manager"])
    r = move(client, org, theirs["id"], "payment_pending", role="staff")
    assert r.status_code == 404
    assert cancel(client, org, theirs["id"], role="staff").status_code == 404
    assert get_booking(client, org, theirs["id"])["status"] == "booking_created"


def test_staff_may_not_move_an_unassigned_booking(client, org, dep):
    unassigned = create_booking(client, org, dep, role="manager")
    assert move(client, org, unassigned["id"], "payment_pending", role="staff").status_code == 404


def test_a_guide_may_read_but_not_move_a_booking_on_the_schedule_they_lead(
    client, db, org, dep, booking
):
    lead_schedule(db, org, dep.schedule_id)
    assert get_booking(client, org, booking["id"], role="guide")["id"] == booking["id"]
    assert move(client, org, booking["id"], "payment_pending", role="guide").status_code == 403


def test_the_transition_records_the_caller_as_actor(client, org, booking):
    r = move(client, org, booking["id"], "payment_pending", role="staff", note="sent link")
    ev = r.json()["event"]
    assert (ev["actor_type"], ev["actor_id"], ev["note"]) == (
        "user",
        org.user_ids["staff"],
        "sent link",
    )


def test_a_transition_body_cannot_claim_an_actor(client, org, booking):
    r = move(client, org, booking["id"], "payment_pending", actor_type="system")
    assert r.status_code == 422 and ["actor_type"] in [
        f["path"] for f in error(r)["details"]["fields"]
    ]


# --- the table --------------------------------------------------------------------------------


def test_a_transition_not_in_the_table_is_409_with_from_to_and_allowed(client, org, booking):
    r = move(client, org, booking["id"], "completed")
    assert r.status_code == 409
    err = error(r)
    assert err["code"] == "INVALID_TRANSITION"
    assert err["details"] == {
        "from": "booking_created",
        "to": "completed",
        "allowed": ["cancelled", "payment_pending"],
    }


def test_a_refused_transition_writes_no_event_and_no_audit_entry(client, org, booking):
    move(client, org, booking["id"], "completed")
    assert statuses(client, org, booking["id"]) == ["booking_created"]
    assert audit_actions(client, org, "booking", booking["id"]) == ["booking.created"]


def test_a_booking_cannot_be_cancelled_twice(client, org, booking):
    assert cancel(client, org, booking["id"]).status_code == 200
    r = cancel(client, org, booking["id"])
    assert r.status_code == 409 and error(r)["details"]["allowed"] == ["refunded"]


def test_a_refunded_booking_allows_nothing_more(client, org, booking):
    walk_to(client, org, booking, "cancelled")
    assert move(client, org, booking["id"], "refunded").status_code == 200
    r = move(client, org, booking["id"], "cancelled")
    assert r.status_code == 409 and error(r)["details"]["allowed"] == []


def test_a_lead_status_is_not_reachable_from_a_booking(client, org, booking):
    r = move(client, org, booking["id"], "quotation_sent")
    assert r.status_code == 409 and error(r)["code"] == "INVALID_TRANSITION"


def test_an_unknown_status_is_422_at_to_status(client, org, booking):
    r = move(client, org, booking["id"], "shipped")
    assert r.status_code == 422
    assert [f["path"] for f in error(r)["details"]["fields"]] == [["to_status"]]


def test_the_whole_happy_path_is_recorded_as_events_in_order(client, org, booking):
    walk_to(client, org, booking, "completed")
    assert statuses(client, org, booking["id"]) == [
        "booking_created",
        "payment_pending",
        "payment_confirmed",
        "supplier_confirmed",
        "documents_generated",
        "completed",
    ]
    evs = events(client, org, booking["id"])
    assert [e["from_status"] for e in evs[1:]] == [e["to_status"] for e in evs[:-1]]


def test_a_transition_answers_with_the_booking_and_its_event(client, org, booking):
    body = move(client, org, booking["id"], "payment_pending", note="n", metadata={"k": 1}).json()
    assert body["replayed"] is False
    assert body["booking"]["status"] == "payment_pending"
    assert body["event"]["from_status"] == "booking_created"
    assert body["event"]["metadata"] == {"k": 1}


def test_each_transition_is_audited_with_before_and_after(client, org, booking):
    move(client, org, booking["id"], "payment_pending", role="manager")
    r = client.get(
        f"/api/v1/audit?entity_type=booking&entity_id={booking['id']}", headers=org.headers("owner")
    )
    entries = r.json()["items"]
    assert [e["action"] for e in entries] == ["booking.created", "booking.status_changed"]
    change = entries[1]
    assert change["actor_id"] == org.user_ids["manager"]
    assert (change["before"]["status"], change["after"]["status"]) == (
        "booking_created",
        "payment_pending",
    )


# --- ledger guards ------------------------------------------------------------------------------


def test_payment_confirmed_is_refused_until_the_ledger_covers_the_amount_due(client, org, booking):
    walk_to(client, org, booking, "payment_pending")
    r = move(client, org, booking["id"], "payment_confirmed")
    assert r.status_code == 409 and error(r)["code"] == "PRECONDITION_FAILED"
    assert error(r)["details"]["required"] == 10000 and error(r)["details"]["paid"] == 0


def test_a_partial_payment_does_not_confirm(client, org, booking):
    walk_to(client, org, booking, "payment_pending")
    pay(client, org, booking["id"], 9999)
    r = move(client, org, booking["id"], "payment_confirmed")
    assert r.status_code == 409 and error(r)["details"]["paid"] == 9999


def test_payments_covering_the_amount_due_confirm(client, org, booking):
    walk_to(client, org, booking, "payment_pending")
    pay(client, org, booking["id"], 4000)
    pay(client, org, booking["id"], 6000)
    r = move(client, org, booking["id"], "payment_confirmed", role="accountant")
    assert r.status_code == 200 and r.json()["booking"]["payment_status"] == "paid"


def test_money_refunded_again_no_longer_covers_the_amount_due(client, org, booking):
    walk_to(client, org, booking, "payment_pending")
    pay(client, org, booking["id"], 10000)
    refund(client, org, booking["id"], 1)
    assert move(client, org, booking["id"], "payment_confirmed").status_code == 409


def test_refunded_is_refused_until_refunds_cover_what_came_in(client, org, booking):
    walk_to(client, org, booking, "payment_confirmed")
    r = move(client, org, booking["id"], "refunded")
    assert r.status_code == 409 and error(r)["code"] == "PRECONDITION_FAILED"
    assert error(r)["details"]["paid"] == 10000 and error(r)["details"]["refunded"] == 0
    refund(client, org, booking["id"], 6000)
    assert move(client, org, booking["id"], "refunded").status_code == 409
    refund(client, org, booking["id"], 4000)
    r = move(client, org, booking["id"], "refunded")
    assert r.status_code == 200 and r.json()["booking"]["payment_status"] == "refunded"


def test_refunded_without_any_money_in_needs_no_refund(client, org, booking):
    walk_to(client, org, booking, "payment_pending")
    assert move(client, org, booking["id"], "refunded").status_code == 200


def test_the_guard_holds_for_the_owner_too(client, org, booking):
    walk_to(client, org, booking, "payment_pending")
    assert move(client, org, booking["id"], "payment_confirmed", role="owner").status_code == 409


def test_non_money_statuses_have_no_ledger_guard(client, org, booking):
    walk_to(client, org, booking, "payment_confirmed")
    refund(client, org, booking["id"], 10000)
    assert move(client, org, booking["id"], "supplier_confirmed").status_code == 200


# --- lifecycle idempotency keys ---------------------------------------------------------------


def test_a_replayed_key_returns_the_first_result_and_writes_nothing(client, db, org, booking):
    first = move(client, org, booking["id"], "payment_pending", idempotency_key="k-1").json()
    audit_before = audit_actions(client, org, "booking", booking["id"])
    again = move(client, org, booking["id"], "payment_pending", idempotency_key="k-1")
    assert again.status_code == 200
    body = again.json()
    assert body["replayed"] is True and body["event"] == first["event"]
    assert body["booking"]["status"] == "payment_pending"
    assert statuses(client, org, booking["id"]) == ["booking_created", "payment_pending"]
    assert audit_actions(client, org, "booking", booking["id"]) == audit_before


def test_a_replayed_key_wins_over_a_different_target(client, org, booking):
    move(client, org, booking["id"], "payment_pending", idempotency_key="k-2")
    r = move(client, org, booking["id"], "cancelled", idempotency_key="k-2")
    assert r.status_code == 200 and r.json()["replayed"] is True
    assert r.json()["event"]["to_status"] == "payment_pending"
    assert get_booking(client, org, booking["id"])["status"] == "payment_pending"


def test_a_replayed_cancel_returns_no_seats_twice(client, db, org, dep, booking):
    other = create_booking(client, org, dep, adults=3)
    for _ in range(2):
        r = move(client, org, booking["id"], "cancelled", idempotency_key="cancel-once")
        assert r.status_code == 200
    assert seats_taken(db, org.id, dep.schedule_id) == 3 == other["held_seats"]


def test_the_same_key_on_another_booking_is_a_new_transition(client, org, dep, booking):
    other = create_booking(client, org, dep)
    move(client, org, booking["id"], "payment_pending", idempotency_key="shared")
    r = move(client, org, other["id"], "payment_pending", idempotency_key="shared")
    assert r.status_code == 200 and r.json()["replayed"] is False


def test_the_key_is_stored_on_the_event(client, org, booking):
    move(client, org, booking["id"], "payment_pending", idempotency_key="webhook:evt_1")
    assert events(client, org, booking["id"])[-1]["idempotency_key"] == "webhook:evt_1"


def test_a_key_used_by_a_refused_transition_stays_free(client, org, booking):
    assert move(client, org, booking["id"], "completed", idempotency_key="k-3").status_code == 409
    r = move(client, org, booking["id"], "payment_pending", idempotency_key="k-3")
    assert r.status_code == 200 and r.json()["replayed"] is False


# --- stage (seed 004) -----------------------------------------------------------------------------


def test_changing_the_stage_is_a_lifecycle_transition(client, org, booking):
    r = stage(client, org, booking["id"], "payment_pending", role="manager")
    assert r.status_code == 200 and r.json()["booking"]["status"] == "payment_pending"
    assert statuses(client, org, booking["id"])[-1] == "payment_pending"


def test_a_stage_not_allowed_by_the_table_is_409_invalid_transition(client, org, booking):
    r = stage(client, org, booking["id"], "documents_generated")
    assert r.status_code == 409 and error(r)["details"]["from"] == "booking_created"


def test_an_accountant_changes_only_money_stages(client, org, booking):
    assert (
        stage(client, org, booking["id"], "payment_pending", role="accountant").status_code == 403
    )
    walk_to(client, org, booking, "payment_pending")
    pay(client, org, booking["id"], booking["total"])
    assert (
        stage(client, org, booking["id"], "payment_confirmed", role="accountant").status_code == 200
    )


def test_a_stage_change_is_guarded_by_the_ledger(client, org, booking):
    walk_to(client, org, booking, "payment_pending")
    r = stage(client, org, booking["id"], "payment_confirmed")
    assert r.status_code == 409 and error(r)["code"] == "PRECONDITION_FAILED"


def test_a_stage_change_replays_by_idempotency_key_header(client, org, booking):
    stage(client, org, booking["id"], "payment_pending", **{"Idempotency-Key": "st-1"})
    r = stage(client, org, booking["id"], "payment_pending", **{"Idempotency-Key": "st-1"})
    assert r.status_code == 200 and r.json()["replayed"] is True
    assert statuses(client, org, booking["id"]).count("payment_pending") == 1


def test_an_unknown_stage_is_422_at_stage(client, org, booking):
    r = stage(client, org, booking["id"], "contacted")
    assert [f["path"] for f in error(r)["details"]["fields"]] == [["stage"]]


# --- owner (seed 004) -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_changing_the_owner_follows_the_permission_table(client, org, booking, role):
    r = owner(client, org, booking["id"], org.user_ids["manager"], role=role)
    assert r.status_code == (200 if role in ("owner", "admin", "manager") else 403), r.text


def test_the_new_owner_is_the_assigned_staff_member_and_audited(client, org, booking):
    r = owner(client, org, booking["id"], org.user_ids["admin"], role="manager")
    assert r.json()["assigned_to"] == org.user_ids["admin"]
    assert audit_actions(client, org, "booking", booking["id"])[-1] == "booking.assigned"


def test_a_null_owner_unassigns_the_booking(client, org, booking):
    assert owner(client, org, booking["id"], None).json()["assigned_to"] is None


def test_setting_the_same_owner_again_writes_no_audit_entry(client, org, booking):
    owner(client, org, booking["id"], org.user_ids["staff"])
    assert "booking.assigned" not in audit_actions(client, org, "booking", booking["id"])


@pytest.mark.parametrize("who", ["guide", "reseller"])
def test_a_guide_or_reseller_cannot_own_a_booking(client, org, booking, who):
    r = owner(client, org, booking["id"], org.user_ids[who])
    assert r.status_code == 422
    assert [f["path"] for f in error(r)["details"]["fields"]] == [["owner_id"]]


def test_another_organizations_user_cannot_own_a_booking(client, org, other_org, booking):
    r = owner(client, org, booking["id"], other_org.user_ids["staff"])
    assert r.status_code == 422


def test_the_owner_field_is_required(client, org, booking):
    r = client.patch(
        f"/api/v1/bookings/{booking['id']}/owner", headers=org.headers("manager"), json={}
    )
    assert r.status_code == 422


def test_staff_see_a_booking_they_no_longer_own_as_404(client, org, booking):
    owner(client, org, booking["id"], org.user_ids["manager"])
    r = client.get(f"/api/v1/bookings/{booking['id']}", headers=org.headers("staff"))
    assert r.status_code == 404


# --- cancel ---------------------------------------------------------------------------------------


def test_cancelling_records_the_reason_and_returns_the_seats(client, db, org, dep, booking):
    r = cancel(client, org, booking["id"], role="manager", reason="weather")
    assert r.status_code == 200
    b = r.json()["booking"]
    assert (b["status"], b["cancel_reason"], b["held_seats"]) == ("cancelled", "weather", 0)
    assert r.json()["event"]["metadata"] == {"reason": "weather"}
    assert seats_taken(db, org.id, dep.schedule_id) == 0


def test_cancelling_needs_a_reason(client, org, booking):
    r = client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=org.headers(), json={})
    assert r.status_code == 422
    assert [f["path"] for f in error(r)["details"]["fields"]] == [["reason"]]


def test_cancelling_is_audited_as_a_status_change(client, org, booking):
    cancel(client, org, booking["id"])
    assert audit_actions(client, org, "booking", booking["id"])[-1] == "booking.status_changed"


def test_a_cancel_replays_by_idempotency_key_header(client, org, booking):
    cancel(client, org, booking["id"], **{"Idempotency-Key": "c-1"})
    r = cancel(client, org, booking["id"], **{"Idempotency-Key": "c-1"})
    assert r.status_code == 200 and r.json()["replayed"] is True


def test_a_cancel_reason_in_metadata_that_is_not_text_is_not_a_server_error(client, org, booking):
    r = move(
        client, org, booking["id"], "cancelled", note="by phone", metadata={"reason": {"code": 7}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["booking"]["cancel_reason"] == "by phone"


def test_a_long_cancel_note_is_accepted_on_every_database(client, org, booking):
    r = move(client, org, booking["id"], "cancelled", note="x" * 5000)
    assert r.status_code == 200, r.text
    assert len(r.json()["booking"]["cancel_reason"]) <= 500


# --- seats come back as PRODUCT.md says ---------------------------------------------------------


def test_cancelling_at_any_live_status_returns_the_seats(client, db, org, dep):
    for status in [
        "booking_created",
        "payment_pending",
        "payment_confirmed",
        "supplier_confirmed",
        "documents_generated",
    ]:
        b = create_booking(client, org, dep, adults=2)
        walk_to(client, org, b, status)
        assert cancel(client, org, b["id"]).status_code == 200
    assert seats_taken(db, org.id, dep.schedule_id) == 0


def test_refunded_before_the_tour_starts_returns_the_seats(client, db, org, dep, booking):
    walk_to(client, org, booking, "payment_confirmed")
    refund(client, org, booking["id"], booking["total"])
    r = move(client, org, booking["id"], "refunded")
    assert r.status_code == 200 and r.json()["booking"]["held_seats"] == 0
    assert seats_taken(db, org.id, dep.schedule_id) == 0


def test_refunded_after_the_tour_started_keeps_the_seats(client, db, org, dep, booking):
    walk_to(client, org, booking, "documents_generated")
    started = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    set_schedule(db, org.id, dep.schedule_id, starts_at=started)
    refund(client, org, booking["id"], booking["total"])
    assert move(client, org, booking["id"], "refunded").status_code == 200
    assert seats_taken(db, org.id, dep.schedule_id) == 2


@pytest.mark.parametrize("end", ["completed", "no_show"])
def test_completed_and_no_show_keep_the_seats(client, db, org, dep, booking, end):
    b = walk_to(client, org, booking, end)
    assert (b["status"], b["held_seats"]) == (end, 2)
    assert seats_taken(db, org.id, dep.schedule_id) == 2


@pytest.mark.parametrize("end", ["completed", "no_show"])
def test_refunding_a_completed_or_no_show_booking_keeps_the_seats(
    client, db, org, dep, booking, end
):
    walk_to(client, org, booking, end)
    refund(client, org, booking["id"], booking["total"])
    assert move(client, org, booking["id"], "refunded").status_code == 200
    assert seats_taken(db, org.id, dep.schedule_id) == 2


def test_refunding_a_cancelled_booking_returns_nothing_twice(client, db, org, dep, booking):
    other = create_booking(client, org, dep, adults=1)
    walk_to(client, org, booking, "cancelled")
    assert move(client, org, booking["id"], "refunded").status_code == 200
    assert seats_taken(db, org.id, dep.schedule_id) == other["held_seats"] == 1


def test_cancelled_seats_can_be_booked_again(client, db, org):
    dep = make_departure(db, org.id, capacity=2)
    b = create_booking(client, org, dep, adults=2)
    cancel(client, org, b["id"])
    create_booking(client, org, dep, adults=2)
    assert seats_taken(db, org.id, dep.schedule_id) == 2


def test_the_seat_counter_matches_held_seats_through_a_mixed_history(client, db, org, dep):
    a = create_booking(client, org, dep, adults=3)
    b = create_booking(client, org, dep, adults=2)
    c = create_booking(client, org, dep, adults=1)
    cancel(client, org, a["id"])
    walk_to(client, org, b, "completed")
    walk_to(client, org, c, "payment_pending")
    move(client, org, c["id"], "refunded")
    assert seats_taken(db, org.id, dep.schedule_id) == held_seats_sum(db, org.id, dep.schedule_id)
    assert seats_taken(db, org.id, dep.schedule_id) == 2


def test_cancelling_a_booking_on_a_closed_schedule_still_returns_its_seats(
    client, db, org, dep, booking
):
    set_schedule(db, org.id, dep.schedule_id, status="closed")
    assert cancel(client, org, booking["id"]).status_code == 200
    assert seats_taken(db, org.id, dep.schedule_id) == 0


# --- events ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_reading_events_follows_the_permission_table(client, db, org, dep, booking, role):
    lead_schedule(db, org, dep.schedule_id)
    r = client.get(f"/api/v1/bookings/{booking['id']}/events", headers=org.headers(role))
    assert r.status_code == (403 if role == "reseller" else 200), r.text


def test_events_of_a_booking_not_assigned_to_staff_are_404(client, org, dep):
    theirs = create_booking(client, org, dep)
    r = client.get(f"/api/v1/bookings/{theirs['id']}/events", headers=org.headers("staff"))
    assert r.status_code == 404


def test_events_are_stored_with_the_booking_and_the_organization(client, db, org, booking):
    move(client, org, booking["id"], "payment_pending")
    from sqlalchemy import select

    with db(write=False, organization_id=org.id) as s:
        rows = list(
            s.scalars(select(LifecycleEvent).where(LifecycleEvent.booking_id == booking["id"]))
        )
    assert {r.organization_id for r in rows} == {org.id} and len(rows) == 2


# --- another organization's booking is 404 on every {id} route -----------------------------------

ROUTES = [
    ("GET", "/api/v1/bookings/{id}", None),
    ("PATCH", "/api/v1/bookings/{id}", {"notes": "x"}),
    ("POST", "/api/v1/bookings/{id}/transitions", {"to_status": "payment_pending"}),
    ("PATCH", "/api/v1/bookings/{id}/stage", {"stage": "payment_pending"}),
    ("PATCH", "/api/v1/bookings/{id}/owner", {"owner_id": None}),
    ("POST", "/api/v1/bookings/{id}/cancel", {"reason": "x"}),
    ("GET", "/api/v1/bookings/{id}/events", None),
    ("POST", "/api/v1/bookings/{id}/payments/manual", {"amount": 100}),
    ("POST", "/api/v1/bookings/{id}/refunds/manual", {"amount": 100, "reason": "x"}),
]


@pytest.mark.parametrize("method,path,body", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_another_organizations_booking_is_404_on_every_route(
    client, db, org, other_org, method, path, body
):
    theirs_dep = make_departure(db, other_org.id)
    theirs = create_booking(client, other_org, theirs_dep)
    pay(client, other_org, theirs["id"], 500)
    r = client.request(
        method, path.format(id=theirs["id"]), headers=org.headers("owner"), json=body
    )
    assert r.status_code == 404 and error(r)["code"] == "NOT_FOUND"
    after = get_booking(client, other_org, theirs["id"])
    assert (after["status"], after["notes"], after["paid"]) == ("booking_created", None, 500)


@pytest.mark.parametrize("method,path,body", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_an_unknown_booking_id_is_404_on_every_route(client, org, method, path, body):
    r = client.request(
        method, path.format(id="no-such-booking"), headers=org.headers("owner"), json=body
    )
    assert r.status_code == 404
