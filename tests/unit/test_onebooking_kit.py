"""onebooking_kit, the source-website side of seed 002, against a fake hub (httpx.MockTransport,
httpx's documented test transport). Pure unit tests: no database, no network, no real sleep."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid

import httpx
import pytest

from onebooking_kit import (
    RETRY_DELAYS,
    FailedSyncQueue,
    InvalidSignature,
    InvalidWebhookPayload,
    OneBookingClient,
    SyncRejected,
    SyncUnavailable,
    addon,
    booking_payload,
    customer,
    event_payload,
    parse_webhook,
    sign_webhook,
    transport,
    verify_request,
    verify_webhook_signature,
)
from tests.channel_builders import SEED_EXAMPLE

API_URL = "https://hub.test"
KEY = "hw_sk_test_123"


def seed_example(**overrides):
    """The seed's request body, built with the kit."""
    kwargs = dict(
        event="booking.created",
        source_booking_id="7d1c3a52-0000-4000-8000-000000000023",
        booking_ref="HW-000023",
        package_name="World A+",
        package_price=3490,
        activity_date="2026-03-01",
        time_slot="10:00",
        guest_count=2,
        total_amount=8500,
        customer=customer(
            "John Doe",
            "john@example.com",
            phone="1234567890",
            country_code="+66",
            special_requests="Vegetarian lunch please",
        ),
        transport=transport(
            "hotel_pickup", hotel_name="Marriott Phuket", room_number="1205", non_players=1
        ),
        addons=[addon("Photo Package", 1, 500), addon("Souvenir T-Shirt", 2, 350)],
        stripe_payment_intent_id="pi_xxxxxxxxxxxxx",
        created_at="2026-02-20T10:30:00Z",
    )
    kwargs.update(overrides)
    return booking_payload(**kwargs)


