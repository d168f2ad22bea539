"""A reseller's whole journey over OCTO: products -> calendar -> availability -> reserve ->
extend -> confirm -> amend -> cancel, and what each step does to seats, the lifecycle, the
ledger, the manifest and the audit trail."""

import datetime as dt

import pytest
from sqlalchemy import select

from tests.booking_builders import audit_actions, held_seats_sum, seats_taken
from tests.octo_builders import BOTH, make_product, make_reseller, octo_error, reserve_body
from tos.bookings.models import Booking, LifecycleEvent
from tos.core import clock
from tos.octo.models import OctoBooking
from tos.payments.models import LedgerEntry


@pytest.fixture
def reseller(db, org):
    return make_reseller(db, org.id, commission_bps=2000)


@pytest.fixture
def product(db, org):
    return make_product(db, org.id, capacity=10, days=3)


def _ledger(db, org_id: str, booking_id: str) -> list[tuple[str, int]]:
    with db(write=False, organization_id=org_id) as session:
        rows = session.execute(
            select(LedgerEntry.kind, LedgerEntry.amount)
            .where(LedgerEntry.booking_id == booking_id)
            .order_by(LedgerEntry.created_at)
        )
        return [(k, a) for k, a in rows]


def _statuses(db, org_id: str, booking_id: str) -> list[str]:
    with db(write=False, organization_id=org_id) as session:
        return list(session.scalars(
            select(LifecycleEvent.to_status).where(LifecycleEvent.booking_id == booking_id)
            .order_by(LifecycleEvent.created_at)
        ))  # fmt: skip


