import uuid

import pytest

ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]


def _email():
    return f"u-{uuid.uuid4().hex[:8]}@example.com"


# (caller, role of the new user) -> allowed, per API.md: owner all; admin not owners;
# manager staff users only (seed 004); nobody else.
CASES = [
    (caller, target, caller == "owner" or (caller == "admin" and target != "owner")
     or (caller == "manager" and target == "staff"))
    for caller in ROLES for target in ["owner", "admin", "staff", "guide"]
]  # fmt: skip


@pytest.mark.parametrize("caller,target,allowed", CASES)
def test_creating_staff_follows_who_may_manage_whom(client, org, caller, target, allowed):
    r = client.post("/api/v1/staff", headers=org.headers(caller),
                    json={"email": _email(), "name": "New Person", "role": target})  # fmt: skip
    assert r.status_code == (201 if allowed else 403), r.text
    if allowed:
        assert r.json()["role"] == target


def test_a_new_staff_member_is_audited_with_the_caller_as_actor(client, org):
    r = client.post("/api/v1/staff", headers=org.headers("admin"),
                    json={"email": _email(), "name": "Ana", "role": "staff"})  # fmt: skip
    user_id = r.json()["id"]
    audit = client.get(f"/api/v1/audit?entity_type=user&entity_id={user_id}",
                       headers=org.headers("owner")).json()  # fmt: skip
    assert [e["action"] for e in audit["items"]] == ["user.created"]
    entry = audit["items"][0]
    assert entry["actor_id"] == org.user_ids["admin"] and entry["actor_type"] == "user"
    assert entry["before"] is None and entry["after"]["name"] == "Ana"
    assert "password_hash" not in entry["after"]


def test_an_invalid_email_is_422_with_its_field_path(client, org):
    r = client.post("/api/v1/staff", headers=org.headers("owner"),
                    json={"email": "not-an-email", "name": "X", "role": "staff"})  # fmt: skip
    assert r.status_code == 422
    body = r.json()["error"]
    assert body["code"] == "VALIDATION_ERROR"
    assert ["email"] in [f["path"] for f in body["details"]["fields"]]


def test_an_unknown_role_is_422(client, org):
    r = client.post("/api/v1/staff", headers=org.headers("owner"),
                    json={"email": _email(), "name": "X", "role": "superuser"})  # fmt: skip
    assert r.status_code == 422
    assert ["role"] in [f["path"] for f in r.json()["error"]["details"]["fields"]]


def test_a_duplicate_email_in_one_organization_is_409(client, org):
    email = _email()
    body = {"email": email, "name": "X", "role": "staff"}
    assert client.post("/api/v1/staff", headers=org.headers("owner"), json=body).status_code == 201
    r = client.post("/api/v1/staff", headers=org.headers("owner"), json=body)
    assert r.status_code == 409


def test_the_same_email_may_exist_in_two_organizations(client, org, other_org):
    body = {"email": _email(), "name": "X", "role": "staff"}
    assert client.post("/api/v1/staff", headers=org.headers(), json=body).status_code == 201
    assert client.post("/api/v1/staff", headers=other_org.headers(), json=body).status_code == 201


def test_staff_lists_show_only_the_callers_organization(client, org, other_org):
    emails = {u["email"] for u in client.get("/api/v1/staff", headers=org.headers()).json()}
    assert all(e.endswith(f"@{org.slug}.test") for e in emails)