class FakeHub:
    """Answers from a script of (status, body, headers) or exceptions, recording requests."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else ok()
        if isinstance(answer, Exception):
            raise answer
        status, body, headers = answer
        return httpx.Response(status, json=body, headers=headers)

    def bodies(self):
        return [json.loads(r.content) for r in self.requests]


def ok(booking_id="b-1"):
    return 200, {"success": True, "booking_id": booking_id, "message": "Booking synced"}, {}


def err(status, code, message="no", details=None, headers=None):
    body = {"success": False, "error": message, "code": code}
    if details is not None:
        body["details"] = details
    return status, body, headers or {}


def make_client(hub, *, queue=None, sleeps=None):
    sleeps = [] if sleeps is None else sleeps
    return OneBookingClient(
        API_URL, KEY, sleep=sleeps.append, queue=queue, transport=httpx.MockTransport(hub)
    )


# -- payload ---------------------------------------------------------------------------------


def test_booking_payload_has_the_seeds_shape_in_whole_units():
    # Seed 002's own example body, byte for byte (the hub's tests send the same one).
    assert seed_example() == {
        **SEED_EXAMPLE,
        "source_booking_id": "7d1c3a52-0000-4000-8000-000000000023",
    }


def test_payload_omits_unset_optionals_and_converts_dates():
    import datetime as dt
    from decimal import Decimal

    body = booking_payload(
        "booking.created", uuid.UUID(int=1), "HW-1", "World A+", Decimal("3490"),
        dt.date(2026, 3, 1), "10:00", 1, Decimal("3490.00"), customer("A", "a@example.com"),
        created_at=dt.datetime(2026, 2, 20, 17, 30, tzinfo=dt.timezone(dt.timedelta(hours=7))),
    )  # fmt: skip
    assert "transport" not in body and "addons" not in body
    assert body["source_booking_id"] == str(uuid.UUID(int=1))
    assert body["activity_date"] == "2026-03-01" and body["total_amount"] == 3490
    assert body["created_at"] == "2026-02-20T10:30:00Z"
    assert body["customer"] == {"name": "A", "email": "a@example.com"}
    assert event_payload("booking.cancelled", "s-1", status="cancelled", reason=None) == {
        "event": "booking.cancelled",
        "source_booking_id": "s-1",
        "status": "cancelled",
    }
    with pytest.raises(ValueError):
        event_payload("booking.deleted", "s-1")


# -- push ------------------------------------------------------------------------------------


def test_push_success_sends_the_seeds_request():
    hub = FakeHub(ok("ob-42"))
    sleeps: list[float] = []
    result = make_client(hub, sleeps=sleeps).push(seed_example())
    assert result.ok and result.status == "synced" and not result.queued
    assert result.booking_id == "ob-42" and result.message == "Booking synced"
    assert result.attempts == 1 and sleeps == []
    (request,) = hub.requests
    assert request.method == "POST" and str(request.url) == "https://hub.test/api/bookings/sync"
    assert request.headers["X-API-Key"] == KEY
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == seed_example()


@pytest.mark.parametrize(
    "failure",
    [
        err(500, "SERVER_ERROR"),
        err(503, "SERVER_ERROR"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=["500", "503", "connect-error", "timeout"],
)
def test_transient_failures_follow_the_seeds_retry_schedule(failure):
    hub = FakeHub(failure, failure, failure, failure, ok("ob-7"))
    sleeps: list[float] = []
    result = make_client(hub, sleeps=sleeps).push(seed_example())
    assert sleeps == [1, 5, 30, 300] == list(RETRY_DELAYS)
    assert result.ok and result.booking_id == "ob-7" and result.attempts == 5
    assert len(hub.requests) == 5
    assert all(b == seed_example() for b in hub.bodies())  # the very same payload each time


def test_recovers_part_way_through_the_schedule():
    hub = FakeHub(err(502, "BAD_GATEWAY"), httpx.ConnectError("x"), ok())
    sleeps: list[float] = []
    assert make_client(hub, sleeps=sleeps).push(seed_example()).attempts == 3
    assert sleeps == [1, 5]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "AUTH_FAILED"),
        (422, "INVALID_PAYLOAD"),
        (409, "DUPLICATE_BOOKING"),
        (404, "WEBSITE_NOT_FOUND"),
    ],
)
def test_permanent_errors_are_not_retried_and_surface_the_code(status, code, tmp_path):
    details = {"fields": [{"path": ["customer", "email"], "message": "bad"}]}
    hub = FakeHub(err(status, code, "refused", details=details))
    sleeps: list[float] = []
    queue = FailedSyncQueue(tmp_path / "q.sqlite3")
    with pytest.raises(SyncRejected) as caught:
        make_client(hub, sleeps=sleeps, queue=queue).push(seed_example())
    exc = caught.value
    assert (exc.status_code, exc.code, exc.error, exc.details) == (status, code, "refused", details)
    assert len(hub.requests) == 1 and sleeps == []
    assert queue.counts() == {"pending": 0, "failed": 0}  # a refusal is not queued for retry


def test_a_4xx_without_the_seeds_body_still_has_a_code():
    def hub(request):
        return httpx.Response(400, text="<html>bad request</html>")

    with pytest.raises(SyncRejected) as caught:
        OneBookingClient(API_URL, KEY, transport=httpx.MockTransport(hub)).push(seed_example())
    assert caught.value.code == "HTTP_400"


def test_429_honours_retry_after_capped():
    hub = FakeHub(
        err(429, "RATE_LIMITED", headers={"Retry-After": "12"}),
        err(429, "RATE_LIMITED", headers={"Retry-After": "86400"}),
        err(429, "RATE_LIMITED"),  # no header: the schedule's delay
        ok(),
    )
    sleeps: list[float] = []
    result = make_client(hub, sleeps=sleeps).push(seed_example())
    assert result.ok and sleeps == [12, 300, 30]


def test_a_2xx_that_is_not_the_hubs_answer_is_retried():
    def bad_then_good():
        calls = iter([httpx.Response(200, text="<html>proxy</html>")])

        def hub(request):
            return next(calls, None) or httpx.Response(200, json=ok("ob-1")[1])

        return hub

    sleeps: list[float] = []
    client = OneBookingClient(
        API_URL, KEY, sleep=sleeps.append, transport=httpx.MockTransport(bad_then_good())
    )
    assert client.push(seed_example()).booking_id == "ob-1" and sleeps == [1]


def test_all_retries_failing_without_a_queue_raises():
    hub = FakeHub(*[err(503, "SERVER_ERROR")] * 5)
    with pytest.raises(SyncUnavailable) as caught:
        make_client(hub).push(seed_example())
    assert caught.value.attempts == 5 and caught.value.http_status == 503


def test_plain_http_is_refused_except_to_this_machine():
    with pytest.raises(ValueError):
        OneBookingClient("http://db.onebooking.co", KEY)
    OneBookingClient("http://127.0.0.1:8000", KEY).close()
    OneBookingClient("http://db.onebooking.co", KEY, allow_http=True).close()


def test_from_env_reads_the_seeds_variables():
    env = {"ONEBOOKING_API_URL": "https://db.onebooking.co/", "ONEBOOKING_API_KEY": "k"}
    client = OneBookingClient.from_env(env)
    assert client.sync_url == "https://db.onebooking.co/api/bookings/sync"
    with pytest.raises(ValueError, match="ONEBOOKING_API_KEY"):
        OneBookingClient.from_env({"ONEBOOKING_API_URL": "https://x.test"})


# -- the durable queue -----------------------------------------------------------------------


def test_exhausted_retries_queue_the_payload_durably(tmp_path):
    path = tmp_path / "queue.sqlite3"
    hub = FakeHub(*[httpx.ConnectError("down")] * 5)
    result = make_client(hub, queue=FailedSyncQueue(path)).push(seed_example())
    assert result.queued and not result.ok and result.queue_id is not None
    assert result.attempts == 5 and "ConnectError" in (result.error or "")

    reopened = FailedSyncQueue(path)  # as after a restart
    (item,) = reopened.pending()
    assert item.id == result.queue_id and item.payload == seed_example()
    assert item.status == "pending" and item.attempts == 5 and "down" in item.last_error
    assert item.event == "booking.created" and item.source_booking_id.startswith("7d1c3a52")
    assert len(reopened) == 1


def test_retry_queued_sends_oldest_first_and_keeps_refusals(tmp_path):
    queue = FailedSyncQueue(tmp_path / "q.sqlite3")
    first = queue.put(seed_example(source_booking_id="a", booking_ref="HW-1"))
    second = queue.put(seed_example(source_booking_id="b", booking_ref="HW-2"))
    third = queue.put(seed_example(source_booking_id="c", booking_ref="HW-3"))
    hub = FakeHub(ok("ob-a"), err(422, "INVALID_PAYLOAD", "bad email"), ok("ob-c"))
    client = make_client(hub, queue=FailedSyncQueue(queue.path))

    report = client.retry_queued()
    assert [b["source_booking_id"] for b in hub.bodies()] == ["a", "b", "c"]
    assert report.synced == [first, third] and report.failed == [second]
    assert report.stopped_on is None and report.pending == 0
    (kept,) = queue.failed()  # not dropped: waits for a person
    assert kept.id == second and kept.status == "failed"
    assert kept.last_error == "422 INVALID_PAYLOAD: bad email"

    queue.requeue(second, {**kept.payload, "customer": customer("Fixed", "ok@example.com")})
    assert client.retry_queued().synced == [second]
    assert queue.counts() == {"pending": 0, "failed": 0}


def test_retry_queued_stops_at_the_first_transient_failure(tmp_path):
    queue = FailedSyncQueue(tmp_path / "q.sqlite3")
    ids = [queue.put(seed_example(source_booking_id=s)) for s in "abc"]
    hub = FakeHub(ok(), err(503, "SERVER_ERROR"))
    sleeps: list[float] = []
    report = make_client(hub, queue=queue, sleeps=sleeps).retry_queued()
    assert report.synced == [ids[0]] and report.stopped_on == ids[1]
    assert report.pending == 2 and sleeps == []  # one attempt per row per pass
    assert len(hub.requests) == 2  # "c" was not sent ahead of "b"
    waiting = queue.pending()
    assert [i.id for i in waiting] == ids[1:] and waiting[0].attempts == 1


def test_a_newer_event_queues_behind_a_pending_one_of_the_same_booking(tmp_path):
    queue = FailedSyncQueue(tmp_path / "q.sqlite3")
    queue.put(seed_example(source_booking_id="a"))
    hub = FakeHub()
    cancel = event_payload("booking.cancelled", "a", status="cancelled")
    result = make_client(hub, queue=queue).push(cancel)
    assert result.queued and hub.requests == []
    assert [i.payload["event"] for i in queue.pending()] == ["booking.created", "booking.cancelled"]
    make_client(hub, queue=queue).retry_queued()
    assert [b["event"] for b in hub.bodies()] == ["booking.created", "booking.cancelled"]


def test_queue_is_safe_for_several_threads(tmp_path):
    queue = FailedSyncQueue(tmp_path / "q.sqlite3")

    def writer(n):
        for i in range(25):
            queue.put(event_payload("booking.updated", f"{n}-{i}", status="confirmed"))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = queue.pending()
    assert len(items) == 200 == len({i.payload["source_booking_id"] for i in items})
    assert [i.id for i in items] == sorted(i.id for i in items)


# -- webhooks --------------------------------------------------------------------------------

SECRET = "whsec_test_secret"
BODY = json.dumps(
    {
        "event": "booking.updated",
        "source_booking_id": "7d1c3a52-0000-4000-8000-000000000023",
        "updated_fields": ["status", "admin_notes"],
        "data": {"status": "cancelled", "admin_notes": "Flight change"},
        "updated_at": "2026-02-20T15:30:00Z",
        "updated_by": "admin@onebooking.co",
    }
)
TS = "1708444800"


def reference_signature(payload: str, secret: str, timestamp: str) -> str:
    """The seed's verifyWebhookSignature, transcribed independently of the kit."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def test_known_vector():
    # Fixed inputs and the hex digest computed outside Python's hmac module: HMAC-SHA256 by
    # its definition (RFC 2104), so the kit cannot agree with itself by accident.
    key = SECRET.encode().ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + f"{TS}.{BODY}".encode()).digest()
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key) + inner).hexdigest()
    signature = "sha256=" + outer
    assert signature == reference_signature(BODY, SECRET, TS)
    assert verify_webhook_signature(BODY, signature, SECRET, TS)
    assert verify_webhook_signature(BODY.encode(), signature, SECRET, TS)  # raw bytes alike
    # A literal computed with another tool:
    #   printf '%s' '1708444800.{"event":"booking.updated","source_booking_id":"abc"}' \
    #     | openssl dgst -sha256 -hmac whsec_test_secret
    body = '{"event":"booking.updated","source_booking_id":"abc"}'
    vector = "sha256=d1875a4ccc0b6ae40c0a9cffaa9eaf5fc44c7bf8cc7e7ea6090776b88be90104"
    assert verify_webhook_signature(body, vector, SECRET, TS)
    assert not verify_webhook_signature(body, vector, SECRET, "1708444801")


