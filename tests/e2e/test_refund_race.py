"""Invariant 2 over real HTTP: concurrent refunds never exceed what came in."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from tests.booking_builders import booking_body, make_departure
from tests.payment_builders import sandbox_event
from tos.payments.accounts import sandbox_secret
from tos.payments.models import SandboxCharge
from tos.payments.providers import sandbox
from tos.payments.providers.sandbox import sign

pytestmark = pytest.mark.e2e


def test_concurrent_manual_refunds_never_exceed_the_payment(server_factory, db, org):
    server = server_factory(workers=2)
    dep = make_departure(db, org.id, capacity=5, adult_price=10000)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        booking = client.post("/api/v1/bookings", headers=org.headers("manager"),
                              json=booking_body(dep, adults=1)).json()  # fmt: skip
        paid = client.post(f"/api/v1/bookings/{booking['id']}/payments/manual",
                           headers=org.headers("accountant"), json={"amount": 10000})  # fmt: skip
        assert paid.status_code == 201

    def refund(_: int) -> tuple[int, str]:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            r = client.post(f"/api/v1/bookings/{booking['id']}/refunds/manual",
                            headers=org.headers("accountant"),
                            json={"amount": 3000, "reason": "goodwill"})  # fmt: skip
        return r.status_code, r.json().get("error", {}).get("code", "")

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(refund, range(10)))

    assert sorted(results) == [(201, "")] * 3 + [(409, "REFUND_EXCEEDS_PAID")] * 7
    with httpx.Client(base_url=server.url, timeout=60) as client:
        final = client.get(f"/api/v1/bookings/{booking['id']}", headers=org.headers()).json()
    assert (final["paid"], final["refunded"], final["payment_status"]) == (
        10000,
        9000,
        "partially_refunded",
    )


def _wait_for(fetch, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if predicate(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out; last value: {value}")


def test_concurrent_provider_refunds_never_exceed_the_capture(server_factory, db, org):
    """Through the sandbox provider and the real worker: a signed webhook confirms the payment,
    then ten refunds race; the reserved amounts never exceed the capture, and once the worker
    has carried them out the provider's records equal the ledger."""
    server = server_factory(workers=2)
    dep = make_departure(db, org.id, capacity=5, adult_price=10000)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        booking = client.post("/api/v1/bookings", headers=org.headers("manager"),
                              json=booking_body(dep, adults=1)).json()  # fmt: skip
        url = f"/api/v1/bookings/{booking['id']}/payments"
        payment = client.post(url, headers=org.headers("manager"), json={"provider": "sandbox"})
        payment = payment.json()
        event = sandbox_event(payment)  # marks the sandbox charge paid, as its page would
        body = json.dumps(event).encode()
        ack = client.post("/api/payments/webhook?provider=sandbox", content=body,
                          headers=sign(sandbox_secret(), body))  # fmt: skip
        assert ack.status_code == 200, ack.text

        def fetch():
            return client.get(f"/api/v1/bookings/{booking['id']}", headers=org.headers()).json()

        _wait_for(fetch, lambda b: b["status"] == "payment_confirmed")

    def refund(_: int) -> tuple[int, str]:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            r = client.post(f"/api/v1/bookings/{booking['id']}/refunds",
                            headers=org.headers("accountant"),
                            json={"amount": 3000, "reason": "goodwill"})  # fmt: skip
        return r.status_code, "" if r.status_code < 400 else r.json()["error"]["code"]

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(refund, range(10)))

    assert sorted(results) == [(202, "")] * 3 + [(409, "REFUND_EXCEEDS_PAID")] * 7
    with httpx.Client(base_url=server.url, timeout=60) as client:

        def fetch_final():
            return client.get(f"/api/v1/bookings/{booking['id']}", headers=org.headers()).json()

        final = _wait_for(fetch_final, lambda b: b["refund_pending"] == 0 and b["refunded"] > 0)
    assert (final["paid"], final["refunded"]) == (10000, 9000)
    with sandbox.records(write=False) as session:
        charge = session.scalar(
            select(SandboxCharge).where(SandboxCharge.id == payment["provider_ref"])
        )
    assert (charge.amount, charge.refunded) == (10000, 9000)
