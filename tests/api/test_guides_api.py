import uuid

import pytest

from tests.inventory_builders import make_guide, make_tour

READERS = ["owner", "admin", "manager", "staff", "accountant"]
WRITERS = ["owner", "admin"]
ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]


def guide_body(**kw):
    return {"first_name": "Ana", "last_name": "Silva",
            "email": f"ana-{uuid.uuid4().hex[:6]}@example.com", **kw}  # fmt: skip


def create(client, org, role="owner", **kw):
    return client.post("/api/v1/guides", json=guide_body(**kw), headers=org.headers(role))


def audit(client, org, guide_id):
    r = client.get(f"/api/v1/audit?entity_type=guide&entity_id={guide_id}", headers=org.headers())
    return [e["action"] for e in r.json()["items"]]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_creating_a_guide_follows_the_permission_table(client, org, role):
    r = create(client, org, role)
    assert r.status_code == (201 if role in WRITERS else 403)


def test_a_created_guide_is_returned_normalised_and_audited(client, org):
    r = create(client, org, email="Ana.Silva@Example.COM", phone="+351 912 345 678",
               languages=["PT", "en"], bio="Lisbon native", status="on_leave")  # fmt: skip
    assert r.status_code == 201, r.text
    g = r.json()
    assert g["email"] == "ana.silva@example.com"
    assert g["phone"] == "+351912345678"
    assert g["languages"] == ["pt", "en"]
    assert g["status"] == "on_leave"
    assert g["user_id"] is None
    assert audit(client, org, g["id"]) == ["guide.created"]


def test_a_second_guide_with_the_same_email_is_a_conflict(client, org):
    assert create(client, org, email="same@example.com").status_code == 201
    r = create(client, org, email="SAME@example.com")
    assert r.status_code == 409
    assert r.json()["error"]["details"]["email"] == "same@example.com"


def test_another_organization_may_reuse_an_email(client, org, other_org):
    assert create(client, org, email="shared@example.com").status_code == 201
    assert create(client, other_org, email="shared@example.com").status_code == 201


@pytest.mark.parametrize("phone", ["12345", "not a phone", "+1 555 0100 999999"])
def test_an_invalid_phone_is_a_422_on_phone(client, org, phone):
    r = create(client, org, phone=phone)
    assert r.status_code == 422
    assert r.json()["error"]["details"]["fields"][0]["path"] == ["phone"]


@pytest.mark.parametrize(
    "body,path",
    [
        ({"first_name": ""}, ["first_name"]),
        ({"email": "nope"}, ["email"]),
        ({"status": "retired"}, ["status"]),
        ({"languages": ["english"]}, ["languages", 0]),
        ({"colour": "blue"}, ["colour"]),
        ({"bio": "a\u0000b"}, ["bio"]),
        ({"user_id": "a\u0000b"}, ["user_id"]),
    ],
)
def test_invalid_guide_fields_are_422_with_their_path(client, org, body, path):
    r = client.post("/api/v1/guides", json=guide_body(**body), headers=org.headers())
    assert r.status_code == 422
    assert r.json()["error"]["details"]["fields"][0]["path"] == path


def test_a_guide_may_be_linked_to_a_guide_user(client, org):
    r = create(client, org, user_id=org.user_ids["guide"])
    assert r.status_code == 201
    assert r.json()["user_id"] == org.user_ids["guide"]


def test_linking_a_user_of_another_role_is_a_422_on_user_id(client, org):
    r = create(client, org, user_id=org.user_ids["staff"])
    assert r.status_code == 422
    assert r.json()["error"]["details"]["fields"][0]["path"] == ["user_id"]


def test_linking_another_organizations_guide_user_is_a_422(client, org, other_org):
    r = create(client, org, user_id=other_org.user_ids["guide"])
    assert r.status_code == 422


def test_a_user_cannot_have_two_guide_profiles(client, org):
    assert create(client, org, user_id=org.user_ids["guide"]).status_code == 201
    assert create(client, org, user_id=org.user_ids["guide"]).status_code == 409


@pytest.mark.parametrize("role", ALL_ROLES)
def test_listing_guides_follows_the_permission_table(client, db, org, role):
    make_guide(db, org.id)
    r = client.get("/api/v1/guides", headers=org.headers(role))
    if role == "reseller":
        assert r.status_code == 403
        return
    assert r.status_code == 200
    expected = 0 if role == "guide" else 1  # the guide role sees only its own profile
    assert r.json()["total_count"] == expected


def test_a_guide_user_sees_only_its_own_profile(client, db, org):
    mine = make_guide(db, org.id, user_id=org.user_ids["guide"])
    other = make_guide(db, org.id)
    items = client.get("/api/v1/guides", headers=org.headers("guide")).json()["items"]
    assert [g["id"] for g in items] == [mine]
    assert client.get(f"/api/v1/guides/{mine}", headers=org.headers("guide")).status_code == 200
    assert client.get(f"/api/v1/guides/{other}", headers=org.headers("guide")).status_code == 404