def test_signature_semantics_match_the_seed():
    good = reference_signature(BODY, SECRET, TS)
    assert verify_webhook_signature(BODY, good, SECRET, TS)
    assert not verify_webhook_signature(BODY, good.removeprefix("sha256="), SECRET, TS)
    assert not verify_webhook_signature(BODY, good.upper(), SECRET, TS)
    assert not verify_webhook_signature(BODY, good, "other-secret", TS)
    assert not verify_webhook_signature(BODY, good, SECRET, str(int(TS) + 1))
    assert not verify_webhook_signature(BODY + " ", good, SECRET, TS)
    assert not verify_webhook_signature(BODY, "", SECRET, TS)
    assert not verify_webhook_signature(BODY, "sha256=é", SECRET, TS)  # no TypeError


def test_sign_webhook_produces_the_seeds_headers():
    headers = sign_webhook(BODY, SECRET, timestamp=int(TS))
    assert headers["X-Webhook-Timestamp"] == TS
    assert headers["X-Webhook-Signature"] == reference_signature(BODY, SECRET, TS)


def test_verify_request_checks_headers_and_tolerance():
    now = int(TS)
    headers = {
        "x-webhook-signature": reference_signature(BODY, SECRET, TS),  # any case
        "X-WEBHOOK-TIMESTAMP": TS,
    }
    assert verify_request(headers, BODY, SECRET, now=now)
    assert verify_request(httpx.Headers(headers), BODY.encode(), SECRET, now=now + 300)
    assert verify_request(headers, BODY, SECRET, now=now - 300)  # clock skew, either side
    assert not verify_request(headers, BODY, SECRET, now=now + 301)  # too old: a replay
    assert not verify_request(headers, BODY, SECRET, now=now - 301)  # from the future
    assert verify_request(headers, BODY, SECRET, now=now + 1000, tolerance_s=1000)
    assert not verify_request({"X-Webhook-Timestamp": TS}, BODY, SECRET, now=now)
    assert not verify_request(
        {"X-Webhook-Signature": headers["x-webhook-signature"]}, BODY, SECRET, now=now
    )
    assert not verify_request({**headers, "X-WEBHOOK-TIMESTAMP": "soon"}, BODY, SECRET, now=now)
    assert not verify_request(headers, BODY, "", now=now)