def test_a_new_key_works_at_once_and_revoking_it_takes_effect_at_once(client, org):
    r = client.post("/api/v1/api-keys", headers=org.headers("owner"),
                    json={"user_id": org.user_ids["manager"], "name": "laptop"})  # fmt: skip
    assert r.status_code == 201
    key = r.json()
    token = key["token"]
    assert token.startswith("tos_") and key["prefix"] == token[:12]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/staff", headers=auth).status_code == 200
    revoked = client.delete(f"/api/v1/api-keys/{key['id']}", headers=org.headers("owner"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/api/v1/staff", headers=auth).status_code == 401


def test_the_token_is_shown_once_and_never_listed_or_audited(client, org):
    r = client.post("/api/v1/api-keys", headers=org.headers("owner"),
                    json={"user_id": org.user_ids["staff"]})  # fmt: skip
    token = r.json()["token"]
    listing = client.get("/api/v1/api-keys", headers=org.headers("owner")).text
    audit = client.get("/api/v1/audit?action=apikey.created", headers=org.headers("owner")).text
    assert token not in listing and token not in audit
    assert "key_hash" not in listing and "key_hash" not in audit


def test_a_service_user_key_carries_its_fixed_actor_type(client, org):
    r = client.post("/api/v1/api-keys", headers=org.headers("admin"),
                    json={"role": "manager", "actor_type": "webhook", "name": "psp"})  # fmt: skip
    assert r.status_code == 201
    staff = client.get("/api/v1/staff", headers=org.headers("owner")).json()
    service = [u for u in staff if u["id"] == r.json()["user_id"]][0]
    assert service["actor_type"] == "webhook" and service["is_service"] is True


def test_an_actor_type_cannot_be_given_to_an_existing_user(client, org):
    r = client.post("/api/v1/api-keys", headers=org.headers("owner"),
                    json={"user_id": org.user_ids["staff"], "actor_type": "webhook"})  # fmt: skip
    assert r.status_code == 422


def test_a_key_needs_either_a_user_or_a_role(client, org):
    r = client.post("/api/v1/api-keys", headers=org.headers("owner"), json={})
    assert r.status_code == 422


def test_an_admin_cannot_make_or_revoke_keys_of_an_owner(client, org):
    r = client.post("/api/v1/api-keys", headers=org.headers("admin"),
                    json={"user_id": org.user_ids["owner"]})  # fmt: skip
    assert r.status_code == 403
    mine = client.post("/api/v1/api-keys", headers=org.headers("owner"),
                       json={"user_id": org.user_ids["owner"]}).json()  # fmt: skip
    r = client.delete(f"/api/v1/api-keys/{mine['id']}", headers=org.headers("admin"))
    assert r.status_code == 403


def test_a_manager_makes_keys_for_staff_only(client, org):
    ok = client.post("/api/v1/api-keys", headers=org.headers("manager"),
                     json={"user_id": org.user_ids["staff"]})  # fmt: skip
    refused = client.post("/api/v1/api-keys", headers=org.headers("manager"),
                          json={"user_id": org.user_ids["accountant"]})  # fmt: skip
    assert (ok.status_code, refused.status_code) == (201, 403)


@pytest.mark.parametrize("role", ["staff", "accountant", "guide", "reseller"])
def test_roles_without_user_management_cannot_touch_keys(client, org, role):
    assert client.get("/api/v1/api-keys", headers=org.headers(role)).status_code == 403
    r = client.post("/api/v1/api-keys", headers=org.headers(role),
                    json={"user_id": org.user_ids[role]})  # fmt: skip
    assert r.status_code == 403


def test_another_organizations_key_is_not_found(client, org, other_org):
    theirs = client.post("/api/v1/api-keys", headers=other_org.headers(),
                         json={"user_id": other_org.user_ids["staff"]}).json()  # fmt: skip
    r = client.delete(f"/api/v1/api-keys/{theirs['id']}", headers=org.headers("owner"))
    assert r.status_code == 404
    r = client.post("/api/v1/api-keys", headers=org.headers("owner"),
                    json={"user_id": other_org.user_ids["staff"]})  # fmt: skip
    assert r.status_code == 404
    # Their key is untouched: still authenticated (403 for a staff user, not 401).
    auth = {"Authorization": f"Bearer {theirs['token']}"}
    assert client.get("/api/v1/staff", headers=auth).status_code == 403


def test_revoking_a_key_is_audited(client, org):
    key = client.post("/api/v1/api-keys", headers=org.headers("owner"),
                      json={"user_id": org.user_ids["staff"]}).json()  # fmt: skip
    client.delete(f"/api/v1/api-keys/{key['id']}", headers=org.headers("owner"))
    audit = client.get(f"/api/v1/audit?entity_id={key['id']}", headers=org.headers()).json()
    actions = [e["action"] for e in audit["items"]]
    assert actions == ["apikey.created", "apikey.revoked"]
    revoked = audit["items"][1]
    assert revoked["before"]["revoked_at"] is None and revoked["after"]["revoked_at"]


@pytest.mark.parametrize(
    "role,allowed",
    [
        ("owner", True),
        ("admin", True),
        ("accountant", True),
        ("manager", False),
        ("staff", False),
        ("guide", False),
        ("reseller", False),
    ],
)
def test_the_audit_log_is_readable_by_owner_admin_accountant(client, org, role, allowed):
    r = client.get("/api/v1/audit", headers=org.headers(role))
    assert r.status_code == (200 if allowed else 403)


def test_the_audit_log_never_shows_another_organization(client, org, other_org):
    theirs = client.get("/api/v1/audit?limit=200", headers=other_org.headers()).json()
    ours = client.get("/api/v1/audit?limit=200", headers=org.headers()).json()
    assert not {e["id"] for e in theirs["items"]} & {e["id"] for e in ours["items"]}
    assert ours["total_count"] > 0


def test_audit_pages_by_cursor_without_gaps_or_repeats(client, org):
    full = client.get("/api/v1/audit?limit=200", headers=org.headers()).json()
    seen, cursor = [], None
    while True:
        q = "/api/v1/audit?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(q, headers=org.headers()).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [e["id"] for e in full["items"]]
    paged = client.get("/api/v1/audit?page=2&page_size=3", headers=org.headers()).json()
    assert [e["id"] for e in paged["items"]] == seen[3:6]


def test_a_garbled_cursor_is_422(client, org):
    r = client.get("/api/v1/audit?cursor=%%%garbage", headers=org.headers())
    assert r.status_code == 422


@pytest.mark.parametrize("values", [["\u0000"], [2**40], [None], [{"a": 1}], ["x" * 500], []])
def test_a_forged_cursor_is_422_and_never_reaches_the_database(client, org, values):
    import base64
    import json

    cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    r = client.get(f"/api/v1/audit?cursor={cursor}", headers=org.headers())
    assert r.status_code == 422
