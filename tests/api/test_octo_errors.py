"""Every OCTO error code, in OCTO's envelope (HTTP 400 {error, errorMessage, <id field>}), the
key rules (reseller keys only, /octo only), tenancy, and trailing slashes."""

import pytest

from tests.octo_builders import make_product, make_reseller, octo_error, reserve_body

MISSING = "01a20000-0000-7000-8000-000000000000"


@pytest.fixture
def reseller(db, org):
    return make_reseller(db, org.id)


@pytest.fixture
def product(db, org):
    return make_product(db, org.id, days=1)


def test_without_a_key_it_is_unauthorized(client):
    r = client.get("/octo/products", headers={"Octo-Capabilities": "octo/pricing"})
    assert octo_error(r) == "UNAUTHORIZED"
    assert r.headers["Octo-Capabilities"] == "octo/pricing"
    assert octo_error(client.get("/octo/products", headers={"Authorization": "Bearer nope"})) == (
        "UNAUTHORIZED"
    )


@pytest.mark.parametrize("role", ["owner", "admin", "manager", "staff"])
def test_staff_keys_are_forbidden_on_octo(client, org, role):
    assert octo_error(client.get("/octo/products", headers=org.headers(role))) == "FORBIDDEN"


def test_a_reseller_key_reaches_octo_only(client, reseller):
    r = client.get("/api/v1/bookings", headers=reseller.headers())
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"


def test_a_reseller_role_user_without_a_reseller_is_forbidden(client, org):
    assert octo_error(client.get("/octo/supplier", headers=org.headers("reseller"))) == "FORBIDDEN"


def test_an_inactive_reseller_is_forbidden(client, org, reseller):
    r = client.patch(f"/api/v1/resellers/{reseller.id}", headers=org.headers("admin"),
                     json={"active": False})  # fmt: skip
    assert r.status_code == 200, r.text
    assert octo_error(client.get("/octo/products", headers=reseller.headers())) == "FORBIDDEN"


def test_invalid_ids(client, reseller, product):
    h = reseller.headers()
    r = client.get(f"/octo/products/{MISSING}", headers=h)
    assert octo_error(r) == "INVALID_PRODUCT_ID" and r.json()["productId"] == MISSING
    body = {"productId": product.tour_id, "optionId": MISSING, "localDateStart": "2030-01-01",
            "localDateEnd": "2030-01-02"}  # fmt: skip
    r = client.post("/octo/availability", headers=h, json=body)
    assert octo_error(r) == "INVALID_OPTION_ID" and r.json()["optionId"] == MISSING
    r = client.post("/octo/bookings", headers=h,
                    json=reserve_body(product) | {"availabilityId": MISSING})  # fmt: skip
    assert octo_error(r) == "INVALID_AVAILABILITY_ID" and r.json()["availabilityId"] == MISSING
    r = client.post("/octo/bookings", headers=h,
                    json=reserve_body(product) | {"unitItems": [{"unitId": MISSING}]})  # fmt: skip
    assert octo_error(r) == "INVALID_UNIT_ID" and r.json()["unitId"] == MISSING
    r = client.get(f"/octo/bookings/{MISSING}", headers=h)
    assert octo_error(r) == "INVALID_BOOKING_UUID" and r.json()["uuid"] == MISSING
    r = client.post("/octo/availability", headers=h, json=body | {
        "optionId": product.option_id, "units": [{"id": MISSING, "quantity": 1}]})  # fmt: skip
    assert octo_error(r) == "INVALID_UNIT_ID"
    r = client.post("/octo/availability", headers=h, json={
        "productId": product.tour_id, "optionId": product.option_id,
        "availabilityIds": [MISSING]})  # fmt: skip
    assert octo_error(r) == "INVALID_AVAILABILITY_ID"


def test_bad_requests(client, reseller, product):
    h = reseller.headers()
    base = {"productId": product.tour_id, "optionId": product.option_id}
    cases = [
        ("/octo/availability", base),  # neither dates nor ids
        ("/octo/availability", base | {"availabilityIds": [product.slots[0]],
                                        "localDateStart": "2030-01-01",
                                        "localDateEnd": "2030-01-01"}),  # both
        ("/octo/availability", base | {"localDateStart": "2030-02-01",
                                        "localDateEnd": "2030-01-01"}),  # backwards
        ("/octo/availability/calendar", base | {"localDateStart": "01/01/2030",
                                                 "localDateEnd": "2030-01-02"}),
        ("/octo/bookings", {"productId": product.tour_id}),  # validation
        ("/octo/bookings", reserve_body(product, expirationMinutes=0)),
        ("/octo/bookings", reserve_body(product) | {"unitItems": []}),
    ]  # fmt: skip
    for path, body in cases:
        assert octo_error(client.post(path, headers=h, json=body)) == "BAD_REQUEST", body
    r = client.post("/octo/bookings", headers=h | {"content-type": "application/json"},
                    content=b"{not json")  # fmt: skip
    assert octo_error(r) == "BAD_REQUEST"
    assert octo_error(client.get("/octo/bookings", headers=h)) == "BAD_REQUEST"  # no filter


