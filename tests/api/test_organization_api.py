"""The caller's organization over /api/v1/organization, and the settings helpers bookings use."""

import pytest
from sqlalchemy import select, update

from tos.core.money import MAX_AMOUNT
from tos.identity.models import Organization
from tos.identity.organization import deposit_rule_of, hold_minutes_of, taxes_of

API = "/api/v1/organization"
ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]
READERS = {"owner", "admin", "manager", "staff", "accountant", "guide"}
WRITERS = {"owner", "admin"}

SETTINGS = {
    "hold_minutes": 45,
    "deposit": {"type": "percentage", "value": 3000},
    "taxes": [{"name": "VAT", "rate_bp": 2300, "inclusive": True},
              {"name": "City tax", "rate_bp": 150, "inclusive": False}],
}  # fmt: skip


def error_paths(r):
    return [f["path"] for f in r.json()["error"]["details"]["fields"]]


def stored(db, org):
    with db(write=False) as session:
        return session.scalar(select(Organization).where(Organization.id == org.id))


def audit_entries(client, org):
    r = client.get("/api/v1/audit", headers=org.headers(),
                   params={"entity_type": "organization", "entity_id": org.id})  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_staff_role_reads_the_organization_and_owners_and_admins_change_it(client, org, role):
    r = client.get(API, headers=org.headers(role))
    assert r.status_code == (200 if role in READERS else 403), r.text
    if role in READERS:
        assert r.json() == {
            "id": org.id, "slug": org.slug, "name": f"Org {org.slug}", "timezone": org.timezone,
            "currency": org.currency, "hold_minutes": 30,
            "deposit": {"type": "full", "value": None}, "taxes": [],
        }  # fmt: skip
    r = client.patch(API, json={"hold_minutes": 15}, headers=org.headers(role))
    assert r.status_code == (200 if role in WRITERS else 403), r.text
    assert client.get(API, headers=org.headers()).json()["hold_minutes"] == (
        15 if role in WRITERS else 30
    )


