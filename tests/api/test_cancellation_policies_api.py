"""Cancellation policies over /api/v1, tours pointing at them, and the rules a tour follows."""

import pytest

from tests.inventory_builders import make_tour
from tos.catalog.policies import FULL, policy_refund, rules_for

API = "/api/v1"
URL = f"{API}/cancellation-policies"
ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]
READERS = {"owner", "admin", "manager", "staff", "accountant", "guide"}
WRITERS = {"owner", "admin"}

RULES = [
    {"hours_before_tour": 0, "refund_bps": 0},
    {"hours_before_tour": 168, "refund_bps": 10000},
    {"hours_before_tour": 72, "refund_bps": 5000},
]
STORED = sorted(RULES, key=lambda r: -r["hours_before_tour"])
POLICY = {"name": "Flexible", "description": "Full refund up to a week ahead", "rules": RULES}


def post(client, org, path, body, role="owner"):
    r = client.post(f"{API}{path}", json=body, headers=org.headers(role))
    assert r.status_code == 201, r.text
    return r.json()


def new_policy(client, org, **changes):
    return post(client, org, "/cancellation-policies", {**POLICY, **changes})


def fetch(client, org, policy_id):
    r = client.get(f"{URL}/{policy_id}", headers=org.headers())
    assert r.status_code == 200, r.text
    return r.json()


def error_paths(r):
    return [f["path"] for f in r.json()["error"]["details"]["fields"]]


def audit_entries(client, org, entity_id):
    r = client.get(f"{API}/audit", params={"entity_type": "cancellation_policy",
                   "entity_id": entity_id}, headers=org.headers())  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_staff_read_policies_and_only_owners_and_admins_write_them(client, org, role):
    policy = new_policy(client, org)["id"]
    for path in (URL, f"{URL}/{policy}"):
        r = client.get(path, headers=org.headers(role))
        assert r.status_code == (200 if role in READERS else 403), f"GET {path}: {r.text}"
    writes = [
        ("POST", URL, {**POLICY, "name": "Strict"}, 201),
        ("PATCH", f"{URL}/{policy}", {"name": "Renamed"}, 200),
        ("DELETE", f"{URL}/{policy}", None, 204),
    ]
    for method, path, body, ok in writes:
        r = client.request(method, path, json=body, headers=org.headers(role))
        assert r.status_code == (ok if role in WRITERS else 403), f"{method} {path}: {r.text}"