def test_fresh_signature_verifies_against_the_clock():
    headers = sign_webhook(BODY, SECRET)
    assert verify_request(headers, BODY, SECRET)


def test_tampered_body_fails():
    headers = sign_webhook(BODY, SECRET, timestamp=int(TS))
    tampered = BODY.replace("cancelled", "confirmed")
    assert not verify_request(headers, tampered, SECRET, now=int(TS))
    with pytest.raises(InvalidSignature, match="mismatch"):
        parse_webhook(headers, tampered, SECRET, now=int(TS))


def test_parse_webhook_returns_the_body_after_verification():
    headers = sign_webhook(BODY, SECRET, timestamp=int(TS))
    event = parse_webhook(headers, BODY.encode(), SECRET, now=int(TS) + 5)
    assert event.event == "booking.updated"
    assert event.source_booking_id == "7d1c3a52-0000-4000-8000-000000000023"
    assert event.updated_fields == ["status", "admin_notes"]
    assert event.data == {"status": "cancelled", "admin_notes": "Flight change"}
    assert event.updated_at == "2026-02-20T15:30:00Z"
    assert event.updated_by == "admin@onebooking.co"
    with pytest.raises(InvalidSignature, match="tolerance"):
        parse_webhook(headers, BODY, SECRET, now=int(TS) + 3600)
    with pytest.raises(InvalidSignature, match="missing"):
        parse_webhook({}, BODY, SECRET, now=int(TS))
    junk = "not json"
    with pytest.raises(InvalidWebhookPayload):
        parse_webhook(sign_webhook(junk, SECRET, timestamp=int(TS)), junk, SECRET, now=int(TS))


def test_headers_from_http_server_and_asgi_pairs():
    from email.message import Message

    signed = sign_webhook(BODY, SECRET, timestamp=int(TS))
    message = Message()  # what http.server's handler has as self.headers
    for k, v in signed.items():
        message[k.lower()] = v
    assert verify_request(message, BODY, SECRET, now=int(TS))
    pairs = [(k.lower().encode(), v.encode()) for k, v in signed.items()]
    assert verify_request(pairs, BODY, SECRET, now=int(TS))