def test_unprocessable(client, reseller, product):
    h = reseller.headers()
    r = client.post("/octo/bookings", headers=h, json=reserve_body(product, adults=11))
    assert octo_error(r) == "UNPROCESSABLE_ENTITY"
    b = client.post("/octo/bookings", headers=h, json=reserve_body(product)).json()
    assert client.post(f"/octo/bookings/{b['uuid']}/cancel", headers=h).status_code == 200
    r = client.post(f"/octo/bookings/{b['uuid']}/confirm", headers=h, json={"contact": {}})
    assert octo_error(r) == "UNPROCESSABLE_ENTITY"
    r = client.post(f"/octo/bookings/{b['uuid']}/extend", headers=h, json={})
    assert octo_error(r) == "UNPROCESSABLE_ENTITY"


def test_another_organizations_reseller_sees_nothing_of_ours(
    client, db, org, other_org, reseller, product
):
    theirs = make_reseller(db, other_org.id)
    mine = client.post("/octo/bookings", headers=reseller.headers(),
                       json=reserve_body(product)).json()  # fmt: skip
    h = theirs.headers()
    assert product.tour_id not in {p["id"] for p in client.get("/octo/products", headers=h).json()}
    assert octo_error(client.get(f"/octo/products/{product.tour_id}", headers=h)) == (
        "INVALID_PRODUCT_ID"
    )
    r = client.post("/octo/bookings", headers=h, json=reserve_body(product))
    assert octo_error(r) == "INVALID_PRODUCT_ID"
    for method, path in [("GET", ""), ("POST", "/confirm"), ("POST", "/cancel")]:
        r = client.request(method, f"/octo/bookings/{mine['uuid']}{path}", headers=h,
                           json={"contact": {}})  # fmt: skip
        assert octo_error(r) == "INVALID_BOOKING_UUID"
    r = client.get(f"/octo/bookings?supplierReference={mine['supplierReference']}", headers=h)
    assert r.status_code == 200 and r.json() == []


def test_another_reseller_of_the_same_organization_sees_only_its_own(
    client, db, org, reseller, product
):
    other = make_reseller(db, org.id, name="Other OTA")
    uuid = "1b2c3d4e-0000-4000-8000-00000000abcd"
    mine = client.post("/octo/bookings", headers=reseller.headers(),
                       json=reserve_body(product, uuid=uuid)).json()  # fmt: skip
    assert octo_error(client.get(f"/octo/bookings/{uuid}", headers=other.headers())) == (
        "INVALID_BOOKING_UUID"
    )
    # The same uuid is that reseller's own key: a booking of its own, not ours.
    theirs = client.post("/octo/bookings", headers=other.headers(),
                         json=reserve_body(product, uuid=uuid)).json()  # fmt: skip
    assert theirs["id"] != mine["id"]


def test_paths_answer_with_and_without_a_trailing_slash(client, reseller, product):
    h = reseller.headers("octo/content")
    for path in ("/octo/supplier", "/octo/products", "/octo/capabilities"):
        a, b = client.get(path, headers=h), client.get(path + "/", headers=h)
        assert a.status_code == b.status_code == 200 and a.json() == b.json()
        assert b.headers["Octo-Capabilities"] == "octo/content"
    r = client.post("/octo/bookings/", headers=h, json=reserve_body(product))
    assert r.status_code == 200, r.text
    found = client.get(f"/octo/bookings/?resellerReference=&supplierReference="
                       f"{r.json()['supplierReference']}", headers=h)  # fmt: skip
    assert found.status_code == 200


def test_list_bookings_by_reference_and_date(client, reseller, product):
    h = reseller.headers()
    b = client.post("/octo/bookings", headers=h,
                    json=reserve_body(product, resellerReference="ABC-1")).json()  # fmt: skip
    for query in ("resellerReference=ABC-1", f"supplierReference={b['supplierReference']}",
                  f"localDate={b['availability']['localDateTimeStart'][:10]}",
                  f"productId={product.tour_id}"):  # fmt: skip
        r = client.get(f"/octo/bookings?{query}", headers=h)
        assert r.status_code == 200 and [x["uuid"] for x in r.json()] == [b["uuid"]], query
