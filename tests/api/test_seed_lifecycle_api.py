"""Seed 000 §3, exactly: POST /api/core/booking-lifecycle with camelCase fields, the
{ok, data|error, requestId} envelope for every answer, actors that must be the caller, and the
same engine, guards and idempotency keys as /api/v1."""

import pytest
from sqlalchemy import update

from tests.booking_builders import (
    audit_actions,
    create_booking,
    get_booking,
    make_departure,
    move,
    pay,
    seats_taken,
    service_key,
    walk_to,
)
from tos.bookings.models import Booking

URL = "/api/core/booking-lifecycle"
ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id)


@pytest.fixture
def booking(client, org, dep):
    return create_booking(client, org, dep, adults=2, assigned_to=org.user_ids["staff"])


def call(client, headers, booking_id, to_status, actor_type="user", **fields):
    body = {"bookingId": booking_id, "toStatus": to_status, "actorType": actor_type, **fields}
    return client.post(URL, headers=headers, json=body)


def as_role(client, org, booking_id, to_status, role="owner", **fields):
    return call(client, org.headers(role), booking_id, to_status, **fields)


def assert_error(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"ok", "error", "requestId"}
    assert body["ok"] is False and body["error"]["code"] == code
    assert body["requestId"] == r.headers["x-request-id"]
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


# --- success -----------------------------------------------------------------------------------


