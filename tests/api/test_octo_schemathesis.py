"""The OCTO OpenAPI file (vendored from octotravel/typespec, tsp-output/@typespec/openapi3/
openapi.yaml at 6d9fa45) drives schemathesis against /octo: whatever a reseller sends, valid by
the spec or not, TOS answers without a 5xx. Real ids are mixed in so the requests reach past
INVALID_PRODUCT_ID into availability and bookings."""

from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from tests.octo_builders import BOTH, make_product, make_reseller, reserve_body

SPEC = Path(__file__).resolve().parents[1] / "data" / "octo" / "openapi.yaml"
EXAMPLES = 12


def test_no_request_built_from_the_octo_spec_makes_a_5xx(client, db, org):
    reseller = make_reseller(db, org.id)
    product = make_product(db, org.id, days=2)
    booked = client.post("/octo/bookings", headers=reseller.headers(),
                         json=reserve_body(product)).json()  # fmt: skip
    schema = schemathesis.openapi.from_path(SPEC)
    failures: list[str] = []
    real = {"productId": product.tour_id, "optionId": product.option_id}

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(case=strategy, use_real=st.booleans())
            def run(case, use_real):
                path = case.formatted_path
                if use_real and "{uuid}" in operation.path:
                    path = operation.path.replace("{uuid}", booked["uuid"])
                if use_real and "{id}" in operation.path:
                    path = operation.path.replace("{id}", product.tour_id)
                body = case.body
                if use_real and isinstance(body, dict) and "productId" in body:
                    body = {**body, **real}
                headers = {k: str(v) for k, v in (case.headers or {}).items()}
                headers |= reseller.headers(BOTH)
                kwargs = {"json": body} if isinstance(body, dict | list | str | int | float) else {}
                try:
                    r = client.request(case.method, "/octo" + path, headers=headers,
                                       params=case.query or None, **kwargs)  # fmt: skip
                except (httpx.InvalidURL, UnicodeEncodeError, ValueError, TypeError):
                    return  # not sendable by an HTTP client at all
                if r.status_code >= 500:
                    failures.append(f"{case.method} {path} {body!r} -> {r.status_code} {r.text}")

            run()
    assert not failures, "\n".join(failures[:5])


@pytest.mark.parametrize("path", ["/octo/supplier", "/octo/products", "/octo/capabilities"])
def test_error_and_success_answers_carry_the_capabilities_header(client, db, org, path):
    reseller = make_reseller(db, org.id)
    r = client.get(path, headers=reseller.headers("octo/pricing, octo/unknown"))
    assert r.status_code == 200 and r.headers["Octo-Capabilities"] == "octo/pricing"
