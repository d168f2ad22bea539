"""Seed 002 inbound sync over HTTP: the seed's payload, codes and envelope."""

from __future__ import annotations

from sqlalchemy import select

from tests.booking_builders import get_booking
from tests.channel_builders import register_site, seed_payload, sync
from tos.channels.models import SyncedBooking, SyncLog


def test_the_seeds_example_becomes_a_confirmed_tos_booking_in_minor_units(client, org):
    site = register_site(client, org)
    body = seed_payload()
    r = sync(client, site, body)
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True and r.json()["message"] == "Booking synced successfully"
    booking = get_booking(client, org, r.json()["booking_id"])
    assert booking["source"] == "sync" and booking["currency"] == "THB"
    # THB has two decimals: 8500 THB is 850000 satang; the total is as the source states it.
    assert booking["total"] == 850_000 and booking["paid"] == 850_000
    assert booking["payment_status"] == "paid"
    assert booking["status"] in ("payment_confirmed", "supplier_confirmed", "documents_generated")
    lines = {ln["name"]: ln for ln in booking["line_items"]}
    assert lines["World A+"]["quantity"] == 2 and lines["World A+"]["unit_amount"] == 349_000
    assert lines["Souvenir T-Shirt"]["amount"] == 70_000
    assert sum(ln["amount"] for ln in booking["line_items"]) == booking["total"]
    assert [e["kind"] for e in booking["ledger"]] == ["external"]
    assert booking["special_requests"] == "Vegetarian lunch please"


def test_a_retried_create_answers_the_same_booking_and_a_different_one_is_a_duplicate(
    client, org, db
):
    site = register_site(client, org)
    body = seed_payload()
    first = sync(client, site, body).json()
    # Same payload, other key order: the same booking, nothing new.
    again = sync(client, site, dict(reversed(list(body.items()))))
    assert again.status_code == 200 and again.json()["booking_id"] == first["booking_id"]
    other = sync(client, site, {**body, "guest_count": 3})
    assert other.status_code == 409
    assert other.json()["success"] is False and other.json()["code"] == "DUPLICATE_BOOKING"
    with db(organization_id=org.id) as s:
        assert len(s.scalars(select(SyncedBooking)).all()) == 1
        logs = s.scalars(select(SyncLog).order_by(SyncLog.created_at)).all()
        assert [log.status for log in logs] == ["success", "success", "failed"]


def test_auth_and_payload_errors_use_the_seeds_codes(client, org):
    site = register_site(client, org)
    r = client.post("/api/bookings/sync", json=seed_payload())
    assert r.status_code == 401 and r.json()["code"] == "AUTH_FAILED"
    r = client.post("/api/bookings/sync", headers={"X-API-Key": "nope"}, json=seed_payload())
    assert r.status_code == 401 and r.json() == {
        "success": False,
        "error": "Invalid API key",
        "code": "AUTH_FAILED",
    }
    bad = seed_payload(guest_count=0, customer={"name": "x", "email": "bad"})
    r = sync(client, site, bad)
    assert r.status_code == 422 and r.json()["code"] == "INVALID_PAYLOAD"
    paths = {tuple(f["path"]) for f in r.json()["details"]["fields"]}
    assert ("guest_count",) in paths and ("customer", "email") in paths
    # The refused payload is in the website's sync log, with what was wrong.
    logs = client.get(
        "/api/v1/sync-logs",
        headers=org.headers("admin"),
        params={"website": site.slug, "status": "failed"},
    ).json()["items"]
    assert logs[0]["payload"]["source_booking_id"] == bad["source_booking_id"]
    assert "guest_count" in logs[0]["error_message"]
    r = sync(
        client,
        site,
        {"event": "booking.updated", "source_booking_id": "never-seen", "status": "cancelled"},
    )
    assert r.status_code == 422 and "never-seen" in r.json()["error"]


def test_a_deactivated_websites_key_is_website_not_found(client, org):
    site = register_site(client, org)
    r = client.delete(f"/api/v1/websites/{site.slug}", headers=org.headers("admin"))
    assert r.status_code == 200, r.text
    r = sync(client, site, seed_payload())
    assert r.status_code == 404 and r.json()["code"] == "WEBSITE_NOT_FOUND"


