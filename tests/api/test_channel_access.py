"""Websites are managed by unlimited owners and admins; website grants limit what users see;
API key rotation keeps the old key for its grace period; the per-key rate limit."""

from __future__ import annotations

import pytest

from tests.booking_builders import create_booking, make_departure
from tests.channel_builders import register_site, seed_payload, sync
from tos.core import clock
from tos.core.ratelimit import limiter


@pytest.fixture
def two_sites(client, org):
    a, b = register_site(client, org), register_site(client, org)
    ids = {}
    for site in (a, b):
        ids[site.slug] = sync(client, site, seed_payload()).json()["booking_id"]
    return a, b, ids


def test_a_limited_user_sees_only_its_websites_bookings(client, org, db, two_sites):
    a, b, ids = two_sites
    dep = make_departure(db, org.id)
    direct = create_booking(client, org, dep)
    r = client.put(
        f"/api/v1/staff/{org.user_ids['manager']}/websites",
        headers=org.headers("admin"),
        json={"websites": [a.slug]},
    )
    assert r.status_code == 200 and r.json()["websites"] == [a.slug]
    seen = client.get("/api/bookings", headers=org.headers("manager")).json()["bookings"]
    assert [x["id"] for x in seen] == [ids[a.slug]]
    seen_v1 = client.get("/api/v1/bookings", headers=org.headers("manager")).json()["items"]
    assert [x["id"] for x in seen_v1] == [ids[a.slug]]
    for hidden in (ids[b.slug], direct["id"]):
        assert (
            client.get(f"/api/v1/bookings/{hidden}", headers=org.headers("manager")).status_code
            == 404
        )
    # The unlimited admin sees all three; lifting the limit restores the manager's view.
    everything = client.get("/api/bookings", headers=org.headers("admin")).json()
    assert everything["total_count"] == 3
    client.put(
        f"/api/v1/staff/{org.user_ids['manager']}/websites",
        headers=org.headers("admin"),
        json={"websites": []},
    )
    assert client.get("/api/bookings", headers=org.headers("manager")).json()["total_count"] == 3


def test_a_limited_admin_cannot_manage_websites_or_users(client, org, two_sites):
    a, _, _ = two_sites
    r = client.put(
        f"/api/v1/staff/{org.user_ids['admin']}/websites",
        headers=org.headers("owner"),
        json={"websites": [a.slug]},
    )
    assert r.status_code == 200
    assert client.get("/api/v1/websites", headers=org.headers("admin")).status_code == 403
    r = client.post(
        "/api/websites",
        headers=org.headers("admin"),
        json={"id": "x-site", "name": "X", "domain": "x.test"},
    )
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    assert client.get("/api/v1/staff", headers=org.headers("admin")).status_code == 403


def test_staff_and_other_tenants_cannot_touch_websites(client, org, other_org, two_sites):
    a, _, ids = two_sites
    assert client.get("/api/v1/websites", headers=org.headers("staff")).status_code == 403
    r = client.get(f"/api/v1/websites/{a.slug}", headers=other_org.headers("admin"))
    assert r.status_code == 404
    r = client.put(
        f"/api/bookings/{ids[a.slug]}",
        headers=other_org.headers("admin"),
        json={"admin_notes": "x"},
    )
    assert r.status_code == 404 and r.json()["success"] is False
    assert (
        client.get("/api/bookings", headers=other_org.headers("admin")).json()["total_count"] == 0
    )


def test_a_rotated_key_keeps_working_for_its_grace_period(client, org):
    site = register_site(client, org)
    r = client.post(
        f"/api/v1/websites/{site.slug}/rotate-key",
        headers=org.headers("admin"),
        json={"grace_hours": 1},
    )
    assert r.status_code == 200, r.text
    new_key = r.json()["api_key"]
    assert new_key != site.api_key
    assert sync(client, site, seed_payload()).status_code == 200  # the old key, in grace
    fresh = client.post("/api/bookings/sync", headers={"X-API-Key": new_key}, json=seed_payload())
    assert fresh.status_code == 200
    try:
        clock.advance(3601)
        late = sync(client, site, seed_payload())
        assert late.status_code == 401 and late.json()["code"] == "AUTH_FAILED"
    finally:
        clock.reset()


def test_the_per_key_rate_limit_answers_429_with_retry_after(client, org, monkeypatch):
    monkeypatch.setenv("TOS_PUBLIC_RATE_SYNC", "3/60")
    limiter.reset()
    try:
        site = register_site(client, org)
        answers = [sync(client, site, seed_payload()) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert answers[-1].json()["code"] == "RATE_LIMITED"
        assert int(answers[-1].headers["Retry-After"]) >= 1
        other = register_site(client, org)  # another website has its own budget
        assert sync(client, other, seed_payload()).status_code == 200
    finally:
        monkeypatch.delenv("TOS_PUBLIC_RATE_SYNC")
        limiter.reset()
