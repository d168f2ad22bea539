"""The website's own checkout over /public/v1 (seed 003's public booking.create, getByReference
and cancel): no credentials, the organization by slug, a booking shown only to its customer."""

import datetime as dt
import shutil
import subprocess
import time

import pytest

from tests.booking_builders import count_rows, make_departure, move, seats_taken
from tests.inventory_builders import set_schedule
from tests.payment_builders import drain, post_sandbox_webhook, sandbox_event
from tests.pricing_builders import make_promo, promo_uses, set_org_settings
from tos.bookings.models import Booking
from tos.core.ratelimit import Limit, Limiter, RateLimited, RedisBackend, limiter
from tos.crm.models import Customer
from tos.payments.models import Payment

CHECKOUT = "/public/v1/checkout"


@pytest.fixture(autouse=True)
def fresh_limits(monkeypatch):
    for name in ("TOS_PUBLIC_RATE_WRITE", "TOS_PUBLIC_RATE_LOOKUP", "TOS_TRUST_PROXY"):
        monkeypatch.delenv(name, raising=False)
    limiter.reset()
    yield
    limiter.reset()


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=4, days_ahead=20)


def body_for(dep, *, adults=2, children=0, email="Ana@Example.com", **extra):
    lines = [{"pricing_tier_id": dep.adult, "quantity": adults}]
    if children:
        lines.append({"pricing_tier_id": dep.child, "quantity": children})
    customer = {"email": email, "first_name": "Ana", "last_name": "Silva"}
    return {"schedule_id": dep.schedule_id, "line_items": lines, "customer": customer, **extra}


def checkout(client, org, dep=None, *, key=None, body=None, **extra):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(CHECKOUT, params={"org": org.slug}, headers=headers,
                       json=body if body is not None else body_for(dep, **extra))  # fmt: skip


def booked(client, org, dep, **extra):
    r = checkout(client, org, dep, **extra)
    assert r.status_code == 201, r.text
    return r.json()


def lookup(client, org, reference, email="ana@example.com"):
    return client.get(f"/public/v1/bookings/{reference}", params={"org": org.slug, "email": email})


def cancel(client, org, reference, email="ana@example.com", reason="plans changed"):
    return client.post(f"/public/v1/bookings/{reference}/cancel", params={"org": org.slug},
                       json={"email": email, "reason": reason})  # fmt: skip


def staff_view(client, org, booking_id):
    r = client.get(f"/api/v1/bookings/{booking_id}", headers=org.headers())
    assert r.status_code == 200, r.text
    return r.json()


def test_checkout_holds_the_seats_and_opens_a_sandbox_payment(client, db, org, dep):
    r = checkout(client, org, dep, children=1, utm_source="newsletter",
                 special_requests="window seat")  # fmt: skip
    assert r.status_code == 201, r.text
    booking, payment = r.json()["booking"], r.json()["payment"]
    assert booking["status"] == "payment_pending"
    assert booking["total"] == {"amount": 12500, "currency": "EUR"}
    assert booking["deposit_required"] == {"amount": 12500, "currency": "EUR"}
    assert [(li["name"], li["quantity"]) for li in booking["line_items"]] == [
        ("Adult", 2), ("Child", 1)
    ]  # fmt: skip
    expires = dt.datetime.fromisoformat(booking["expires_at"])
    assert dt.datetime.now(dt.UTC) < expires < dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    assert payment["provider"] == "sandbox" and payment["status"] == "requires_action"
    assert payment["amount"] == {"amount": 12500, "currency": "EUR"}
    assert payment["client"]["checkoutUrl"].endswith(f"/sandbox/checkout/{payment['id']}")
    assert seats_taken(db, org.id, dep.schedule_id) == 3
    staff = staff_view(client, org, booking["id"])
    assert (staff["source"], staff["customer"]["email"]) == ("website", "ana@example.com")
    assert staff["utm"] == {"source": "newsletter"} and staff["special_requests"] == "window seat"
    assert staff["reference"] == booking["reference"]


def test_a_promo_code_and_a_deposit_go_through_checkout(client, db, org, dep):
    promo = make_promo(db, org.id, discount_value=1000)  # 10 %
    set_org_settings(db, org.id, deposit={"type": "percentage", "value": 2000})
    out = booked(client, org, dep, promotional_code=promo.code, pay="deposit")
    assert out["booking"]["discount_total"]["amount"] == 1000
    assert out["booking"]["total"]["amount"] == 9000
    assert out["booking"]["deposit_required"]["amount"] == 1800
    assert out["payment"]["amount"]["amount"] == 1800
    assert promo_uses(db, org.id, promo.id) == 1