def test_settings_are_stored_in_their_documented_shape_beside_other_keys(
    client, db, org, other_org
):
    with db(write=True) as session:
        session.execute(update(Organization).where(Organization.id == org.id)
                        .values(settings={"branding": {"color": "#123456"}}))  # fmt: skip
        session.commit()
    body = {"name": "Lisbon Walks", "timezone": "Atlantic/Azores", "currency": "usd", **SETTINGS}
    r = client.patch(API, json=body, headers=org.headers("admin"))
    assert r.status_code == 200, r.text
    assert r.json() == {**body, "id": org.id, "slug": org.slug, "currency": "USD"}
    row = stored(db, org)
    assert (row.name, row.timezone, row.currency) == ("Lisbon Walks", "Atlantic/Azores", "USD")
    assert row.settings == {"branding": {"color": "#123456"}, **SETTINGS}
    assert client.get(API, headers=org.headers("guide")).json() == r.json()
    # A later patch replaces what it names and keeps the rest.
    r = client.patch(API, json={"deposit": {"type": "fixed", "value": 5000}, "taxes": []},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 200
    assert stored(db, org).settings == {
        "branding": {"color": "#123456"}, "hold_minutes": 45,
        "deposit": {"type": "fixed", "value": 5000}, "taxes": [],
    }  # fmt: skip
    r = client.patch(API, json={"deposit": {"type": "full"}}, headers=org.headers())
    assert stored(db, org).settings["deposit"] == {"type": "full", "value": None}
    # Each organization changes only its own.
    assert client.get(API, headers=other_org.headers()).json()["hold_minutes"] == 30
    assert stored(db, other_org).settings == {}


def test_a_change_is_audited_with_before_and_after_and_no_change_leaves_no_entry(client, org):
    assert client.patch(API, json={"name": f"Org {org.slug}"}, headers=org.headers()).is_success
    assert [e["action"] for e in audit_entries(client, org)] == ["organization.created"]
    r = client.patch(API, json={"hold_minutes": 60, "taxes": SETTINGS["taxes"]},
                     headers=org.headers("admin"))  # fmt: skip
    assert r.status_code == 200
    entry = audit_entries(client, org)[-1]
    assert entry["action"] == "organization.updated"
    assert entry["actor_id"] == org.user_ids["admin"]
    assert entry["before"]["settings"] == {}
    assert entry["after"]["settings"] == {"hold_minutes": 60, "taxes": SETTINGS["taxes"]}
    assert client.patch(API, json={"hold_minutes": 60}, headers=org.headers()).is_success
    assert len(audit_entries(client, org)) == 2


INVALID = [
    ({"name": ""}, ["name"]),
    ({"name": None}, ["name"]),
    ({"name": "x" * 201}, ["name"]),
    ({"name": "Nul\x00"}, ["name"]),
    ({"timezone": "Mars/Olympus"}, ["timezone"]),
    ({"timezone": "America"}, ["timezone"]),
    ({"timezone": "x" * 500}, ["timezone"]),
    ({"timezone": None}, ["timezone"]),
    ({"currency": "euro"}, ["currency"]),
    ({"currency": "E1R"}, ["currency"]),
    ({"currency": 978}, ["currency"]),
    ({"hold_minutes": 0}, ["hold_minutes"]),
    ({"hold_minutes": 10081}, ["hold_minutes"]),
    ({"hold_minutes": 10**30}, ["hold_minutes"]),
    ({"hold_minutes": "30"}, ["hold_minutes"]),
    ({"hold_minutes": 1.5}, ["hold_minutes"]),
    ({"hold_minutes": True}, ["hold_minutes"]),
    ({"hold_minutes": None}, ["hold_minutes"]),
    ({"deposit": {"type": "percentage"}}, ["deposit", "value"]),
    ({"deposit": {"type": "percentage", "value": 0}}, ["deposit", "value"]),
    ({"deposit": {"type": "percentage", "value": 10001}}, ["deposit", "value"]),
    ({"deposit": {"type": "fixed", "value": 0}}, ["deposit", "value"]),
    ({"deposit": {"type": "fixed", "value": MAX_AMOUNT + 1}}, ["deposit", "value"]),
    ({"deposit": {"type": "fixed", "value": "50"}}, ["deposit", "value"]),
    ({"deposit": {"type": "full", "value": 100}}, ["deposit", "value"]),
    ({"deposit": {"type": "half"}}, ["deposit", "type"]),
    ({"deposit": {"type": "full", "due": "now"}}, ["deposit", "due"]),
    ({"deposit": "full"}, ["deposit"]),
    ({"deposit": None}, ["deposit"]),
    ({"taxes": None}, ["taxes"]),
    ({"taxes": {"name": "VAT"}}, ["taxes"]),
    ({"taxes": [{"name": f"T{i}", "rate_bp": 1, "inclusive": False} for i in range(11)]},
     ["taxes"]),
    ({"taxes": [{"name": "", "rate_bp": 1, "inclusive": False}]}, ["taxes", 0, "name"]),
    ({"taxes": [{"name": "x" * 101, "rate_bp": 1, "inclusive": False}]}, ["taxes", 0, "name"]),
    ({"taxes": [{"name": "VAT", "rate_bp": 10001, "inclusive": False}]},
     ["taxes", 0, "rate_bp"]),
    ({"taxes": [{"name": "VAT", "rate_bp": -1, "inclusive": False}]}, ["taxes", 0, "rate_bp"]),
    ({"taxes": [{"name": "VAT", "rate_bp": 2.5, "inclusive": False}]}, ["taxes", 0, "rate_bp"]),
    ({"taxes": [{"name": "VAT", "rate_bp": 2300}]}, ["taxes", 0, "inclusive"]),
    ({"taxes": [{"name": "VAT", "rate_bp": 2300, "inclusive": "perhaps"}]},
     ["taxes", 0, "inclusive"]),
    ({"taxes": [{"name": "VAT", "rate_bp": 2300, "inclusive": True},
                {"name": " vat ", "rate_bp": 600, "inclusive": True}]}, ["taxes", 1, "name"]),
    ({"slug": "renamed"}, ["slug"]),
    ({"id": "x"}, ["id"]),
    ({"settings": {}}, ["settings"]),
]  # fmt: skip


def test_invalid_settings_are_422_with_their_path_and_change_nothing(client, db, org):
    for body, path in INVALID:
        r = client.patch(API, json=body, headers=org.headers())
        assert r.status_code == 422, (body, r.text)
        assert path in error_paths(r), (body, error_paths(r))
    for body in ("[]", "not json", "", "null"):
        r = client.patch(API, content=body,
                         headers={**org.headers(), "content-type": "application/json"})  # fmt: skip
        assert r.status_code == 422, body
    row = stored(db, org)
    assert (row.name, row.currency, row.settings) == (f"Org {org.slug}", org.currency, {})


def test_unknown_or_missing_credentials_are_refused(client, org):
    assert client.get(API).status_code == 401
    assert client.patch(API, json={"hold_minutes": 5}).status_code == 401
    r = client.patch(API, json={"hold_minutes": 5},
                     headers={"Authorization": "Bearer tos_nope"})  # fmt: skip
    assert r.status_code == 401


# --- the helpers bookings read the settings with (pure)


def test_the_helpers_give_the_defaults_for_unset_settings():
    for settings in (None, {}, {"other": 1}):
        assert hold_minutes_of(settings) == 30
        assert deposit_rule_of(settings) == {"type": "full", "value": None}
        assert taxes_of(settings) == []


def test_the_helpers_read_stored_settings_as_written():
    assert hold_minutes_of(SETTINGS) == 45
    assert deposit_rule_of(SETTINGS) == {"type": "percentage", "value": 3000}
    assert taxes_of(SETTINGS) == SETTINGS["taxes"]
    assert deposit_rule_of({"deposit": {"type": "fixed", "value": 500}})["value"] == 500
    # A copy: the caller may change it without touching the settings it came from.
    taxes_of(SETTINGS)[0]["rate_bp"] = 0
    assert SETTINGS["taxes"][0]["rate_bp"] == 2300


@pytest.mark.parametrize(
    "settings",
    [
        {"hold_minutes": "45", "deposit": {"type": "percentage"}, "taxes": "VAT"},
        {"hold_minutes": 0, "deposit": {"type": "full", "value": 5}, "taxes": [{"name": "VAT"}]},
        {"hold_minutes": True, "deposit": [], "taxes": [{}] * 11},
    ],
)
def test_the_helpers_fall_back_to_the_defaults_on_hand_edited_garbage(settings):
    assert hold_minutes_of(settings) == 30
    assert deposit_rule_of(settings) == {"type": "full", "value": None}
    assert taxes_of(settings) == []