def test_a_policy_is_created_read_listed_patched_and_deleted_on_the_audit_trail(client, org):
    policy = new_policy(client, org)
    assert (policy["name"], policy["description"]) == (POLICY["name"], POLICY["description"])
    assert (policy["rules"], policy["is_default"]) == (STORED, False)
    strict = new_policy(client, org, name="Strict", description=None,
                        rules=[{"hours_before_tour": 24, "refund_bps": 2500}])  # fmt: skip
    r = client.get(URL, headers=org.headers("guide"))
    assert r.status_code == 200, r.text
    assert [p["name"] for p in r.json()["items"]] == ["Flexible", "Strict"]
    assert r.json()["total_count"] == 2
    assert fetch(client, org, strict["id"]) == strict

    rules = [{"hours_before_tour": 48, "refund_bps": 5000}, {"hours_before_tour": 8760,
             "refund_bps": 10000}]  # fmt: skip
    r = client.patch(f"{URL}/{policy['id']}", json={"rules": rules, "description": None},
                     headers=org.headers("admin"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["rules"], r.json()["description"]) == (rules[::-1], None)
    assert r.json()["name"] == "Flexible"
    # An unchanged patch is no change, and is not audited.
    r = client.patch(f"{URL}/{policy['id']}", json={"name": "Flexible"}, headers=org.headers())
    assert r.status_code == 200, r.text
    assert client.delete(f"{URL}/{policy['id']}", headers=org.headers()).status_code == 204
    assert client.get(f"{URL}/{policy['id']}", headers=org.headers()).status_code == 404

    created, updated, deleted = audit_entries(client, org, policy["id"])
    assert [e["action"] for e in (created, updated, deleted)] == [
        "cancellation_policy.created", "cancellation_policy.updated",
        "cancellation_policy.deleted",
    ]  # fmt: skip
    assert (updated["before"]["rules"], updated["after"]["rules"]) == (STORED, rules[::-1])
    assert updated["actor_id"] == org.user_ids["admin"]
    assert (deleted["before"]["name"], deleted["after"]) == ("Flexible", None)


def rules_of(*pairs):
    return [{"hours_before_tour": h, "refund_bps": b} for h, b in pairs]


INVALID = [
    ({"name": ""}, ["name"]),
    ({"name": "x" * 101}, ["name"]),
    ({"name": "Nul\x00"}, ["name"]),
    ({"name": None}, ["name"]),
    ({"description": "x" * 2001}, ["description"]),
    ({"rules": []}, ["rules"]),
    ({"rules": rules_of(*[(h, 0) for h in range(21)])}, ["rules"]),
    ({"rules": None}, ["rules"]),
    ({"rules": "168:100"}, ["rules"]),
    ({"rules": rules_of((24, 100), (-1, 0))}, ["rules", 1, "hours_before_tour"]),
    ({"rules": rules_of((8761, 100))}, ["rules", 0, "hours_before_tour"]),
    ({"rules": rules_of(("24", 100))}, ["rules", 0, "hours_before_tour"]),
    ({"rules": rules_of((24.5, 100))}, ["rules", 0, "hours_before_tour"]),
    ({"rules": rules_of((0, 10001))}, ["rules", 0, "refund_bps"]),
    ({"rules": rules_of((0, -1))}, ["rules", 0, "refund_bps"]),
    ({"rules": rules_of((0, True))}, ["rules", 0, "refund_bps"]),
    ({"rules": rules_of((0, 50.0))}, ["rules", 0, "refund_bps"]),
    ({"rules": [{"hours_before_tour": 24}]}, ["rules", 0, "refund_bps"]),
    ({"rules": [{"hours_before_tour": 24, "refund_bps": 1, "x": 1}]}, ["rules", 0, "x"]),
    # Checked together: a repeated deadline, and a later cancellation refunding more.
    ({"rules": rules_of((72, 5000), (0, 0), (72, 2500))}, ["rules", 2, "hours_before_tour"]),
    ({"rules": rules_of((168, 5000), (72, 10000), (0, 0))}, ["rules", 1, "refund_bps"]),
    ({"is_default": "maybe"}, ["is_default"]),
    ({"organization_id": "x"}, ["organization_id"]),
]


def test_invalid_policies_are_422_with_their_path_on_create_and_patch(client, org):
    policy = new_policy(client, org)
    for body, path in INVALID:
        r = client.post(URL, json={**POLICY, **body}, headers=org.headers())
        assert (r.status_code, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR"), body
        assert path in error_paths(r), (body, r.text)
        r = client.patch(f"{URL}/{policy['id']}", json=body, headers=org.headers())
        assert r.status_code == 422, (body, r.text)
        assert path in error_paths(r), (body, r.text)
    assert fetch(client, org, policy["id"]) == policy
    r = client.get(URL, headers=org.headers())
    assert r.json()["total_count"] == 1


def test_setting_a_default_unsets_the_previous_one_on_the_audit_trail(client, org):
    first = new_policy(client, org, name="First", is_default=True)
    assert first["is_default"] is True
    second = new_policy(client, org, name="Second", is_default=True)
    assert second["is_default"] is True
    assert fetch(client, org, first["id"])["is_default"] is False
    third = new_policy(client, org, name="Third")

    r = client.patch(f"{URL}/{first['id']}", json={"is_default": True}, headers=org.headers())
    assert (r.status_code, r.json()["is_default"]) == (200, True)
    defaults = {p["name"] for p in client.get(URL, headers=org.headers()).json()["items"]
                if p["is_default"]}  # fmt: skip
    assert defaults == {"First"}
    assert fetch(client, org, third["id"])["is_default"] is False
    # Re-setting the default changes nothing.
    r = client.patch(f"{URL}/{first['id']}", json={"is_default": True}, headers=org.headers())
    assert (
        r.status_code == 200
        and r.json()["updated_at"] == fetch(client, org, first["id"])["updated_at"]
    )
    entries = audit_entries(client, org, second["id"])
    assert [e["action"] for e in entries] == [
        "cancellation_policy.created", "cancellation_policy.updated"
    ]  # fmt: skip
    assert (entries[1]["before"]["is_default"], entries[1]["after"]["is_default"]) == (True, False)

    # Unsetting leaves the organization with no default at all.
    r = client.patch(f"{URL}/{first['id']}", json={"is_default": False}, headers=org.headers())
    assert r.json()["is_default"] is False
    items = client.get(URL, headers=org.headers()).json()["items"]
    assert [p["is_default"] for p in items] == [False, False, False]


def test_defaults_are_per_organization(client, org, other_org):
    mine = new_policy(client, org, is_default=True)
    theirs = new_policy(client, other_org, is_default=True)
    assert fetch(client, org, mine["id"])["is_default"] is True
    assert fetch(client, other_org, theirs["id"])["is_default"] is True


def test_another_organizations_policy_is_not_found_and_stays_untouched(client, org, other_org):
    policy = new_policy(client, org)
    routes = [("GET", None), ("PATCH", {"name": "Mine now"}), ("PATCH", {"is_default": True}),
              ("DELETE", None)]  # fmt: skip
    for method, body in routes:
        r = client.request(method, f"{URL}/{policy['id']}", json=body,
                           headers=other_org.headers())  # fmt: skip
        assert r.status_code == 404, f"{method}: {r.text}"
        assert r.json()["error"]["code"] == "NOT_FOUND"
    assert client.get(URL, headers=other_org.headers()).json()["items"] == []
    assert fetch(client, org, policy["id"]) == policy
    for unknown in ("no-such-policy", "x" * 300, "a%00b"):
        assert client.get(f"{URL}/{unknown}", headers=org.headers()).status_code == 404


def test_a_tour_takes_a_policy_of_its_own_organization_only(client, org, other_org):
    policy = new_policy(client, org)
    theirs = new_policy(client, other_org)
    body = {"name": "Old Town Walk", "duration_minutes": 90}
    tour = post(client, org, "/tours", {**body, "cancellation_policy_id": policy["id"]})
    assert tour["cancellation_policy_id"] == policy["id"]
    plain = post(client, org, "/tours", {**body, "name": "Harbour Cruise"})
    assert plain["cancellation_policy_id"] is None

    for bad in (theirs["id"], "no-such-policy", "x" * 37):
        r = client.post(f"{API}/tours", json={**body, "cancellation_policy_id": bad},
                        headers=org.headers())  # fmt: skip
        assert (r.status_code, error_paths(r)) == (422, [["cancellation_policy_id"]]), r.text
        r = client.patch(f"{API}/tours/{plain['id']}", json={"cancellation_policy_id": bad},
                         headers=org.headers())  # fmt: skip
        assert (r.status_code, error_paths(r)) == (422, [["cancellation_policy_id"]]), r.text

    r = client.patch(f"{API}/tours/{plain['id']}", json={"cancellation_policy_id": policy["id"]},
                     headers=org.headers())  # fmt: skip
    assert (r.status_code, r.json()["cancellation_policy_id"]) == (200, policy["id"])
    r = client.get(f"{API}/tours/{plain['id']}", headers=org.headers("guide"))
    assert r.json()["cancellation_policy_id"] == policy["id"]
    r = client.patch(f"{API}/tours/{tour['id']}", json={"cancellation_policy_id": None},
                     headers=org.headers())  # fmt: skip
    assert (r.status_code, r.json()["cancellation_policy_id"]) == (200, None)
    # Only owners and admins choose a tour's policy (catalog: write).
    r = client.patch(f"{API}/tours/{tour['id']}", json={"cancellation_policy_id": policy["id"]},
                     headers=org.headers("manager"))  # fmt: skip
    assert r.status_code == 403


def test_a_policy_used_by_tours_cannot_be_deleted(client, org):
    policy = new_policy(client, org)
    other = new_policy(client, org, name="Other")
    body = {"duration_minutes": 60, "cancellation_policy_id": policy["id"]}
    tours = [post(client, org, "/tours", {**body, "name": f"Tour {i}"})["id"] for i in range(2)]

    r = client.delete(f"{URL}/{policy['id']}", headers=org.headers())
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "CONFLICT"
    assert r.json()["error"]["details"] == {"id": policy["id"], "tours": 2}
    assert fetch(client, org, policy["id"]) == policy
    for tour in tours:
        r = client.get(f"{API}/tours/{tour}", headers=org.headers())
        assert r.json()["cancellation_policy_id"] == policy["id"]

    client.patch(f"{API}/tours/{tours[0]}", json={"cancellation_policy_id": None},
                 headers=org.headers())  # fmt: skip
    client.patch(f"{API}/tours/{tours[1]}", json={"cancellation_policy_id": other["id"]},
                 headers=org.headers())  # fmt: skip
    assert client.delete(f"{URL}/{policy['id']}", headers=org.headers()).status_code == 204
    assert [e["action"] for e in audit_entries(client, org, policy["id"])][-1] == (
        "cancellation_policy.deleted"
    )


def test_a_tour_follows_its_policy_else_the_default_else_refunds_in_full(client, db, org):
    tour = make_tour(db, org.id)
    with db(write=False, organization_id=org.id) as session:
        assert rules_for(session, tour.id) is None
        assert policy_refund(9999, rules_for(session, tour.id), -10) == 9999

    default = new_policy(client, org, name="House", is_default=True,
                         rules=[{"hours_before_tour": 24, "refund_bps": 8000}])  # fmt: skip
    own = new_policy(client, org)
    with db(write=False, organization_id=org.id) as session:
        assert rules_for(session, tour.id) == default["rules"]
        assert policy_refund(10000, rules_for(session, tour.id), 30) == 8000

    r = client.patch(f"{API}/tours/{tour.id}", json={"cancellation_policy_id": own["id"]},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 200, r.text
    with db(write=False, organization_id=org.id) as session:
        rules = rules_for(session, tour.id)
    assert rules == STORED
    assert [policy_refund(10000, rules, h) for h in (200, 100, 10, -1)] == [FULL, 5000, 0, 0]


def test_rules_for_stays_within_the_organization(client, db, org, other_org):
    new_policy(client, other_org, is_default=True)
    tour = make_tour(db, org.id)
    with db(write=False, organization_id=org.id) as session:
        assert rules_for(session, tour.id) is None
