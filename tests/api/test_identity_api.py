import pytest


def test_health_reports_the_database(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


def test_a_missing_key_is_401_in_the_error_shape(client):
    r = client.get("/api/v1/staff")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHENTICATED"


def test_a_wrong_key_is_401(client, org):
    r = client.get("/api/v1/staff", headers={"Authorization": "Bearer tos_nope"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "role,allowed",
    [
        ("owner", True),
        ("admin", True),
        ("manager", True),
        ("staff", False),
        ("accountant", False),
        ("guide", False),
        ("reseller", False),
    ],
)
def test_listing_staff_follows_the_permission_table(client, org, role, allowed):
    r = client.get("/api/v1/staff", headers=org.headers(role))
    assert r.status_code == (200 if allowed else 403)
    if allowed:
        assert {u["role"] for u in r.json()} >= {"owner", "guide"}