def test_the_whole_reseller_flow(client, db, org, reseller, product):
    h = reseller.headers(BOTH)
    # products: the tour with its option and units, priced with the reseller's net
    r = client.get("/octo/products", headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["Octo-Capabilities"] == "octo/content, octo/pricing"
    (p,) = [x for x in r.json() if x["id"] == product.tour_id]
    assert p["availabilityType"] == "START_TIME"
    (opt,) = p["options"]
    assert opt["id"] == product.option_id
    units = {u["id"]: u for u in opt["units"]}
    assert units[product.adult]["type"] == "ADULT"
    assert units[product.child]["type"] == "CHILD"
    assert units[product.adult]["pricingFrom"][0]["retail"] == 5000
    assert units[product.adult]["pricingFrom"][0]["net"] == 4000  # 20 % commission

    # calendar, then the day's availability
    first = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    last = (dt.date.today() + dt.timedelta(days=8)).isoformat()
    base = {"productId": product.tour_id, "optionId": product.option_id}
    r = client.post("/octo/availability/calendar", headers=h,
                    json=base | {"localDateStart": first, "localDateEnd": last})  # fmt: skip
    assert r.status_code == 200, r.text
    days = r.json()
    assert [d["localDate"] for d in days][0] == first and len(days) == 4
    assert [d["status"] for d in days] == ["AVAILABLE", "AVAILABLE", "AVAILABLE", "CLOSED"]
    assert days[0]["vacancies"] == 10
    r = client.post("/octo/availability", headers=h,
                    json=base | {"localDateStart": first, "localDateEnd": first})  # fmt: skip
    assert r.status_code == 200, r.text
    (slot,) = r.json()
    assert slot["id"] == product.slots[0] and slot["status"] == "AVAILABLE"
    assert slot["localDateTimeStart"].startswith(f"{first}T09:00:00")

    # reserve: ON_HOLD, seats taken, a partner booking with an expiry
    body = reserve_body(product, adults=2, children=1, resellerReference="R-1",
                        expirationMinutes=15)  # fmt: skip
    r = client.post("/octo/bookings", headers=h, json=body)
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["status"] == "ON_HOLD" and b["utcExpiresAt"] is not None
    assert b["resellerReference"] == "R-1" and len(b["unitItems"]) == 3
    assert b["pricing"]["retail"] == 12500 and b["pricing"]["net"] == 10000
    assert seats_taken(db, org.id, product.slots[0]) == 3
    with db(write=False, organization_id=org.id) as session:
        booking = session.scalar(select(Booking).where(Booking.id == b["id"]))
        assert (booking.source, booking.status) == ("partner", "booking_created")
    r = client.post("/octo/availability", headers=h,
                    json=base | {"availabilityIds": [product.slots[0]]})  # fmt: skip
    assert r.json()[0]["vacancies"] == 7

    # extend
    r = client.post(f"/octo/bookings/{b['uuid']}/extend", headers=h,
                    json={"expirationMinutes": 60})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["utcExpiresAt"] > b["utcExpiresAt"]

    # confirm: the reseller owes it; booking_created -> payment_pending -> payment_confirmed
    contact = {"fullName": "Ana Silva", "emailAddress": "ana@example.com", "locales": ["pt"]}
    r = client.post(f"/octo/bookings/{b['uuid']}/confirm", headers=h,
                    json={"contact": contact, "resellerReference": "R-1b"})  # fmt: skip
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["status"] == "CONFIRMED" and c["utcConfirmedAt"] and c["utcExpiresAt"] is None
    assert c["resellerReference"] == "R-1b"
    assert c["contact"]["emailAddress"] == "ana@example.com" and c["contact"]["postalCode"] is None
    assert c["voucher"]["deliveryOptions"][0]["deliveryValue"] == c["supplierReference"]
    assert _ledger(db, org.id, b["id"]) == [("on_account", 12500)]
    assert _statuses(db, org.id, b["id"])[-2:] == ["payment_pending", "payment_confirmed"]
    # a confirmed OCTO booking is on the departure's manifest
    r = client.get(f"/api/v1/schedules/{product.slots[0]}/manifest", headers=org.headers())
    assert r.status_code == 200, r.text
    assert c["supplierReference"] in r.text

    # amend: to the next day, one adult less; seats move, the account follows the price
    r = client.patch(f"/octo/bookings/{b['uuid']}", headers=h, json={
        "availabilityId": product.slots[1], "notes": "window seat",
        "unitItems": [{"unitId": product.adult}, {"unitId": product.child}],
    })  # fmt: skip
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["availabilityId"] == product.slots[1] and a["notes"] == "window seat"
    assert a["status"] == "CONFIRMED" and len(a["unitItems"]) == 2
    assert seats_taken(db, org.id, product.slots[0]) == 0
    assert seats_taken(db, org.id, product.slots[1]) == 2
    assert _ledger(db, org.id, b["id"])[-1] == ("external_refund", 5000)

    # cancel: no policy on this organization, so the whole account is credited back
    r = client.post(f"/octo/bookings/{b['uuid']}/cancel", headers=h, json={"reason": "ill"})
    assert r.status_code == 200, r.text
    x = r.json()
    assert x["status"] == "CANCELLED" and x["cancellation"]["refund"] == "FULL"
    assert x["cancellation"]["reason"] == "ill" and x["cancellable"] is False
    assert seats_taken(db, org.id, product.slots[1]) == 0
    assert held_seats_sum(db, org.id, product.slots[1]) == 0
    assert _ledger(db, org.id, b["id"])[-1] == ("external_refund", 7500)
    assert _statuses(db, org.id, b["id"])[-2:] == ["cancelled", "refunded"]
    # a second cancel changes nothing
    again = client.post(f"/octo/bookings/{b['uuid']}/cancel", headers=h, json={})
    assert again.status_code == 200 and again.json()["status"] == "CANCELLED"
    assert len(_ledger(db, org.id, b["id"])) == 3

    actions = audit_actions(client, org, "octo_booking", x["id"] and _octo_id(db, org.id, b))
    assert {"octo_booking.reserved", "octo_booking.confirmed", "octo_booking.updated",
            "octo_booking.cancelled"} <= set(actions)  # fmt: skip


def _octo_id(db, org_id: str, b: dict) -> str:
    with db(write=False, organization_id=org_id) as session:
        return session.scalar(select(OctoBooking.id).where(OctoBooking.booking_id == b["id"]))


def test_reserve_is_idempotent_by_uuid(client, db, org, reseller, product):
    body = reserve_body(product, adults=2, uuid="6f0d2a52-8d0a-4a5e-9a38-3c3d1f1d2a01")
    first = client.post("/octo/bookings", headers=reseller.headers(), json=body)
    second = client.post("/octo/bookings", headers=reseller.headers(), json=body)
    assert first.status_code == second.status_code == 200, second.text
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["uuid"] == body["uuid"]
    assert seats_taken(db, org.id, product.slots[0]) == 2


def test_a_hold_expires_by_itself_and_gives_its_seats_back(client, db, org, reseller, product):
    from tests.payment_builders import drain

    h = reseller.headers()
    r = client.post("/octo/bookings", headers=h,
                    json=reserve_body(product, adults=3, expirationMinutes=1))  # fmt: skip
    b = r.json()
    assert seats_taken(db, org.id, product.slots[0]) == 3
    clock.advance(120)
    try:
        # Past its expiry the hold already reads EXPIRED, before the job has run...
        assert client.get(f"/octo/bookings/{b['uuid']}", headers=h).json()["status"] == "EXPIRED"
        r = client.post(f"/octo/bookings/{b['uuid']}/confirm", headers=h,
                        json={"contact": {"fullName": "Late"}})  # fmt: skip
        assert octo_error(r) == "UNPROCESSABLE_ENTITY"
        drain(db, org.id)
    finally:
        clock.reset()
    # ...and the job cancels it with reason `expired` and returns the seats.
    got = client.get(f"/octo/bookings/{b['uuid']}", headers=h).json()
    assert got["status"] == "EXPIRED" and got["cancellation"] is None
    assert seats_taken(db, org.id, product.slots[0]) == 0
    with db(write=False, organization_id=org.id) as session:
        booking = session.scalar(select(Booking).where(Booking.id == b["id"]))
        assert (booking.status, booking.cancel_reason) == ("cancelled", "expired")


def test_holds_count_against_capacity(client, db, org, reseller):
    product = make_product(db, org.id, capacity=4, days=1)
    h = reseller.headers()
    assert client.post("/octo/bookings", headers=h,
                       json=reserve_body(product, adults=3)).status_code == 200  # fmt: skip
    r = client.post("/octo/bookings", headers=h, json=reserve_body(product, adults=2))
    assert octo_error(r) == "UNPROCESSABLE_ENTITY"
    avail = client.post("/octo/availability", headers=h, json={
        "productId": product.tour_id, "optionId": product.option_id,
        "availabilityIds": [product.slots[0]], "units": [{"id": product.adult, "quantity": 2}],
    }).json()[0]  # fmt: skip
    assert (avail["status"], avail["vacancies"], avail["available"]) == ("LIMITED", 1, False)


def test_opening_hours_products_show_the_day_and_its_hours(client, db, org, reseller):
    product = make_product(db, org.id, availability_type="opening_hours", capacity=None, days=1)
    h = reseller.headers()
    p = client.get(f"/octo/products/{product.tour_id}", headers=h).json()
    assert p["availabilityType"] == "OPENING_HOURS" and p["allowFreesale"] is True
    day = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    (slot,) = client.post("/octo/availability", headers=h, json={
        "productId": product.tour_id, "optionId": product.option_id,
        "localDateStart": day, "localDateEnd": day,
    }).json()  # fmt: skip
    assert slot["allDay"] is True and slot["status"] == "FREESALE"
    assert slot["openingHours"] == [{"from": "09:00", "to": "11:00"}]
    assert slot["vacancies"] is None and slot["capacity"] is None
    assert slot["localDateTimeStart"].startswith(f"{day}T00:00:00")
    r = client.post("/octo/bookings", headers=h, json=reserve_body(product, adults=4))
    assert r.status_code == 200 and r.json()["freesale"] is True