def test_a_departure_without_the_seats_leaves_nothing_behind(client, db, org, dep):
    booked(client, org, dep, adults=3)
    r = checkout(client, org, dep, adults=2, email="late@example.com")
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "CAPACITY_EXCEEDED" and err["details"]["available_spots"] == 1
    assert count_rows(db, org.id, Booking) == 1 and count_rows(db, org.id, Payment) == 1
    assert count_rows(db, org.id, Customer) == 1
    assert seats_taken(db, org.id, dep.schedule_id) == 3


def test_an_unconfigured_provider_is_503_and_rolls_everything_back(client, db, org, dep):
    r = checkout(client, org, dep, provider="stripe")
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "PAYMENTS_NOT_CONFIGURED"
    assert count_rows(db, org.id, Booking) == 0 and count_rows(db, org.id, Customer) == 0
    assert seats_taken(db, org.id, dep.schedule_id) == 0


def test_unknown_organizations_and_bad_bodies(client, db, org, dep):
    r = client.post(CHECKOUT, params={"org": "no-such-org"}, json=body_for(dep))
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = client.get("/public/v1/bookings/BK-2030-AAAAAA",
                   params={"org": "no-such-org", "email": "ana@example.com"})  # fmt: skip
    assert r.status_code == 404 and r.json()["error"]["details"]["entity"] == "organization"
    bad = body_for(dep)
    bad["customer"]["first_name"] = ""
    bad["line_items"][0]["unit_amount"] = 1
    r = checkout(client, org, body=bad)
    assert r.status_code == 422
    paths = [f["path"] for f in r.json()["error"]["details"]["fields"]]
    assert ["customer", "first_name"] in paths and ["line_items", 0, "unit_amount"] in paths
    draft = make_departure(db, org.id)
    set_tour_status(db, org.id, draft.tour_id, "draft")
    r = checkout(client, org, draft)
    assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["path"] == [
        "schedule_id"
    ]


def set_tour_status(db, org_id, tour_id, status):
    from sqlalchemy import update

    from tos.catalog.models import Tour

    with db(write=True, organization_id=org_id) as session:
        session.execute(update(Tour).where(Tour.id == tour_id).values(status=status))
        session.commit()


def test_the_same_idempotency_key_gives_the_same_booking_once(client, db, org, other_org, dep):
    first = checkout(client, org, dep, key="cart-42")
    again = checkout(client, org, dep, key="cart-42")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert count_rows(db, org.id, Booking) == 1 and count_rows(db, org.id, Payment) == 1
    assert seats_taken(db, org.id, dep.schedule_id) == 2
    changed = checkout(client, org, dep, key="cart-42", adults=1)
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    # Keys are per organization: another one's shopper may use the same key.
    theirs = make_departure(db, other_org.id)
    r = checkout(client, other_org, theirs, key="cart-42")
    assert r.status_code == 201 and r.json()["booking"]["id"] != first.json()["booking"]["id"]


def test_a_lookup_needs_the_customers_email_and_misses_look_alike(client, db, org, other_org, dep):
    ref = booked(client, org, dep)["booking"]["reference"]
    r = lookup(client, org, ref.lower(), email="  ANA@example.COM ")
    assert r.status_code == 200, r.text
    view = r.json()
    assert (view["reference"], view["status"], view["payment_status"]) == (
        ref, "payment_pending", "unpaid"
    )  # fmt: skip
    assert view["tour_name"] and view["schedule"]["timezone"] == "Europe/Lisbon"
    assert view["participants_count"] == 2 and view["cancellable"] is True
    assert view["total"] == {"amount": 10000, "currency": "EUR"}
    assert view["paid"]["amount"] == 0 and view["balance_due"]["amount"] == 10000
    assert "id" not in view and "customer" not in view
    misses = [
        lookup(client, org, ref, email="eve@example.com"),
        lookup(client, org, "BK-2030-ZZZZZZ"),
        lookup(client, other_org, ref),  # another organization's booking
        cancel(client, org, ref, email="eve@example.com"),
        cancel(client, other_org, ref),
    ]
    assert {m.status_code for m in misses} == {404}
    bodies = [m.json() for m in misses]
    assert all(b == bodies[0] for b in bodies), bodies
    assert seats_taken(db, org.id, dep.schedule_id) == 2


