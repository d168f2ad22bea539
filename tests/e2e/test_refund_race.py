"""Invariant 2 over real HTTP: concurrent refunds never exceed what came in."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.booking_builders import booking_body, make_departure

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