def test_update_cancel_and_refund_walk_the_lifecycle_and_the_ledger(client, org):
    site = register_site(client, org)
    body = seed_payload(status="pending")
    booking_id = sync(client, site, body).json()["booking_id"]
    assert get_booking(client, org, booking_id)["status"] == "booking_created"
    src = body["source_booking_id"]
    r = sync(
        client,
        site,
        {
            "event": "booking.updated",
            "source_booking_id": src,
            "status": "confirmed",
            "total_amount": 9000,
        },
    )
    assert r.status_code == 200, r.text
    b = get_booking(client, org, booking_id)
    assert b["total"] == 900_000 and b["paid"] == 900_000 and b["payment_status"] == "paid"
    # Replaying the same update changes nothing.
    sync(
        client,
        site,
        {
            "event": "booking.updated",
            "source_booking_id": src,
            "status": "confirmed",
            "total_amount": 9000,
        },
    )
    assert len(get_booking(client, org, booking_id)["ledger"]) == 1
    # A partial refund (cumulative amount) keeps the booking; the rest refunds it in full.
    r = sync(
        client,
        site,
        {
            "event": "booking.refunded",
            "source_booking_id": src,
            "refund_amount": 1000,
            "status": "confirmed",
        },
    )
    assert r.status_code == 200, r.text
    b = get_booking(client, org, booking_id)
    assert b["refunded"] == 100_000 and b["payment_status"] == "partially_refunded"
    assert b["status"] != "refunded"
    sync(
        client,
        site,
        {
            "event": "booking.refunded",
            "source_booking_id": src,
            "refund_amount": 1000,
            "status": "confirmed",
        },
    )  # replayed: no change
    assert get_booking(client, org, booking_id)["refunded"] == 100_000
    r = sync(client, site, {"event": "booking.refunded", "source_booking_id": src})
    b = get_booking(client, org, booking_id)
    assert r.status_code == 200 and b["status"] == "refunded" and b["refunded"] == 900_000
    kinds = sorted(e["kind"] for e in b["ledger"])
    assert kinds == ["external", "external_refund", "external_refund"]


def test_out_of_order_and_stale_events(client, org):
    site = register_site(client, org)
    body = seed_payload()
    src = body["source_booking_id"]
    # The cancellation overtook the creation: complete, so it creates the booking cancelled.
    r = sync(client, site, {**body, "event": "booking.cancelled", "reason": "flight change"})
    assert r.status_code == 200, r.text
    b = get_booking(client, org, r.json()["booking_id"])
    assert b["status"] == "cancelled" and b["cancel_reason"] == "flight change"
    # The late creation is not the payload that created it: a duplicate, nothing changes.
    late = sync(client, site, body)
    assert late.status_code == 409 and late.json()["code"] == "DUPLICATE_BOOKING"
    # A stale "confirmed" after the cancellation cannot un-cancel it.
    stale = sync(
        client, site, {"event": "booking.updated", "source_booking_id": src, "status": "confirmed"}
    )
    assert stale.status_code == 409 and stale.json()["code"] == "INVALID_TRANSITION"
    assert get_booking(client, org, b["id"])["status"] == "cancelled"


def test_amounts_convert_by_the_currencys_exponent(client, org):
    site = register_site(client, org)
    jpy = sync(client, site, seed_payload(currency="JPY", package_price=3490, total_amount=8500))
    assert get_booking(client, org, jpy.json()["booking_id"])["total"] == 8500  # no decimals
    usd = sync(
        client, site, seed_payload(currency="USD", package_price=34.9, total_amount=85.5, addons=[])
    )
    assert get_booking(client, org, usd.json()["booking_id"])["total"] == 8550
    bad = sync(client, site, seed_payload(currency="JPY", total_amount=10.5))
    assert bad.status_code == 422 and bad.json()["details"]["fields"][0]["path"] == ["total_amount"]
    listed = client.get(
        "/api/bookings",
        headers=org.headers("admin"),
        params={"website": site.slug, "search": "HW-000023"},
    ).json()
    totals = sorted(b["total_amount"] for b in listed["bookings"])
    assert listed["success"] is True and totals == [85.5, 8500]


def test_an_update_may_send_only_the_customer_fields_that_changed(client, org):
    site = register_site(client, org)
    body = seed_payload()
    booking_id = sync(client, site, body).json()["booking_id"]
    r = sync(
        client,
        site,
        {
            "event": "booking.updated",
            "source_booking_id": body["source_booking_id"],
            "customer": {"phone": "+66812345678"},
        },
    )
    assert r.status_code == 200, r.text
    assert get_booking(client, org, booking_id)["customer"]["email"] == "john@example.com"
    # The website's view keeps every field it sent, the changed one merged in (the CRM record
    # keeps what it knew: a booking form never overwrites a known phone).
    listed = client.get(
        "/api/bookings", headers=org.headers("admin"), params={"search": body["source_booking_id"]}
    ).json()["bookings"][0]
    assert listed["customer"]["name"] == "John Doe"
    assert listed["customer"]["phone"] == "+66812345678"
    missing = sync(client, site, seed_payload(customer={"name": "No Mail"}))
    assert missing.status_code == 422
    assert missing.json()["details"]["fields"][0]["path"] == ["customer", "email"]


def test_a_website_never_refunds_more_than_came_in(client, org):
    site = register_site(client, org)
    body = seed_payload(total_amount=1000, addons=[])
    booking_id = sync(client, site, body).json()["booking_id"]
    r = sync(client, site, {"event": "booking.refunded",
                            "source_booking_id": body["source_booking_id"],
                            "refund_amount": 99_999})  # fmt: skip
    assert r.status_code == 200, r.text
    b = get_booking(client, org, booking_id)
    assert b["paid"] == b["refunded"] == 100_000 and b["status"] == "refunded"
