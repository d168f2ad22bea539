import datetime as dt

import pytest

from tos.config import get_settings

FEED = "/public/v1/tours"
CARD_KEYS = {
    "id", "slug", "name", "short_description", "duration_minutes", "destinations", "styles",
    "category", "cover_image", "from_price", "languages", "highlights",
}  # fmt: skip


def make_tour(client, org, name, *, status="active", tiers=(), **fields):
    body = {"name": name, "duration_minutes": 120, "status": status, **fields}
    r = client.post("/api/v1/tours", json=body, headers=org.headers())
    assert r.status_code == 201, r.text
    tour = r.json()
    for tier in tiers:
        r = client.post(f"/api/v1/tours/{tour['id']}/pricing-tiers", json=tier,
                        headers=org.headers())  # fmt: skip
        assert r.status_code == 201, r.text
    return tour


def feed(client, org, **params):
    r = client.get(FEED, params={"org": org.slug, **params})
    assert r.status_code == 200, r.text
    return r.json()


def names(page):
    return [t["name"] for t in page["items"]]


def test_the_feed_lists_only_the_active_tours_of_the_named_organization(client, org, other_org):
    make_tour(client, org, "Halong Bay Cruise")
    make_tour(client, org, "Draft Tour", status="draft")
    make_tour(client, org, "Old Tour", status="archived")
    make_tour(client, other_org, "Somebody Else's Tour")
    page = feed(client, org)
    assert names(page) == ["Halong Bay Cruise"]
    assert (page["total"], page["limit"], page["offset"]) == (1, 20, 0)


def test_the_feed_needs_no_credentials_and_ignores_them(client, org):
    make_tour(client, org, "Walk")
    r = client.get(FEED, params={"org": org.slug}, headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 200


def test_each_item_is_the_normalized_card_payload(client, org):
    make_tour(
        client, org, "Hoi An Food Trail", short_description="Street food by night",
        destinations=["vn"], styles=["Food"], category="food", languages=["en", "vi"],
        highlights=["Cao lầu"], cover_image="/public/v1/tour-images/hoi-an/cover.webp",
        full_description="Not on the card", meta_title="Not on the card either",
        tiers=[{"name": "Adult", "amount": 450000, "currency": "VND"}],
    )  # fmt: skip
    [card] = feed(client, org)["items"]
    assert set(card) == CARD_KEYS
    assert card["slug"] == "hoi-an-food-trail"
    assert card["destinations"] == ["VN"]
    assert card["styles"] == ["food"]
    assert card["from_price"] == {"amount": 450000, "currency": "VND"}
    assert card["highlights"] == ["Cao lầu"]


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"dest": "TH"}, ["Bangkok Temples", "Chiang Mai Trek"]),
        ({"dest": "th"}, ["Bangkok Temples", "Chiang Mai Trek"]),
        ({"dest": "KH"}, ["Angkor Sunrise"]),
        ({"style": "adventure"}, ["Chiang Mai Trek"]),
        ({"style": "Culture"}, ["Angkor Sunrise", "Bangkok Temples"]),
        ({"dest": "TH", "style": "culture"}, ["Bangkok Temples"]),
        ({"dest": "JP"}, []),
        ({"dest": "", "style": "", "limit": "", "offset": ""}, ["Angkor Sunrise",
                                                                "Bangkok Temples",
                                                                "Chiang Mai Trek"]),
    ],
)  # fmt: skip
def test_the_feed_filters_by_destination_and_style(client, org, params, expected):
    make_tour(client, org, "Bangkok Temples", destinations=["TH"], styles=["culture"])
    make_tour(client, org, "Chiang Mai Trek", destinations=["TH"], styles=["adventure"])
    make_tour(client, org, "Angkor Sunrise", destinations=["KH"], styles=["culture"])
    page = feed(client, org, **params)
    assert names(page) == expected
    assert page["total"] == len(expected)


def test_the_feed_pages_with_limit_and_offset(client, org):
    for name in ["A", "B", "C", "D", "E"]:
        make_tour(client, org, f"Tour {name}")
    page = feed(client, org, limit=2, offset=2)
    assert names(page) == ["Tour C", "Tour D"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
    assert names(feed(client, org, limit=2, offset=4)) == ["Tour E"]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": "many"}, {"offset": -1}, {"offset": 10**30},
     {"dest": "THA"}, {"style": "x\x00"}, {"dest": "\x00"}],
)  # fmt: skip
def test_bad_feed_parameters_are_422_in_the_error_shape(client, org, params):
    r = client.get(FEED, params={"org": org.slug, **params})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("slug", ["no-such-org", "x" * 64])
def test_an_unknown_organization_is_404_in_the_error_shape(client, slug):
    r = client.get(FEED, params={"org": slug})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("slug", ["", "x" * 65, "org\x00"])
def test_a_malformed_organization_slug_is_422(client, slug):
    assert client.get(FEED, params={"org": slug}).status_code == 422


def test_the_organization_is_required(client):
    r = client.get(FEED)
    assert r.status_code == 422
    assert ["query", "org"] in [f["path"] for f in r.json()["error"]["details"]["fields"]]