@pytest.mark.parametrize("role", READERS)
def test_staff_roles_read_any_guide(client, db, org, role):
    gid = make_guide(db, org.id)
    r = client.get(f"/api/v1/guides/{gid}", headers=org.headers(role))
    assert r.status_code == 200
    assert r.json()["id"] == gid


def test_guides_list_pages_with_a_cursor_and_filters_by_status(client, db, org):
    for i in range(3):
        make_guide(db, org.id, last_name=f"L{i}")
    make_guide(db, org.id, last_name="Away", status="on_leave")
    r = client.get("/api/v1/guides?limit=2&status=active", headers=org.headers())
    page = r.json()
    assert page["total_count"] == 3
    assert [g["last_name"] for g in page["items"]] == ["L0", "L1"]
    r = client.get(f"/api/v1/guides?limit=2&cursor={page['next_cursor']}", headers=org.headers())
    assert [g["last_name"] for g in r.json()["items"]] == ["L2"]


def test_another_organizations_guide_is_not_found(client, db, org, other_org):
    gid = make_guide(db, other_org.id)
    assert client.get(f"/api/v1/guides/{gid}", headers=org.headers()).status_code == 404
    r = client.patch(f"/api/v1/guides/{gid}", json={"bio": "x"}, headers=org.headers())
    assert r.status_code == 404
    assert client.delete(f"/api/v1/guides/{gid}", headers=org.headers()).status_code == 404


@pytest.mark.parametrize("role", ALL_ROLES)
def test_updating_a_guide_follows_the_permission_table(client, db, org, role):
    gid = make_guide(db, org.id)
    r = client.patch(f"/api/v1/guides/{gid}", json={"bio": "New"}, headers=org.headers(role))
    assert r.status_code == (200 if role in WRITERS else 403)


def test_updating_a_guide_changes_only_given_fields_and_is_audited(client, db, org):
    gid = make_guide(db, org.id, phone="+351912345678")
    r = client.patch(f"/api/v1/guides/{gid}",
                     json={"status": "inactive", "phone": "+1 212 555 0123"},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 200, r.text
    g = r.json()
    assert (g["status"], g["phone"], g["first_name"]) == ("inactive", "+12125550123", "Ana")
    r = client.get(f"/api/v1/audit?entity_type=guide&entity_id={gid}", headers=org.headers())
    entry = r.json()["items"][0]
    assert entry["action"] == "guide.updated"
    assert entry["before"]["status"] == "active"
    assert entry["after"]["status"] == "inactive"


def test_a_guide_update_cannot_null_a_required_field(client, db, org):
    gid = make_guide(db, org.id)
    r = client.patch(f"/api/v1/guides/{gid}", json={"last_name": None}, headers=org.headers())
    assert r.status_code == 422
    assert r.json()["error"]["details"]["fields"][0]["path"] == ["last_name"]


def test_changing_a_guide_email_to_a_taken_one_is_a_conflict(client, db, org):
    make_guide(db, org.id, email="taken@example.com")
    gid = make_guide(db, org.id)
    r = client.patch(f"/api/v1/guides/{gid}", json={"email": "taken@example.com"},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 409


@pytest.mark.parametrize("role", ALL_ROLES)
def test_deleting_a_guide_follows_the_permission_table(client, db, org, role):
    gid = make_guide(db, org.id)
    r = client.delete(f"/api/v1/guides/{gid}", headers=org.headers(role))
    assert r.status_code == (204 if role in WRITERS else 403)


def test_a_deleted_guide_is_gone_and_audited(client, db, org):
    gid = make_guide(db, org.id)
    assert client.delete(f"/api/v1/guides/{gid}", headers=org.headers()).status_code == 204
    assert client.get(f"/api/v1/guides/{gid}", headers=org.headers()).status_code == 404
    assert audit(client, org, gid) == ["guide.deleted"]


def test_a_guide_assigned_to_schedules_cannot_be_deleted(client, db, org):
    gid = make_guide(db, org.id)
    tour = make_tour(db, org.id)
    r = client.post("/api/v1/schedules",
                    json={"variant_id": tour.variant_id, "date": "2030-01-07",
                          "start_time": "09:00", "assigned_guide_id": gid},
                    headers=org.headers())  # fmt: skip
    assert r.status_code == 201, r.text
    r = client.delete(f"/api/v1/guides/{gid}", headers=org.headers())
    assert r.status_code == 409
    assert r.json()["error"]["details"]["schedule_count"] == 1


def test_a_guide_id_with_a_nul_byte_is_refused_not_a_server_error(client, org):
    assert client.get("/api/v1/guides/a%00b", headers=org.headers()).status_code == 422