def test_a_transition_answers_ok_with_booking_event_and_request_id(client, org, booking):
    r = as_role(
        client,
        org,
        booking["id"],
        "payment_pending",
        note="link sent",
        idempotencyKey="seed-1",
        metadata={"channel": "email"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and set(body) == {"ok", "data", "requestId"}
    assert body["requestId"] == r.headers["x-request-id"]
    data = body["data"]
    assert data["replayed"] is False
    assert data["booking"] == {
        "id": booking["id"],
        "reference": booking["reference"],
        "status": "payment_pending",
        "paymentStatus": "unpaid",
    }
    ev = data["event"]
    assert set(ev) == {
        "id",
        "bookingId",
        "fromStatus",
        "toStatus",
        "actorType",
        "actorId",
        "note",
        "idempotencyKey",
        "metadata",
        "createdAt",
    }
    assert (ev["bookingId"], ev["fromStatus"], ev["toStatus"]) == (
        booking["id"],
        "booking_created",
        "payment_pending",
    )
    assert (ev["actorType"], ev["actorId"]) == ("user", org.user_ids["owner"])
    assert (ev["note"], ev["idempotencyKey"], ev["metadata"]) == (
        "link sent",
        "seed-1",
        {"channel": "email"},
    )


def test_the_request_id_sent_by_the_client_is_echoed(client, org, booking):
    headers = org.headers() | {"X-Request-ID": "trace-abc"}
    r = call(client, headers, booking["id"], "payment_pending")
    assert r.json()["requestId"] == "trace-abc"


def test_the_change_is_the_same_as_through_api_v1(client, org, booking):
    as_role(client, org, booking["id"], "payment_pending")
    assert get_booking(client, org, booking["id"])["status"] == "payment_pending"
    events = client.get(f"/api/v1/bookings/{booking['id']}/events", headers=org.headers()).json()
    assert [e["to_status"] for e in events] == ["booking_created", "payment_pending"]
    assert audit_actions(client, org, "booking", booking["id"])[-1] == "booking.status_changed"


def test_a_matching_actor_id_is_accepted(client, org, booking):
    r = as_role(client, org, booking["id"], "payment_pending", actorId=org.user_ids["owner"])
    assert r.status_code == 200


def test_a_null_actor_id_means_the_caller(client, org, booking):
    r = as_role(client, org, booking["id"], "payment_pending", actorId=None)
    assert r.json()["data"]["event"]["actorId"] == org.user_ids["owner"]


def test_seed_000s_own_example_works_for_a_webhook_service_user(client, org, booking):
    walk_to(client, org, booking, "payment_pending")
    pay(client, org, booking["id"], booking["total"])
    svc = service_key(client, org, role="accountant", actor_type="webhook")
    r = call(
        client,
        svc["headers"],
        booking["id"],
        "payment_confirmed",
        actor_type="webhook",
        actorId=None,
        note="Razorpay webhook confirmed",
        idempotencyKey="webhook:evt_123",
        metadata={"provider": "razorpay", "paymentId": "pay_abc123"},
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["booking"]["status"] == "payment_confirmed"
    assert data["booking"]["paymentStatus"] == "paid"
    assert (data["event"]["actorType"], data["event"]["actorId"]) == ("webhook", svc["user_id"])


def test_payment_status_in_the_answer_matches_the_booking_read(client, db, org, booking):
    pay(client, org, booking["id"], 100)
    with db(write=True, organization_id=org.id) as s:
        s.execute(update(Booking).where(Booking.id == booking["id"]).values(flags=["disputed"]))
        s.commit()
    r = as_role(client, org, booking["id"], "payment_pending")
    assert r.json()["data"]["booking"]["paymentStatus"] == "disputed"
    assert get_booking(client, org, booking["id"])["payment_status"] == "disputed"


# --- actors are the caller, never a claim ---------------------------------------------------------


@pytest.mark.parametrize("claimed", ["webhook", "system", "channel", "customer", "admin", ""])
def test_a_user_claiming_another_actor_type_is_403(client, org, booking, claimed):
    r = as_role(client, org, booking["id"], "payment_pending", actor_type=claimed)
    err = assert_error(r, 403, "FORBIDDEN")
    assert err["details"]["caller"]["actorType"] == "user"
    assert get_booking(client, org, booking["id"])["status"] == "booking_created"


def test_a_user_claiming_another_users_id_is_403(client, org, booking):
    r = as_role(client, org, booking["id"], "payment_pending", actorId=org.user_ids["admin"])
    assert_error(r, 403, "FORBIDDEN")
    assert audit_actions(client, org, "booking", booking["id"]) == ["booking.created"]


def test_a_webhook_service_user_claiming_to_be_a_user_is_403(client, org, booking):
    svc = service_key(client, org, role="admin", actor_type="webhook")
    r = call(client, svc["headers"], booking["id"], "payment_pending", actor_type="user")
    assert_error(r, 403, "FORBIDDEN")


def test_a_system_service_user_may_not_claim_webhook(client, org, booking):
    svc = service_key(client, org, role="admin", actor_type="system")
    r = call(client, svc["headers"], booking["id"], "payment_pending", actor_type="webhook")
    assert_error(r, 403, "FORBIDDEN")
    r = call(client, svc["headers"], booking["id"], "payment_pending", actor_type="system")
    assert r.status_code == 200 and r.json()["data"]["event"]["actorType"] == "system"


# --- permissions and rows -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_a_non_money_transition_follows_the_permission_table(client, org, booking, role):
    r = as_role(client, org, booking["id"], "payment_pending", role=role)
    if role in ("owner", "admin", "manager", "staff"):
        assert r.status_code == 200 and r.json()["ok"] is True
    else:
        assert_error(r, 403, "FORBIDDEN")


@pytest.mark.parametrize("role", ALL_ROLES)
def test_a_money_transition_follows_the_permission_table(client, org, booking, role):
    walk_to(client, org, booking, "payment_pending")
    pay(client, org, booking["id"], booking["total"])
    r = as_role(client, org, booking["id"], "payment_confirmed", role=role)
    if role in ("owner", "admin", "accountant"):
        assert r.status_code == 200
    else:
        assert_error(r, 403, "FORBIDDEN")


def test_staff_moving_a_booking_not_assigned_to_them_get_404(client, org, dep):
    theirs = create_booking(client, org, dep, assigned_to=org.user_ids["manager"])
    assert_error(
        as_role(client, org, theirs["id"], "payment_pending", role="staff"), 404, "NOT_FOUND"
    )


def test_another_organizations_booking_is_404_in_the_envelope(client, db, org, other_org):
    theirs = create_booking(client, other_org, make_departure(db, other_org.id))
    assert_error(as_role(client, org, theirs["id"], "cancelled"), 404, "NOT_FOUND")
    assert get_booking(client, other_org, theirs["id"])["status"] == "booking_created"


def test_an_unknown_booking_is_404_in_the_envelope(client, org):
    assert_error(as_role(client, org, "nope", "cancelled"), 404, "NOT_FOUND")


def test_without_a_key_the_answer_is_401_in_the_envelope(client, booking):
    r = client.post(
        URL, json={"bookingId": booking["id"], "toStatus": "cancelled", "actorType": "user"}
    )
    assert_error(r, 401, "UNAUTHENTICATED")


# --- the table and the guards ----------------------------------------------------------------


def test_a_forbidden_transition_is_409_invalid_transition_in_the_envelope(client, org, booking):
    err = assert_error(as_role(client, org, booking["id"], "completed"), 409, "INVALID_TRANSITION")
    assert err["details"] == {
        "from": "booking_created",
        "to": "completed",
        "allowed": ["cancelled", "payment_pending"],
    }


def test_an_unmet_guard_is_409_precondition_failed_in_the_envelope(client, org, booking):
    walk_to(client, org, booking, "payment_pending")
    err = assert_error(
        as_role(client, org, booking["id"], "payment_confirmed"), 409, "PRECONDITION_FAILED"
    )
    assert err["details"]["required"] == booking["total"]


def test_cancelling_through_seed_000_returns_the_seats(client, db, org, dep, booking):
    as_role(client, org, booking["id"], "cancelled", metadata={"reason": "no longer needed"})
    assert seats_taken(db, org.id, dep.schedule_id) == 0
    assert get_booking(client, org, booking["id"])["cancel_reason"] == "no longer needed"


# --- validation in the envelope ------------------------------------------------------------------


def fields(err) -> list:
    return [f["path"] for f in err["details"]["fields"]]


def test_a_missing_to_status_is_422_in_the_envelope_with_its_path(client, org, booking):
    r = client.post(
        URL, headers=org.headers(), json={"bookingId": booking["id"], "actorType": "user"}
    )
    err = assert_error(r, 422, "VALIDATION_ERROR")
    assert fields(err) == [["toStatus"]]


def test_an_unknown_status_is_422_at_to_status(client, org, booking):
    err = assert_error(as_role(client, org, booking["id"], "shipped"), 422, "VALIDATION_ERROR")
    assert fields(err) == [["toStatus"]]


def test_a_missing_actor_type_is_422(client, org, booking):
    r = client.post(
        URL, headers=org.headers(), json={"bookingId": booking["id"], "toStatus": "cancelled"}
    )
    assert fields(assert_error(r, 422, "VALIDATION_ERROR")) == [["actorType"]]


def test_snake_case_fields_are_not_the_seeds_and_are_422(client, org, booking):
    r = client.post(
        URL,
        headers=org.headers(),
        json={"booking_id": booking["id"], "to_status": "cancelled", "actorType": "user"},
    )
    paths = fields(assert_error(r, 422, "VALIDATION_ERROR"))
    assert ["bookingId"] in paths and ["toStatus"] in paths and ["booking_id"] in paths


def test_metadata_must_be_an_object(client, org, booking):
    r = as_role(client, org, booking["id"], "cancelled", metadata=["x"])
    assert fields(assert_error(r, 422, "VALIDATION_ERROR")) == [["metadata"]]


def test_an_empty_idempotency_key_is_422(client, org, booking):
    r = as_role(client, org, booking["id"], "cancelled", idempotencyKey="")
    assert fields(assert_error(r, 422, "VALIDATION_ERROR")) == [["idempotencyKey"]]


def test_a_body_that_is_not_json_is_422_in_the_envelope(client, org):
    r = client.post(
        URL, headers=org.headers() | {"content-type": "application/json"}, content=b"not json"
    )
    assert_error(r, 422, "VALIDATION_ERROR")


# --- idempotency keys ---------------------------------------------------------------------------


def test_a_replayed_key_returns_the_first_event_and_writes_nothing(client, org, booking):
    first = as_role(client, org, booking["id"], "payment_pending", idempotencyKey="evt-1").json()
    audit_before = audit_actions(client, org, "booking", booking["id"])
    again = as_role(client, org, booking["id"], "payment_pending", idempotencyKey="evt-1")
    assert again.status_code == 200 and again.json()["ok"] is True
    data = again.json()["data"]
    assert data["replayed"] is True and data["event"] == first["data"]["event"]
    events = client.get(f"/api/v1/bookings/{booking['id']}/events", headers=org.headers()).json()
    assert len(events) == 2
    assert audit_actions(client, org, "booking", booking["id"]) == audit_before


def test_a_key_used_through_api_v1_replays_through_seed_000(client, org, booking):
    first = move(client, org, booking["id"], "payment_pending", idempotency_key="both").json()
    r = as_role(client, org, booking["id"], "payment_pending", idempotencyKey="both")
    assert r.json()["data"]["replayed"] is True
    assert r.json()["data"]["event"]["id"] == first["event"]["id"]


def test_a_replayed_webhook_confirmation_changes_nothing(client, org, booking):
    walk_to(client, org, booking, "payment_pending")
    pay(client, org, booking["id"], booking["total"])
    svc = service_key(client, org, role="accountant", actor_type="webhook")
    for _ in range(3):
        r = call(
            client,
            svc["headers"],
            booking["id"],
            "payment_confirmed",
            actor_type="webhook",
            idempotencyKey="webhook:evt_9",
        )
        assert r.status_code == 200
    events = client.get(f"/api/v1/bookings/{booking['id']}/events", headers=org.headers()).json()
    assert [e["to_status"] for e in events].count("payment_confirmed") == 1