def test_the_customer_cancels_and_the_seats_come_back(client, db, org, dep):
    out = booked(client, org, dep)
    ref = out["booking"]["reference"]
    r = cancel(client, org, ref, email="ANA@example.com")
    assert r.status_code == 200, r.text
    assert r.json()["booking"]["status"] == "cancelled"
    assert r.json()["booking"]["cancellable"] is False
    assert r.json()["refund"] == {"amount": 0, "currency": "EUR", "status": "none"}
    assert seats_taken(db, org.id, dep.schedule_id) == 0
    staff = staff_view(client, org, out["booking"]["id"])
    assert staff["cancel_reason"] == "plans changed"
    events = client.get(f"/api/v1/bookings/{staff['id']}/events", headers=org.headers()).json()
    assert events[-1]["actor_type"] == "customer"
    assert events[-1]["idempotency_key"] == f"customer-cancel:{staff['id']}"
    # Asking again replays the cancel; a booking cancelled otherwise is closed.
    assert cancel(client, org, ref).json() == r.json()
    other = booked(client, org, dep, email="bo@example.com")["booking"]
    assert move(client, org, other["id"], "cancelled").status_code == 200
    closed = cancel(client, org, other["reference"], email="bo@example.com")
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "INVALID_TRANSITION"


def test_a_paid_booking_cancelled_by_the_customer_is_refunded_by_the_policy(client, db, org):
    dep = make_departure(db, org.id, capacity=4, days_ahead=5)  # 120 h ahead: the 72 h rule
    rules = [{"hours_before_tour": 168, "refund_bps": 10000},
             {"hours_before_tour": 72, "refund_bps": 5000}]  # fmt: skip
    r = client.post("/api/v1/cancellation-policies", headers=org.headers(),
                    json={"name": "Flexible", "rules": rules, "is_default": True})  # fmt: skip
    assert r.status_code == 201, r.text
    out = booked(client, org, dep, adults=1)
    payments = client.get(f"/api/v1/bookings/{out['booking']['id']}/payments",
                          headers=org.headers()).json()  # fmt: skip
    assert post_sandbox_webhook(client, sandbox_event(payments[0])).status_code == 200
    drain(db, org.id)
    ref = out["booking"]["reference"]
    assert lookup(client, org, ref).json()["payment_status"] == "paid"
    r = cancel(client, org, ref)
    assert r.status_code == 200, r.text
    assert r.json()["refund"] == {"amount": 2500, "currency": "EUR", "status": "pending"}
    drain(db, org.id)
    view = lookup(client, org, ref).json()
    assert (view["status"], view["payment_status"]) == ("cancelled", "partially_refunded")


def test_no_self_service_cancel_once_the_tour_has_started(client, db, org, dep):
    ref = booked(client, org, dep)["booking"]["reference"]
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    set_schedule(db, org.id, dep.schedule_id, starts_at=started)
    assert lookup(client, org, ref).json()["cancellable"] is False
    r = cancel(client, org, ref)
    assert r.status_code == 409 and r.json()["error"]["code"] == "BOOKING_CLOSED"
    assert seats_taken(db, org.id, dep.schedule_id) == 2


def test_lookups_and_checkouts_are_rate_limited_per_client(client, db, org, dep, monkeypatch):
    monkeypatch.setenv("TOS_PUBLIC_RATE_LOOKUP", "3/60")
    monkeypatch.setenv("TOS_PUBLIC_RATE_WRITE", "1")
    limiter.reset()
    assert [lookup(client, org, "BK-2030-AAAAAA").status_code for _ in range(3)] == [404] * 3
    r = lookup(client, org, "BK-2030-AAAAAA")
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # A forwarded-for header is the client's claim unless TOS runs behind a trusted proxy.
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    url = "/public/v1/bookings/BK-2030-AAAAAA"
    params = {"org": org.slug, "email": "a@example.com"}
    assert client.get(url, params=params, headers=spoofed).status_code == 429
    monkeypatch.setenv("TOS_TRUST_PROXY", "1")
    assert client.get(url, params=params, headers=spoofed).status_code == 404
    # Writes have their own budget; a refused checkout creates nothing.
    assert checkout(client, org, dep).status_code == 201
    refused = checkout(client, org, dep, email="bo@example.com")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert count_rows(db, org.id, Booking) == 1


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_processes_share_the_count_through_redis(tmp_path):
    sock = tmp_path / "redis.sock"
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(sock), "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.02)
        url = f"unix://{sock}"
        limits = {"write": Limit(2, 60)}
        one, two = Limiter(RedisBackend(url), limits), Limiter(RedisBackend(url), limits)
        one.check("write", "198.51.100.7")
        two.check("write", "198.51.100.7")
        with pytest.raises(RateLimited):
            one.check("write", "198.51.100.7")
        two.check("write", "198.51.100.8")  # another client has its own count
    finally:
        server.terminate()
        server.wait(timeout=5)
