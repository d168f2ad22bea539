"""TOS's own OpenAPI document drives schemathesis against seed 002's endpoints: whatever a source
website or a dashboard sends, valid by the schema or not, the hub answers in the seed's envelope
and never with a 5xx. A real website key, booking and website id are mixed in so requests reach
past authentication and lookups."""

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from tests.channel_builders import register_site, seed_payload, sync

EXAMPLES = 15
SEED_PATHS = ("/api/bookings", "/api/websites", "/api/admin/")


def test_no_request_built_from_the_schema_makes_a_5xx(client, org):
    site = register_site(client, org)
    booking_id = sync(client, site, seed_payload()).json()["booking_id"]
    schema = schemathesis.openapi.from_dict(client.app.openapi())
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(SEED_PATHS):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(case=strategy, use_real=st.booleans())
            def run(case, use_real):
                path = case.formatted_path
                if use_real and "{booking_id}" in operation.path:
                    path = operation.path.replace("{booking_id}", booking_id)
                body = case.body
                if use_real and isinstance(body, dict) and "website_id" in body:
                    body = {**body, "website_id": site.slug, "booking_id": booking_id}
                headers = {k: str(v) for k, v in (case.headers or {}).items()}
                headers |= {**site.headers, **org.headers("admin")}
                kwargs = {"json": body} if isinstance(body, dict | list | str | int | float) else {}
                try:
                    r = client.request(case.method, path, headers=headers,
                                       params=case.query or None, **kwargs)  # fmt: skip
                except (httpx.InvalidURL, UnicodeEncodeError, ValueError, TypeError):
                    return  # not sendable by an HTTP client at all
                if r.status_code >= 500:
                    failures.append(f"{case.method} {path} {body!r} -> {r.status_code} {r.text}")
                elif r.status_code >= 400 and r.request.url.path.startswith(SEED_PATHS):
                    # (a generated id like "../v1/x" can leave seed 002's surface altogether)
                    doc = r.json()
                    if doc.get("success") is not False or "code" not in doc:
                        failures.append(f"{case.method} {path}: not seed 002's envelope: {doc}")

            run()
    assert not failures, "\n".join(failures[:5])
