import datetime as dt

import pytest

from tos.core.money import MAX_AMOUNT
from tos.inventory.models import Schedule

API = "/api/v1"
ALL_ROLES = ["owner", "admin", "manager", "staff", "accountant", "guide", "reseller"]
READERS = {"owner", "admin", "manager", "staff", "accountant", "guide"}
WRITERS = {"owner", "admin"}

TOUR = {"name": "Old Town Walk", "duration_minutes": 90}


def post(client, org, path, body, role="owner"):
    r = client.post(f"{API}{path}", json=body, headers=org.headers(role))
    assert r.status_code == 201, r.text
    return r.json()


def error_paths(r):
    return [f["path"] for f in r.json()["error"]["details"]["fields"]]


def audit_entries(client, org, entity_type, entity_id):
    r = client.get(
        f"{API}/audit", params={"entity_type": entity_type, "entity_id": entity_id},
        headers=org.headers("owner"),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.fixture
def catalog(client, org):
    """A tour with one of each part; ids by name, as the endpoint tables below use them."""
    tour = post(client, org, "/tours", {**TOUR, "destinations": ["PT"], "styles": ["culture"]})
    t = tour["id"]
    variant = post(client, org, f"/tours/{t}/variants", {"name": "Morning"})
    tier = post(client, org, f"/tours/{t}/pricing-tiers", {"name": "Adult", "amount": 2500})
    faq = post(client, org, f"/tours/{t}/faqs", {"question": "Is it steep?", "answer": "A bit."})
    inclusion = post(client, org, f"/tours/{t}/inclusions", {"type": "inclusion", "text": "Water"})
    return {"tour": t, "variant": variant["id"], "tier": tier["id"], "faq": faq["id"],
            "inclusion": inclusion["id"]}  # fmt: skip


READS = [
    "/tours",
    "/tours/{tour}",
    "/tours/{tour}/variants",
    "/tours/{tour}/variants/{variant}",
    "/tours/{tour}/pricing-tiers",
    "/tours/{tour}/pricing-tiers/{tier}",
    "/tours/{tour}/faqs",
    "/tours/{tour}/faqs/{faq}",
    "/tours/{tour}/inclusions",
    "/tours/{tour}/inclusions/{inclusion}",
]

# In an order that can run end to end: the deletes come last, the tour's very last.
WRITES = [
    ("POST", "/tours", {"name": "Harbour Cruise", "duration_minutes": 60}, 201),
    ("PATCH", "/tours/{tour}", {"short_description": "Changed"}, 200),
    ("POST", "/tours/{tour}/variants", {"name": "Evening"}, 201),
    ("PATCH", "/tours/{tour}/variants/{variant}", {"name": "Dawn"}, 200),
    ("POST", "/tours/{tour}/pricing-tiers", {"name": "Child", "amount": 1000}, 201),
    ("PATCH", "/tours/{tour}/pricing-tiers/{tier}", {"amount": 2700}, 200),
    ("POST", "/tours/{tour}/faqs", {"question": "Dogs?", "answer": "On a lead."}, 201),
    ("PATCH", "/tours/{tour}/faqs/{faq}", {"is_published": False}, 200),
    ("POST", "/tours/{tour}/inclusions", {"type": "exclusion", "text": "Tips"}, 201),
    ("PATCH", "/tours/{tour}/inclusions/{inclusion}", {"text": "Bottled water"}, 200),
    ("DELETE", "/tours/{tour}/inclusions/{inclusion}", None, 204),
    ("DELETE", "/tours/{tour}/faqs/{faq}", None, 204),
    ("DELETE", "/tours/{tour}/pricing-tiers/{tier}", None, 204),
    ("DELETE", "/tours/{tour}/variants/{variant}", None, 204),
    ("DELETE", "/tours/{tour}", None, 204),
]
ID_ROUTES = [("GET", p, None) for p in READS if "{tour}" in p] + [
    (m, p, body) for m, p, body, _ in WRITES if "{tour}" in p
]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_catalog_read_is_open_to_every_staff_role_but_not_to_resellers(
    client, org, catalog, role
):
    for path in READS:
        r = client.get(API + path.format(**catalog), headers=org.headers(role))
        assert r.status_code == (200 if role in READERS else 403), f"GET {path}: {r.text}"


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_catalog_write_is_for_owners_and_admins_only(client, org, catalog, role):
    for method, path, body, ok in WRITES:
        url = API + path.format(**catalog)
        r = client.request(method, url, json=body, headers=org.headers(role))
        assert r.status_code == (ok if role in WRITERS else 403), f"{method} {path}: {r.text}"
    tour = client.get(f"{API}/tours/{catalog['tour']}", headers=org.headers())
    assert tour.status_code == (404 if role in WRITERS else 200)


@pytest.mark.parametrize("method,path,body", ID_ROUTES, ids=[f"{m} {p}" for m, p, _ in ID_ROUTES])
def test_another_organizations_catalog_is_not_found_and_stays_untouched(
    client, org, other_org, catalog, method, path, body
):
    url = API + path.format(**catalog)
    r = client.request(method, url, json=body, headers=other_org.headers("owner"))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"
    tour = client.get(f"{API}/tours/{catalog['tour']}", headers=org.headers()).json()
    assert tour["short_description"] == ""
    assert [len(tour[k]) for k in ("variants", "pricing_tiers", "faqs", "inclusions")] == [1] * 4


def test_a_tour_is_created_with_defaults_from_its_organization(client, org):
    tour = post(client, org, "/tours", TOUR)
    assert tour["slug"] == "old-town-walk"
    assert tour["timezone"] == org.timezone
    assert tour["status"] == "draft"
    assert tour["availability_type"] == "start_time"
    assert tour["capacity"] is None
    assert tour["category"] == "custom"


def test_a_tour_keeps_every_field_it_is_given_normalized(client, org):
    body = {
        **TOUR, "slug": "walk", "short_description": "Short", "full_description": "Long",
        "capacity": 12, "min_participants": 2, "category": "walking", "tags": ["history"],
        "meeting_point": {"name": "Fountain", "address": "Praça do Comércio",
                          "latitude": 38.7077, "longitude": -9.1365, "instructions": "Umbrella"},
        "end_point": {"name": "Castle", "address": "Castelo", "latitude": 38.71,
                      "longitude": -9.13},
        "destinations": ["pt", "ES", "PT"], "styles": ["Culture", " food "],
        "highlights": ["Tram 28"], "languages": ["EN", "pt"],
        "cover_image": "https://img.example.com/a.webp",
        "gallery": ["/public/v1/tour-images/walk/1.webp"], "status": "active",
        "timezone": "Asia/Bangkok", "availability_type": "opening_hours",
        "meta_title": "Walk", "meta_description": "A walk",
    }  # fmt: skip
    tour = post(client, org, "/tours", body)
    assert tour["destinations"] == ["PT", "ES"]
    assert tour["styles"] == ["culture", "food"]
    assert tour["languages"] == ["en", "pt"]
    assert tour["meeting_point"]["instructions"] == "Umbrella"
    assert tour["end_point"]["instructions"] is None
    for key in ("slug", "capacity", "category", "cover_image", "gallery", "timezone",
                "availability_type", "meta_title", "status", "highlights"):  # fmt: skip
        assert tour[key] == body[key]


def test_a_tour_can_be_read_with_all_its_parts(client, org, catalog):
    r = client.get(f"{API}/tours/{catalog['tour']}", headers=org.headers("guide"))
    assert r.status_code == 200
    tour = r.json()
    assert [v["id"] for v in tour["variants"]] == [catalog["variant"]]
    assert [t["id"] for t in tour["pricing_tiers"]] == [catalog["tier"]]
    assert [f["id"] for f in tour["faqs"]] == [catalog["faq"]]
    assert [i["id"] for i in tour["inclusions"]] == [catalog["inclusion"]]
    assert tour["pricing_tiers"][0]["currency"] == org.currency


def test_a_tour_is_patched_and_the_change_is_audited_with_its_before_image(client, org, catalog):
    url = f"{API}/tours/{catalog['tour']}"
    r = client.patch(url, json={"name": "New Town Walk", "capacity": 8}, headers=org.headers())
    assert r.status_code == 200
    assert r.json()["name"] == "New Town Walk"
    assert r.json()["slug"] == "old-town-walk"
    [created, updated] = audit_entries(client, org, "tour", catalog["tour"])
    assert (created["action"], updated["action"]) == ("tour.created", "tour.updated")
    assert updated["before"]["name"] == "Old Town Walk"
    assert updated["after"]["name"] == "New Town Walk"
    assert updated["actor_id"] == org.user_ids["owner"]


def test_a_patch_that_changes_nothing_leaves_no_audit_entry(client, org, catalog):
    url = f"{API}/tours/{catalog['tour']}"
    assert client.patch(url, json={"name": "Old Town Walk"}, headers=org.headers()).is_success
    assert [e["action"] for e in audit_entries(client, org, "tour", catalog["tour"])] == [
        "tour.created"
    ]


def test_nullable_tour_fields_are_cleared_by_null(client, org):
    tour = post(client, org, "/tours", {**TOUR, "capacity": 5, "cover_image": "/img/a.webp"})
    r = client.patch(f"{API}/tours/{tour['id']}", json={"capacity": None, "cover_image": None},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 200
    assert (r.json()["capacity"], r.json()["cover_image"]) == (None, None)


def test_a_deleted_tour_is_gone_with_its_parts_and_audited(client, org, catalog):
    url = f"{API}/tours/{catalog['tour']}"
    assert client.delete(url, headers=org.headers()).status_code == 204
    assert client.get(url, headers=org.headers()).status_code == 404
    assert (
        client.get(f"{url}/variants/{catalog['variant']}", headers=org.headers()).status_code == 404
    )
    deleted = audit_entries(client, org, "tour", catalog["tour"])[-1]
    assert deleted["action"] == "tour.deleted"
    assert deleted["before"]["name"] == "Old Town Walk"
    assert deleted["after"] is None


def add_schedule(db, org, tour_id, variant_id):
    starts = dt.datetime(2030, 5, 1, 9, tzinfo=dt.UTC)
    with db(write=True, organization_id=org.id) as session:
        session.add(Schedule(
            tour_id=tour_id, variant_id=variant_id, date=starts.date(), start_time=dt.time(9),
            end_time=dt.time(10, 30), timezone="UTC", starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=90), capacity=10,
        ))  # fmt: skip
        session.commit()


def test_a_tour_with_schedules_cannot_be_deleted_and_should_be_archived_instead(
    client, db, org, catalog
):
    add_schedule(db, org, catalog["tour"], catalog["variant"])
    r = client.delete(f"{API}/tours/{catalog['tour']}", headers=org.headers())
    assert r.status_code == 409
    assert "archive" in r.json()["error"]["message"]
    assert r.json()["error"]["details"]["schedules"] == 1
    r = client.patch(f"{API}/tours/{catalog['tour']}", json={"status": "archived"},
                     headers=org.headers())  # fmt: skip
    assert r.json()["status"] == "archived"


def test_a_variant_with_schedules_cannot_be_deleted(client, db, org, catalog):
    add_schedule(db, org, catalog["tour"], catalog["variant"])
    r = client.delete(f"{API}/tours/{catalog['tour']}/variants/{catalog['variant']}",
                      headers=org.headers())  # fmt: skip
    assert r.status_code == 409
    assert r.json()["error"]["details"]["schedules"] == 1


# --- listing


def test_tours_are_listed_with_pagination(client, org):
    ids = [post(client, org, "/tours", {**TOUR, "name": f"Tour {i}"})["id"] for i in range(3)]
    r = client.get(f"{API}/tours", params={"limit": 2}, headers=org.headers())
    page = r.json()
    assert page["total_count"] == 3
    assert [t["id"] for t in page["items"]] == ids[:2]
    r = client.get(f"{API}/tours", params={"limit": 2, "cursor": page["next_cursor"]},
                   headers=org.headers())  # fmt: skip
    assert [t["id"] for t in r.json()["items"]] == ids[2:]
    assert r.json()["next_cursor"] is None


@pytest.mark.parametrize(
    "query,expected",
    [
        ({"status": "active"}, ["Lisbon Food Crawl", "Porto Wine Walk"]),
        ({"q": "WINE"}, ["Porto Wine Walk"]),
        ({"q": "food-crawl"}, ["Lisbon Food Crawl"]),
        ({"q": "100%"}, []),
        ({"destination": "es"}, ["Madrid Tapas"]),
        ({"destination": "PT"}, ["Lisbon Food Crawl", "Porto Wine Walk"]),
        ({"style": "Food"}, ["Lisbon Food Crawl", "Madrid Tapas"]),
        ({"destination": "PT", "style": "wine", "status": "active"}, ["Porto Wine Walk"]),
    ],
)
def test_tours_are_filtered_by_status_text_destination_and_style(client, org, query, expected):
    for name, dest, styles, status in [
        ("Lisbon Food Crawl", ["PT"], ["food"], "active"),
        ("Porto Wine Walk", ["PT"], ["wine"], "active"),
        ("Madrid Tapas", ["ES"], ["food", "nightlife"], "draft"),
    ]:
        post(client, org, "/tours", {**TOUR, "name": name, "destinations": dest,
                                     "styles": styles, "status": status})  # fmt: skip
    r = client.get(f"{API}/tours", params=query, headers=org.headers())
    assert r.status_code == 200, r.text
    assert sorted(t["name"] for t in r.json()["items"]) == expected


def test_a_tours_parts_are_listed_in_sort_order(client, org, catalog):
    t = catalog["tour"]
    post(client, org, f"/tours/{t}/faqs", {"question": "First?", "answer": "Yes", "sort_order": -1})
    post(client, org, f"/tours/{t}/inclusions", {"type": "exclusion", "text": "Lunch"})
    r = client.get(f"{API}/tours/{t}/faqs", headers=org.headers())
    assert [f["question"] for f in r.json()["items"]] == ["First?", "Is it steep?"]
    r = client.get(f"{API}/tours/{t}/inclusions", params={"type": "exclusion"},
                   headers=org.headers())  # fmt: skip
    assert [i["text"] for i in r.json()["items"]] == ["Lunch"]
    assert r.json()["total_count"] == 1


@pytest.mark.parametrize("query", [{"q": "\x00"}, {"status": "live"}, {"cursor": "bm9wZQ"},
                                   {"cursor": "WyJceDAwIl0"}, {"limit": 0}])  # fmt: skip
def test_bad_list_parameters_are_422_not_500(client, org, query):
    r = client.get(f"{API}/tours", params=query, headers=org.headers())
    assert r.status_code == 422


@pytest.mark.parametrize("bad_id", ["nope", "x" * 300, "%00", "..%2F..%2Fetc"])
def test_malformed_ids_are_simply_not_found(client, org, catalog, bad_id):
    assert client.get(f"{API}/tours/{bad_id}", headers=org.headers()).status_code == 404
    r = client.get(f"{API}/tours/{catalog['tour']}/faqs/{bad_id}", headers=org.headers())
    assert r.status_code == 404


def test_a_part_of_another_tour_is_not_found_under_this_one(client, org, catalog):
    other = post(client, org, "/tours", {**TOUR, "name": "Other"})["id"]
    for kind in ("variants", "pricing-tiers", "faqs", "inclusions"):
        key = {"variants": "variant", "pricing-tiers": "tier", "faqs": "faq"}.get(kind, "inclusion")
        r = client.get(f"{API}/tours/{other}/{kind}/{catalog[key]}", headers=org.headers())
        assert r.status_code == 404


# --- slugs


def test_a_missing_slug_is_made_from_the_name_and_kept_unique(client, org):
    slugs = [post(client, org, "/tours", {**TOUR, "name": "Café & Crème!"})["slug"]
             for _ in range(3)]  # fmt: skip
    assert slugs == ["caf-cr-me", "caf-cr-me-2", "caf-cr-me-3"]


def test_an_explicit_slug_that_exists_is_a_conflict(client, org):
    post(client, org, "/tours", {**TOUR, "slug": "walk"})
    r = client.post(f"{API}/tours", json={**TOUR, "slug": "walk"}, headers=org.headers())
    assert r.status_code == 409
    assert r.json()["error"]["details"] == {"slug": "walk"}


def test_renaming_a_slug_to_one_that_exists_is_a_conflict(client, org):
    post(client, org, "/tours", {**TOUR, "slug": "walk"})
    other = post(client, org, "/tours", {**TOUR, "slug": "cruise"})
    r = client.patch(f"{API}/tours/{other['id']}", json={"slug": "walk"}, headers=org.headers())
    assert r.status_code == 409


def test_another_organization_may_use_the_same_slug(client, org, other_org):
    assert post(client, org, "/tours", {**TOUR, "slug": "walk"})["slug"] == "walk"
    assert post(client, other_org, "/tours", {**TOUR, "slug": "walk"})["slug"] == "walk"


# --- validation


@pytest.mark.parametrize(
    "body,path",
    [
        ({"name": ""}, ["name"]),
        ({"name": "x" * 201}, ["name"]),
        ({"duration_minutes": 0}, ["duration_minutes"]),
        ({"duration_minutes": 10**12}, ["duration_minutes"]),
        ({"duration_minutes": "90"}, ["duration_minutes"]),
        ({"capacity": 0}, ["capacity"]),
        ({"capacity": 4, "min_participants": 5}, ["min_participants"]),
        ({"slug": "Not A Slug"}, ["slug"]),
        ({"category": "boat"}, ["category"]),
        ({"status": "live"}, ["status"]),
        ({"availability_type": "whenever"}, ["availability_type"]),
        ({"destinations": ["XX"]}, ["destinations", 0]),
        ({"destinations": "PT"}, ["destinations"]),
        ({"languages": ["english"]}, ["languages", 0]),
        ({"styles": [""]}, ["styles", 0]),
        ({"cover_image": "javascript:alert(1)"}, ["cover_image"]),
        ({"gallery": ["//evil.example/x.png"]}, ["gallery", 0]),
        ({"timezone": "Mars/Olympus"}, ["timezone"]),
        ({"timezone": "America"}, ["timezone"]),
        ({"meeting_point": {"name": "F", "address": "A", "latitude": 91, "longitude": 0}},
         ["meeting_point", "latitude"]),
        ({"end_point": {"name": "F", "address": "A", "latitude": 0, "longitude": -181}},
         ["end_point", "longitude"]),
        ({"meeting_point": {"name": "F", "latitude": 0, "longitude": 0}},
         ["meeting_point", "address"]),
        ({"name": "Nul\x00"}, ["name"]),
        ({"tags": ["ok", "bad\x00"]}, ["tags"]),
        ({"colour": "blue"}, ["colour"]),
    ],
)  # fmt: skip
def test_invalid_tour_fields_are_422_with_their_path(client, org, body, path):
    r = client.post(f"{API}/tours", json={**TOUR, **body}, headers=org.headers())
    assert r.status_code == 422, r.text
    assert path in error_paths(r)


@pytest.mark.parametrize(
    "body,path",
    [
        ({"name": None}, ["name"]),
        ({"status": None}, ["status"]),
        ({"capacity": 1}, ["capacity"]),
        ({"unknown": 1}, ["unknown"]),
    ],
)
def test_invalid_tour_patches_are_422_with_their_path(client, org, body, path):
    tour = post(client, org, "/tours", {**TOUR, "capacity": 10, "min_participants": 2})
    r = client.patch(f"{API}/tours/{tour['id']}", json=body, headers=org.headers())
    assert r.status_code == 422, r.text
    assert error_paths(r) == [path]


PATTERN_ERRORS = [
    ({"days_of_week": [7]}, ["availability_pattern", "days_of_week", 0]),
    ({"days_of_week": [-1]}, ["availability_pattern", "days_of_week", 0]),
    ({"start_times": ["9am"]}, ["availability_pattern", "start_times", 0]),
    ({"start_times": ["24:00"]}, ["availability_pattern", "start_times", 0]),
    ({"type": "sometimes"}, ["availability_pattern", "type"]),
    ({"type": "specific_dates"}, ["availability_pattern", "dates"]),
    ({"dates": ["2030-01-01"]}, ["availability_pattern", "dates"]),
    ({"type": "specific_dates", "dates": ["2030-02-30"]}, ["availability_pattern", "dates", 0]),
    ({"valid_from": "2030-02-01", "valid_until": "2030-01-01"},
     ["availability_pattern", "valid_until"]),
    ({"excluded_dates": ["soon"]}, ["availability_pattern", "excluded_dates", 0]),
    ({"opening_hours": [{"open": "09:00", "close": "17:00"}]},
     ["availability_pattern", "opening_hours"]),
    ({"every": "day"}, ["availability_pattern", "every"]),
]  # fmt: skip


@pytest.mark.parametrize("pattern,path", PATTERN_ERRORS)
def test_invalid_availability_patterns_are_422_with_their_path(client, org, pattern, path):
    tour = post(client, org, "/tours", TOUR)
    body = {"name": "Morning", "availability_pattern": {"type": "recurring", **pattern}}
    r = client.post(f"{API}/tours/{tour['id']}/variants", json=body, headers=org.headers())
    assert r.status_code == 422, r.text
    assert path in error_paths(r)


@pytest.mark.parametrize(
    "pattern,path",
    [
        ({"start_times": ["09:00"]}, ["availability_pattern", "start_times"]),
        ({"opening_hours": [{"open": "10:00", "close": "09:00"}]},
         ["availability_pattern", "opening_hours", 0, "close"]),
        ({"opening_hours": [{"open": "09:00", "close": "13:00"},
                            {"open": "12:00", "close": "18:00"}]},
         ["availability_pattern", "opening_hours"]),
    ],
)  # fmt: skip
def test_an_opening_hours_tour_refuses_start_times_and_bad_hours(client, org, pattern, path):
    tour = post(client, org, "/tours", {**TOUR, "availability_type": "opening_hours"})
    body = {"name": "Day", "availability_pattern": pattern}
    r = client.post(f"{API}/tours/{tour['id']}/variants", json=body, headers=org.headers())
    assert r.status_code == 422, r.text
    assert error_paths(r) == [path]


def test_a_valid_pattern_is_stored_as_json_in_canonical_order(client, org):
    tour = post(client, org, "/tours", TOUR)
    pattern = {"type": "recurring", "days_of_week": [6, 0, 6], "start_times": ["14:00", "09:00"],
               "valid_from": "2030-01-01", "valid_until": "2030-12-31",
               "excluded_dates": ["2030-12-25", "2030-01-01"]}  # fmt: skip
    variant = post(client, org, f"/tours/{tour['id']}/variants",
                   {"name": "Weekend", "availability_pattern": pattern})  # fmt: skip
    assert variant["availability_pattern"] == {
        "type": "recurring", "days_of_week": [0, 6], "start_times": ["09:00", "14:00"],
        "valid_from": "2030-01-01", "valid_until": "2030-12-31",
        "excluded_dates": ["2030-01-01", "2030-12-25"],
    }  # fmt: skip


def test_opening_hours_and_specific_dates_patterns_are_accepted(client, org):
    tour = post(client, org, "/tours", {**TOUR, "availability_type": "opening_hours"})
    pattern = {"type": "specific_dates", "dates": ["2030-06-02", "2030-06-01"],
               "opening_hours": [{"open": "18:00", "close": "24:00"},
                                 {"open": "09:00", "close": "12:00"}]}  # fmt: skip
    variant = post(client, org, f"/tours/{tour['id']}/variants",
                   {"name": "Festival", "availability_pattern": pattern})  # fmt: skip
    stored = variant["availability_pattern"]
    assert stored["dates"] == ["2030-06-01", "2030-06-02"]
    assert [h["open"] for h in stored["opening_hours"]] == ["09:00", "18:00"]


def test_the_availability_type_cannot_change_while_variants_use_the_other_kind(
    client, org, catalog
):
    t = catalog["tour"]
    v = f"{API}/tours/{t}/variants/{catalog['variant']}"
    client.patch(
        v, json={"availability_pattern": {"start_times": ["09:00"]}}, headers=org.headers()
    )
    r = client.patch(f"{API}/tours/{t}", json={"availability_type": "opening_hours"},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 422
    assert error_paths(r) == [["availability_type"]]
    assert "Morning" in r.json()["error"]["message"]
    pattern = {"opening_hours": [{"open": "09:00", "close": "17:00"}]}
    r = client.patch(v, json={"availability_pattern": pattern}, headers=org.headers())
    assert error_paths(r) == [["availability_pattern", "opening_hours"]]
    client.patch(v, json={"availability_pattern": {"type": "on_request"}}, headers=org.headers())
    r = client.patch(f"{API}/tours/{t}", json={"availability_type": "opening_hours"},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 200
    r = client.patch(v, json={"availability_pattern": pattern}, headers=org.headers())
    assert r.status_code == 200


@pytest.mark.parametrize(
    "body,path",
    [
        ({"amount": -1}, ["amount"]),
        ({"amount": 10.5}, ["amount"]),
        ({"amount": MAX_AMOUNT + 1}, ["amount"]),
        ({"amount": True}, ["amount"]),
        ({"currency": "euro"}, ["currency"]),
        ({"unit_type": "PET"}, ["unit_type"]),
        ({"age_min": 12, "age_max": 5}, ["age_max"]),
        ({"age_min": -1}, ["age_min"]),
        ({"valid_from": "2030-02-01", "valid_until": "2030-01-01"}, ["valid_until"]),
        ({"variant_id": "no-such-variant"}, ["variant_id"]),
        ({"name": ""}, ["name"]),
        ({"price": 10}, ["price"]),
    ],
)
def test_invalid_pricing_tiers_are_422_with_their_path(client, org, body, path):
    tour = post(client, org, "/tours", TOUR)
    url = f"{API}/tours/{tour['id']}/pricing-tiers"
    r = client.post(url, json={"name": "Adult", "amount": 2500, **body}, headers=org.headers())
    assert r.status_code == 422, r.text
    assert path in error_paths(r)


def test_a_tier_may_belong_to_a_variant_of_its_own_tour_only(client, org, catalog):
    other = post(client, org, "/tours", {**TOUR, "name": "Other"})["id"]
    body = {"name": "Adult", "amount": 100, "variant_id": catalog["variant"]}
    r = client.post(f"{API}/tours/{other}/pricing-tiers", json=body, headers=org.headers())
    assert r.status_code == 422
    assert error_paths(r) == [["variant_id"]]
    tier = post(client, org, f"/tours/{catalog['tour']}/pricing-tiers", body)
    assert tier["variant_id"] == catalog["variant"]


def test_a_tier_defaults_to_the_organizations_currency_and_normalizes_unit_types(client, db, org):
    from tests.factories import make_org

    yen = make_org(db, timezone="Asia/Tokyo", currency="JPY")
    tour = post(client, yen, "/tours", TOUR)
    assert tour["timezone"] == "Asia/Tokyo"
    tier = post(client, yen, f"/tours/{tour['id']}/pricing-tiers",
                {"name": "Child", "amount": 1500, "unit_type": "child"})  # fmt: skip
    assert (tier["currency"], tier["unit_type"]) == ("JPY", "CHILD")
    tier = post(client, yen, f"/tours/{tour['id']}/pricing-tiers",
                {"name": "Adult", "amount": 20, "currency": "usd"})  # fmt: skip
    assert tier["currency"] == "USD"


def test_a_tier_patch_is_checked_against_the_stored_values(client, org, catalog):
    url = f"{API}/tours/{catalog['tour']}/pricing-tiers/{catalog['tier']}"
    assert client.patch(url, json={"age_min": 5, "age_max": 12},
                        headers=org.headers()).status_code == 200  # fmt: skip
    r = client.patch(url, json={"age_min": 13}, headers=org.headers())
    assert r.status_code == 422
    assert error_paths(r) == [["age_min"]]
    r = client.patch(url, json={"valid_from": "2030-01-01"}, headers=org.headers())
    assert r.status_code == 200
    r = client.patch(url, json={"valid_until": "2029-12-31"}, headers=org.headers())
    assert error_paths(r) == [["valid_until"]]
    r = client.patch(url, json={"currency": None}, headers=org.headers())
    assert error_paths(r) == [["currency"]]


@pytest.mark.parametrize(
    "kind,body,path",
    [
        ("faqs", {"question": "", "answer": "A"}, ["question"]),
        ("faqs", {"question": "Q", "answer": "A", "is_published": "perhaps"}, ["is_published"]),
        ("inclusions", {"type": "maybe", "text": "Water"}, ["type"]),
        ("inclusions", {"type": "inclusion", "text": "Water", "icon": "x" * 65}, ["icon"]),
        ("variants", {"name": "V", "capacity": 2, "min_participants": 3}, ["min_participants"]),
        ("variants", {"name": "V", "status": "paused"}, ["status"]),
    ],
)
def test_invalid_parts_are_422_with_their_path(client, org, kind, body, path):
    tour = post(client, org, "/tours", TOUR)
    r = client.post(f"{API}/tours/{tour['id']}/{kind}", json=body, headers=org.headers())
    assert r.status_code == 422, r.text
    assert error_paths(r) == [path]


@pytest.mark.parametrize("body", ["[]", "not json", '{"name": "x"', ""])
def test_a_body_that_is_not_a_json_object_is_422(client, org, body):
    r = client.post(f"{API}/tours", content=body, headers={**org.headers(),
                    "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 422


# --- the parts' own CRUD


PARTS = [
    ("variants", "variant", {"name": "Morning"}, {"name": "Dawn", "capacity": 4}, "name"),
    ("pricing-tiers", "tier", {"name": "Adult", "amount": 2500}, {"amount": 2700}, "amount"),
    ("faqs", "faq", {"question": "Is it steep?", "answer": "A bit."},
     {"answer": "Quite."}, "answer"),
    ("inclusions", "inclusion", {"type": "inclusion", "text": "Water"},
     {"type": "exclusion"}, "type"),
]  # fmt: skip


@pytest.mark.parametrize("kind,key,created,patch,field", PARTS, ids=[p[0] for p in PARTS])
def test_a_part_is_read_patched_and_deleted(client, org, catalog, kind, key, created, patch, field):
    url = f"{API}/tours/{catalog['tour']}/{kind}/{catalog[key]}"
    r = client.get(url, headers=org.headers("staff"))
    assert r.status_code == 200
    assert all(r.json()[k] == v for k, v in created.items())
    r = client.patch(url, json=patch, headers=org.headers("admin"))
    assert r.status_code == 200
    assert r.json()[field] == patch[field]
    assert client.get(url, headers=org.headers()).json()[field] == patch[field]
    assert client.delete(url, headers=org.headers("admin")).status_code == 204
    assert client.get(url, headers=org.headers()).status_code == 404
    assert client.delete(url, headers=org.headers()).status_code == 404


def test_deleting_a_variant_deletes_its_own_tiers_on_the_audit_trail(client, org, catalog):
    t = catalog["tour"]
    own = post(
        client,
        org,
        f"/tours/{t}/pricing-tiers",
        {"name": "Morning adult", "amount": 2000, "variant_id": catalog["variant"]},
    )
    assert client.delete(f"{API}/tours/{t}/variants/{catalog['variant']}",
                         headers=org.headers()).status_code == 204  # fmt: skip
    tiers = client.get(f"{API}/tours/{t}/pricing-tiers", headers=org.headers()).json()["items"]
    assert [x["id"] for x in tiers] == [catalog["tier"]]
    entries = audit_entries(client, org, "pricing_tier", own["id"])
    assert [e["action"] for e in entries] == ["pricing_tier.created", "pricing_tier.deleted"]


# --- the audit trail


MUTATIONS = [
    ("POST", "/tours", {"name": "Harbour Cruise", "duration_minutes": 60}, "tour", None),
    ("PATCH", "/tours/{tour}", {"name": "Renamed"}, "tour", "tour"),
    ("DELETE", "/tours/{tour}", None, "tour", "tour"),
    ("POST", "/tours/{tour}/variants", {"name": "Evening"}, "variant", None),
    ("PATCH", "/tours/{tour}/variants/{variant}", {"name": "Dawn"}, "variant", "variant"),
    ("DELETE", "/tours/{tour}/variants/{variant}", None, "variant", "variant"),
    ("POST", "/tours/{tour}/pricing-tiers", {"name": "Child", "amount": 1}, "pricing_tier", None),
    ("PATCH", "/tours/{tour}/pricing-tiers/{tier}", {"amount": 9}, "pricing_tier", "tier"),
    ("DELETE", "/tours/{tour}/pricing-tiers/{tier}", None, "pricing_tier", "tier"),
    ("POST", "/tours/{tour}/faqs", {"question": "Q", "answer": "A"}, "faq", None),
    ("PATCH", "/tours/{tour}/faqs/{faq}", {"answer": "B"}, "faq", "faq"),
    ("DELETE", "/tours/{tour}/faqs/{faq}", None, "faq", "faq"),
    ("POST", "/tours/{tour}/inclusions", {"type": "exclusion", "text": "T"}, "inclusion", None),
    ("PATCH", "/tours/{tour}/inclusions/{inclusion}", {"text": "U"}, "inclusion", "inclusion"),
    ("DELETE", "/tours/{tour}/inclusions/{inclusion}", None, "inclusion", "inclusion"),
]
VERBS = {"POST": "created", "PATCH": "updated", "DELETE": "deleted"}


@pytest.mark.parametrize("method,path,body,entity,key", MUTATIONS,
                         ids=[f"{m[0]} {m[1]}" for m in MUTATIONS])  # fmt: skip
def test_every_catalog_mutation_is_audited_with_before_and_after(
    client, org, catalog, method, path, body, entity, key
):
    r = client.request(method, API + path.format(**catalog), json=body,
                       headers=org.headers("admin"))  # fmt: skip
    assert r.is_success, r.text
    entity_id = r.json()["id"] if key is None else catalog[key]
    entry = audit_entries(client, org, entity, entity_id)[-1]
    assert entry["action"] == f"{entity}.{VERBS[method]}"
    assert entry["actor_id"] == org.user_ids["admin"]
    if method == "POST":
        assert entry["before"] is None
        assert entry["after"]["id"] == entity_id
    elif method == "PATCH":
        [(name, value)] = body.items()
        assert entry["before"][name] != value
        assert entry["after"][name] == value
    else:
        assert entry["before"]["id"] == entity_id
        assert entry["after"] is None