@pytest.mark.parametrize(
    "tiers,expected",
    [
        ([], None),
        ([{"name": "Adult", "amount": 3000}, {"name": "Child", "amount": 1500}],
         {"amount": 1500, "currency": "EUR"}),
        ([{"name": "Adult", "amount": 3000, "is_default": True},
          {"name": "Child", "amount": 1500}], {"amount": 3000, "currency": "EUR"}),
        ([{"name": "Adult", "amount": 3000, "is_default": True},
          {"name": "Adult off-peak", "amount": 2800, "is_default": True},
          {"name": "Child", "amount": 1500}], {"amount": 2800, "currency": "EUR"}),
        ([{"name": "Old", "amount": 100, "is_default": True, "valid_until": "2001-01-01"},
          {"name": "Adult", "amount": 3000}], {"amount": 3000, "currency": "EUR"}),
    ],
)  # fmt: skip
def test_the_from_price_is_the_lowest_default_tier_else_the_lowest_tier(
    client, org, tiers, expected
):
    make_tour(client, org, "Priced", tiers=tiers)
    [card] = feed(client, org)["items"]
    assert card["from_price"] == expected


def test_the_feed_is_cacheable_with_a_strong_etag(client, org):
    make_tour(client, org, "Walk")
    r = client.get(FEED, params={"org": org.slug})
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert r.headers["cache-control"] == f"public, max-age={get_settings().public_cache_seconds}"
    assert client.get(FEED, params={"org": org.slug}).headers["etag"] == etag


@pytest.mark.parametrize("if_none_match", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_a_matching_if_none_match_is_answered_304_without_a_body(client, org, if_none_match):
    make_tour(client, org, "Walk")
    etag = client.get(FEED, params={"org": org.slug}).headers["etag"]
    r = client.get(FEED, params={"org": org.slug},
                   headers={"If-None-Match": if_none_match.format(etag=etag)})  # fmt: skip
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == etag
    assert "public" in r.headers["cache-control"]


def test_a_changed_tour_changes_the_etag_and_a_stale_one_gets_the_new_body(client, org):
    tour = make_tour(client, org, "Walk")
    etag = client.get(FEED, params={"org": org.slug}).headers["etag"]
    client.patch(f"/api/v1/tours/{tour['id']}", json={"name": "Night Walk"}, headers=org.headers())
    r = client.get(FEED, params={"org": org.slug}, headers={"If-None-Match": etag})
    assert r.status_code == 200
    assert r.headers["etag"] != etag
    assert names(r.json()) == ["Night Walk"]


def test_a_different_filter_has_a_different_etag(client, org):
    make_tour(client, org, "Walk", destinations=["TH"])
    a = client.get(FEED, params={"org": org.slug}).headers["etag"]
    b = client.get(FEED, params={"org": org.slug, "dest": "VN"}).headers["etag"]
    assert a != b


# --- one tour


def test_one_active_tour_is_shown_with_its_variants_tiers_published_faqs_and_inclusions(
    client, org
):
    tour = make_tour(client, org, "Mekong Delta", tiers=[{"name": "Adult", "amount": 5000}])
    base = f"/api/v1/tours/{tour['id']}"
    h = org.headers()
    client.post(f"{base}/variants", json={"name": "Private"}, headers=h)
    client.post(f"{base}/variants", json={"name": "Retired", "status": "inactive"}, headers=h)
    client.post(f"{base}/faqs", json={"question": "Food?", "answer": "Yes"}, headers=h)
    client.post(f"{base}/faqs", json={"question": "Draft?", "answer": "No",
                                      "is_published": False}, headers=h)  # fmt: skip
    client.post(f"{base}/inclusions", json={"type": "exclusion", "text": "Tips"}, headers=h)
    r = client.get(f"{FEED}/mekong-delta", params={"org": org.slug})
    assert r.status_code == 200
    assert r.headers["etag"]
    body = r.json()
    assert [v["name"] for v in body["variants"]] == ["Private"]
    assert [(t["name"], t["amount"]) for t in body["pricing_tiers"]] == [("Adult", 5000)]
    assert body["faqs"] == [{"question": "Food?", "answer": "Yes"}]
    assert body["inclusions"] == [{"type": "exclusion", "text": "Tips", "icon": None}]
    assert body["from_price"] == {"amount": 5000, "currency": "EUR"}
    assert "organization_id" not in body


def test_an_expired_tier_is_not_shown_on_the_tour_page(client, org):
    yesterday = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    make_tour(client, org, "Walk", tiers=[{"name": "Old", "amount": 1, "valid_until": yesterday},
                                          {"name": "Adult", "amount": 2000}])  # fmt: skip
    body = client.get(f"{FEED}/walk", params={"org": org.slug}).json()
    assert [t["name"] for t in body["pricing_tiers"]] == ["Adult"]


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_a_tour_that_is_not_active_is_not_found(client, org, status):
    make_tour(client, org, "Hidden", status=status)
    r = client.get(f"{FEED}/hidden", params={"org": org.slug})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"


def test_another_organizations_tour_is_not_found_under_this_one(client, org, other_org):
    make_tour(client, other_org, "Theirs")
    assert client.get(f"{FEED}/theirs", params={"org": other_org.slug}).status_code == 200
    assert client.get(f"{FEED}/theirs", params={"org": org.slug}).status_code == 404


def test_the_tour_page_answers_304_to_its_own_etag(client, org):
    make_tour(client, org, "Walk")
    etag = client.get(f"{FEED}/walk", params={"org": org.slug}).headers["etag"]
    r = client.get(f"{FEED}/walk", params={"org": org.slug}, headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
