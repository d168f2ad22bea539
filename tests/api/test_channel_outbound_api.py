"""Seed 002 outbound sync: staff edits of a source website's booking reach the website's webhook,
signed as the seed specifies, through the outbox with the seed's retry schedule, then the
failed-sync queue; never an echo of the website's own change."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from tests.booking_builders import create_booking, make_departure, move
from tests.fakes.signing import LocalServer
from tests.payment_builders import drain
from tos.bookings.models import Booking
from tos.bookings.service import get_booking
from tos.bookings.transitions import transition
from tos.channels import outbound, websites
from tos.channels.models import SyncedBooking, SyncLog, Website
from tos.core import clock
from tos.identity.actors import Actor
from tos.outbox.models import OutboxMessage

SECRET = "whsec_outbound_test_secret"
SCHEDULE = (1, 5, 30, 300)  # seed 002 §Error Handling: RETRY_DELAYS


@pytest.fixture(autouse=True)
def _clock():
    yield
    clock.reset()


class Receiver:
    """The source website's webhook endpoint: a real socket server that verifies every request
    with the seed's algorithm, records it, and answers the next scripted status (200 after)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list[int] = []
        self.lock = threading.Lock()
        self.server = LocalServer(self._handle)

    def _handle(self, method, path, headers, body):
        ts, sig = headers.get("x-webhook-timestamp", ""), headers.get("x-webhook-signature", "")
        digest = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        verified = hmac.compare_digest(f"sha256={digest}", sig)
        with self.lock:
            self.requests.append(
                {"method": method, "path": path, "headers": headers, "body": body,
                 "verified": verified}
            )  # fmt: skip
            status = self.script.pop(0) if self.script else 200
        if status >= 300:
            return status, {"success": False, "error": "try later"}, {}
        return status, {"success": True, "message": "Booking updated"}, {}

    @property
    def url(self) -> str:
        return self.server.url + "/api/webhooks/onebooking"


@pytest.fixture
def receiver():
    r = Receiver()
    r.server.start()
    yield r
    r.server.stop()


@dataclass
class Synced:
    booking_id: str
    website_id: str
    slug: str
    source_id: str


def make_website(db, org_id: str, url: str | None, *, active: bool = True) -> Website:
    slug = f"site-{uuid.uuid4().hex[:8]}"
    with db(write=True, organization_id=org_id) as s:
        key = websites.new_api_key(slug)
        site = Website(
            organization_id=org_id, slug=slug, name=slug, domain=f"{slug}.example",
            key_prefix=key[:12], key_hash=websites.hash_key(key), webhook_url=url,
            webhook_secret_sealed=websites.seal_secret(SECRET), active=active,
        )  # fmt: skip
        s.add(site)
        s.commit()
        return site


def make_synced(client, db, org, url: str | None, *, active: bool = True) -> Synced:
    """A booking of a source website, as inbound sync leaves it (built directly in the DB)."""
    site = make_website(db, org.id, url, active=active)
    booking = create_booking(client, org, make_departure(db, org.id))
    source_id = str(uuid.uuid4())
    with db(write=True, organization_id=org.id) as s:
        row = s.get(Booking, booking["id"])
        row.website_id, row.external_ref, row.source = site.id, source_id, "sync"
        s.add(SyncedBooking(organization_id=org.id, booking_id=row.id, website_id=site.id,
                            source_booking_id=source_id, booking_ref="HW-1",
                            data={"status": "pending"}, created_hash="0" * 64))  # fmt: skip
        s.commit()
    drain(db, org.id)
    return Synced(booking["id"], site.id, site.slug, source_id)


def deliveries(db, org_id: str) -> list[OutboxMessage]:
    with db(write=False, organization_id=org_id) as s:
        stmt = select(OutboxMessage).where(OutboxMessage.handler == outbound.HANDLER)
        return list(s.scalars(stmt.order_by(OutboxMessage.created_at)))


def sync_logs(db, org_id: str, **where) -> list[SyncLog]:
    with db(write=False, organization_id=org_id) as s:
        stmt = select(SyncLog).where(SyncLog.direction == "outbound")
        for k, v in where.items():
            stmt = stmt.where(getattr(SyncLog, k) == v)
        return list(s.scalars(stmt.order_by(SyncLog.created_at, SyncLog.attempt)))


def synced_data(db, org_id: str, booking_id: str) -> dict:
    with db(write=False, organization_id=org_id) as s:
        return s.get(SyncedBooking, booking_id).data


# --- staff edits are sent, signed ----------------------------------------------------------


def test_a_staff_cancellation_sends_one_signed_webhook_in_the_seeds_shape(
    client, db, org, receiver
):
    b = make_synced(client, db, org, receiver.url)
    assert receiver.requests == []  # making it was no edit
    note = "Customer requested cancellation due to flight change"
    r = move(client, org, b.booking_id, "cancelled", role="owner", note=note)
    assert r.status_code == 200, r.text
    drain(db, org.id)

    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert req["method"] == "POST" and req["path"] == "/api/webhooks/onebooking"
    assert req["verified"] is True
    headers = req["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["x-webhook-timestamp"].isdigit()
    assert abs(int(headers["x-webhook-timestamp"]) - clock.utcnow().timestamp()) < 60
    body = json.loads(req["body"])
    assert body == {
        "event": "booking.status_changed",
        "source_booking_id": b.source_id,
        "updated_fields": ["admin_notes", "status"],
        "data": {"status": "cancelled", "admin_notes": note},
        "updated_at": body["updated_at"],
        "updated_by": f"owner@{org.slug}.test",
    }
    assert dt.datetime.strptime(body["updated_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert list(body) == ["event", "source_booking_id", "updated_fields", "data", "updated_at",
                          "updated_by"]  # fmt: skip
    [msg] = deliveries(db, org.id)
    assert msg.status == "done" and headers["x-webhook-id"] == msg.id
    [entry] = sync_logs(db, org.id, booking_id=b.booking_id)
    assert (entry.status, entry.http_status, entry.attempt) == ("success", 200, 1)
    assert entry.latency_ms is not None and entry.latency_ms >= 0
    assert entry.event_type == "booking.status_changed" and entry.outbox_message_id == msg.id
    assert SECRET not in json.dumps(entry.payload)
    assert synced_data(db, org.id, b.booking_id)["status"] == "cancelled"


def test_a_field_edit_sends_only_the_changed_fields_in_the_seeds_names(client, db, org, receiver):
    b = make_synced(client, db, org, receiver.url)
    edit = {"notes": "Pickup moved to 8:15", "dietary_restrictions": "none"}
    r = client.patch(f"/api/v1/bookings/{b.booking_id}", headers=org.headers("manager"), json=edit)
    assert r.status_code == 200, r.text
    edited_at = clock.utcnow()
    clock.advance(120)  # the outbox gets to it later: updated_at is still the edit's time
    drain(db, org.id)
    [req] = receiver.requests
    body = json.loads(req["body"])
    assert req["verified"] and body["event"] == "booking.updated"
    sent_at = dt.datetime.strptime(body["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs((sent_at - edited_at).total_seconds()) < 5
    assert body["updated_fields"] == ["admin_notes"]
    assert body["data"] == {"admin_notes": "Pickup moved to 8:15"}
    assert body["updated_by"] == f"manager@{org.slug}.test"
    assert synced_data(db, org.id, b.booking_id)["admin_notes"] == "Pickup moved to 8:15"
    # A TOS-only field alone owes the website nothing.
    r = client.patch(f"/api/v1/bookings/{b.booking_id}", headers=org.headers("manager"),
                     json={"dietary_restrictions": "vegan"})  # fmt: skip
    assert r.status_code == 200
    drain(db, org.id)
    assert len(receiver.requests) == 1


def test_the_websites_own_change_is_not_echoed(client, db, org, receiver):
    b = make_synced(client, db, org, receiver.url)
    with db(write=True, organization_id=org.id) as s:
        site = s.get(Website, b.website_id)
        booking = get_booking(s, b.booking_id, lock=True)
        channel = Actor(type="channel", id=site.id, organization_id=org.id, name=site.name)
        transition(s, channel, booking, "cancelled", note="cancelled on the website")
        s.commit()
    drain(db, org.id)
    assert receiver.requests == [] and deliveries(db, org.id) == []
    # Even if the event reaches the handler, the handler itself refuses the echo.
    with db(write=True, organization_id=org.id) as s:
        payload = {"organization_id": org.id, "booking_id": b.booking_id, "actor_type": "channel",
                   "actor_id": b.website_id, "from_status": "booking_created",
                   "to_status": "cancelled", "note": None, "metadata": {}}  # fmt: skip
        outbound.on_status_changed(s, OutboxMessage(payload=payload, organization_id=org.id))
        outbound.on_fields_changed(s, OutboxMessage(organization_id=org.id, payload={
            **payload, "changes": {"notes": "from the website"}}))  # fmt: skip
        s.commit()
    assert deliveries(db, org.id) == []


def test_no_webhook_when_the_seed_status_stays_or_the_edit_sends_its_own(db, org, client, receiver):
    b = make_synced(client, db, org, receiver.url)
    actor = org.actor("owner")
    base = {"organization_id": org.id, "booking_id": b.booking_id, "actor_type": "user",
            "actor_id": actor.id, "note": None, "metadata": {}}  # fmt: skip
    with db(write=True, organization_id=org.id) as s:
        for payload in (
            {**base, "from_status": "payment_confirmed", "to_status": "supplier_confirmed"},
            {**base, "from_status": "booking_created", "to_status": "cancelled",
             "metadata": {"sync_back": False}},
        ):  # fmt: skip
            outbound.on_status_changed(s, OutboxMessage(payload=payload, organization_id=org.id))
        s.commit()
    assert deliveries(db, org.id) == []
    # The same change by staff without the marker is owed.
    with db(write=True, organization_id=org.id) as s:
        outbound.on_status_changed(s, OutboxMessage(organization_id=org.id, payload={
            **base, "from_status": "booking_created", "to_status": "cancelled"}))  # fmt: skip
        s.commit()
    assert len(deliveries(db, org.id)) == 1


def test_a_deactivated_website_or_one_without_webhook_url_is_owed_nothing(client, db, org):
    for b in (make_synced(client, db, org, "http://127.0.0.1:9/hook", active=False),
              make_synced(client, db, org, None)):  # fmt: skip
        assert move(client, org, b.booking_id, "cancelled").status_code == 200
    drain(db, org.id)
    assert deliveries(db, org.id) == []


# --- retries, the failed-sync queue, replay ----------------------------------------------------


def _due_in(db, org_id: str) -> float:
    [msg] = deliveries(db, org_id)
    return (msg.due_at - clock.utcnow()).total_seconds()


def test_a_failing_receiver_is_retried_on_the_seeds_schedule_then_queued_and_replayed(
    client, db, org, other_org, receiver
):
    b = make_synced(client, db, org, receiver.url)
    receiver.script = [500] * 5
    assert move(client, org, b.booking_id, "cancelled").status_code == 200
    drain(db, org.id)
    assert len(receiver.requests) == 1
    for n, delay in enumerate(SCHEDULE, start=1):
        assert delay - 1 < _due_in(db, org.id) <= delay  # the next attempt waits `delay`
        drain(db, org.id)
        assert len(receiver.requests) == n  # not before it is due
        clock.advance(delay)
        drain(db, org.id)
        assert len(receiver.requests) == n + 1
    [msg] = deliveries(db, org.id)
    assert msg.status == "dead" and msg.attempts == 5 and "HTTP 500" in msg.last_error
    clock.advance(3600)
    drain(db, org.id)
    assert len(receiver.requests) == 5  # dead: no further attempts

    logs = sync_logs(db, org.id, outbox_message_id=msg.id)
    assert [(e.attempt, e.status, e.http_status) for e in logs] == [
        (n, "failed", 500) for n in range(1, 6)
    ]
    assert all(e.latency_ms is not None and "try later" in e.error_message for e in logs)
    ids = {r["headers"]["x-webhook-id"] for r in receiver.requests}
    assert ids == {msg.id} and len({r["body"] for r in receiver.requests}) == 1
    assert all(r["verified"] for r in receiver.requests)

    # The failed-sync queue: admins see it; staff may not; another organization does not.
    r = client.get("/api/v1/failed-syncs", headers=org.headers("admin"))
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    assert item["id"] == msg.id and item["website"] == {"id": b.website_id, "slug": b.slug}
    assert item["booking_id"] == b.booking_id and item["event"] == "booking.status_changed"
    assert item["attempts"] == 5 and item["last_http_status"] == 500
    assert item["source_booking_id"] == b.source_id and item["last_latency_ms"] is not None
    assert r.json()["total_count"] == 1
    r = client.get(f"/api/v1/failed-syncs?website={b.slug}", headers=org.headers("owner"))
    assert [i["id"] for i in r.json()["items"]] == [msg.id]
    assert client.get("/api/v1/failed-syncs", headers=org.headers("staff")).status_code == 403
    r = client.get("/api/v1/failed-syncs", headers=other_org.headers("owner"))
    assert r.status_code == 200 and r.json()["items"] == []
    replay = f"/api/v1/failed-syncs/{msg.id}/replay"
    assert client.post(replay, headers=other_org.headers("owner")).status_code == 404
    assert client.post(replay, headers=org.headers("staff")).status_code == 403

    r = client.post(replay, headers=org.headers("admin"))
    assert r.status_code == 200, r.text
    assert client.post(replay, headers=org.headers("admin")).status_code == 409
    drain(db, org.id)
    assert len(receiver.requests) == 6
    last = receiver.requests[-1]
    assert last["verified"] and last["headers"]["x-webhook-id"] == msg.id
    assert last["body"] == receiver.requests[0]["body"]
    [msg] = deliveries(db, org.id)
    assert msg.status == "done"
    assert sync_logs(db, org.id, outbox_message_id=msg.id)[-1].status == "success"
    r = client.get("/api/v1/failed-syncs", headers=org.headers("admin"))
    assert r.json()["items"] == []


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def test_an_unreachable_receiver_is_logged_without_a_status_code(client, db, org):
    b = make_synced(client, db, org, _closed_port_url())
    assert move(client, org, b.booking_id, "cancelled").status_code == 200
    drain(db, org.id)
    [msg] = deliveries(db, org.id)
    assert msg.status == "pending" and msg.attempts == 1
    [entry] = sync_logs(db, org.id, outbox_message_id=msg.id)
    assert entry.status == "failed" and entry.http_status is None
    assert entry.error_message.startswith("ConnectError")


def test_replay_is_only_for_failed_syncs(client, db, org):
    with db(write=True, organization_id=org.id) as s:
        from tos.outbox import service as outbox

        other = outbox.enqueue(s, "no.such.handler", {})
        other.status = "dead"
        s.commit()
    r = client.post(f"/api/v1/failed-syncs/{other.id}/replay", headers=org.headers("owner"))
    assert r.status_code == 404
    r = client.post("/api/v1/failed-syncs/nope/replay", headers=org.headers("owner"))
    assert r.status_code == 404


# --- the seed's test webhook ---------------------------------------------------------------


def test_the_test_webhook_sends_the_bookings_current_state_now(client, db, org, receiver):
    b = make_synced(client, db, org, receiver.url)
    r = client.post("/api/admin/test-webhook", headers=org.headers("admin"),
                    json={"website_id": b.slug, "booking_id": b.booking_id,
                          "event": "booking.updated"})  # fmt: skip
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["success"] is True and out["status_code"] == 200
    assert isinstance(out["latency_ms"], int) and "Booking updated" in out["response"]
    [req] = receiver.requests
    body = json.loads(req["body"])
    assert req["verified"] and body["event"] == "booking.updated"
    assert body["source_booking_id"] == b.source_id and body["data"] == {"status": "pending"}
    [entry] = sync_logs(db, org.id, event_type="test:booking.updated")
    assert entry.status == "success" and entry.http_status == 200
    assert deliveries(db, org.id) == []  # sent now, not through the outbox

    # By source_booking_id, and a receiver that fails: reported, not raised.
    receiver.script = [503]
    r = client.post("/api/admin/test-webhook", headers=org.headers("owner"),
                    json={"website_id": b.website_id, "booking_id": b.source_id,
                          "event": "booking.status_changed"})  # fmt: skip
    assert r.status_code == 200
    assert r.json()["success"] is False and r.json()["status_code"] == 503
    assert sync_logs(db, org.id, event_type="test:booking.status_changed")[0].status == "failed"

    # Without a booking: a sample body, clearly marked.
    r = client.post("/api/admin/test-webhook", headers=org.headers("owner"),
                    json={"website_id": b.slug, "event": "booking.updated"})  # fmt: skip
    assert r.status_code == 200 and r.json()["success"] is True
    sample = json.loads(receiver.requests[-1]["body"])
    assert sample["test"] is True and receiver.requests[-1]["verified"]


def test_the_test_webhook_answers_the_seeds_errors(client, db, org, other_org, receiver):
    b = make_synced(client, db, org, receiver.url)
    bare = make_website(db, org.id, None)
    url = "/api/admin/test-webhook"

    def call(json_body, role="owner", who=org):
        return client.post(url, headers=who.headers(role), json=json_body)

    r = call({"website_id": bare.slug, "event": "booking.updated"})
    assert r.status_code == 422
    assert r.json()["success"] is False and r.json()["code"] == "INVALID_PAYLOAD"
    r = call({"website_id": "no-such-site"})
    assert r.status_code == 404 and r.json()["code"] == "WEBSITE_NOT_FOUND"
    r = call({"website_id": b.slug}, who=other_org)  # another organization's website
    assert r.status_code == 404 and r.json()["code"] == "WEBSITE_NOT_FOUND"
    r = call({"website_id": b.slug, "booking_id": str(uuid.uuid4())})
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    r = call({"website_id": b.slug, "event": "booking.created"})
    assert r.status_code == 422 and r.json()["code"] == "INVALID_PAYLOAD"
    r = call({"website_id": b.slug}, role="staff")
    assert r.status_code == 403 and r.json()["success"] is False
    r = client.post(url, json={"website_id": b.slug})
    assert r.status_code == 401 and r.json()["code"] == "AUTH_FAILED"
    r = client.post(url, headers=org.headers("owner"), content=b"{not json")
    assert r.status_code == 422 and r.json()["code"] == "INVALID_PAYLOAD"
    assert receiver.requests == []


# --- the sync log --------------------------------------------------------------------------


def test_sync_logs_are_listed_newest_first_with_filters(client, db, org, other_org, receiver):
    b = make_synced(client, db, org, receiver.url)
    receiver.script = [500]
    assert move(client, org, b.booking_id, "cancelled").status_code == 200
    drain(db, org.id)
    clock.advance(1)
    drain(db, org.id)
    r = client.get(f"/api/v1/sync-logs?website={b.slug}&direction=outbound",
                   headers=org.headers("admin"))  # fmt: skip
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(i["attempt"], i["status"]) for i in items] == [(2, "success"), (1, "failed")]
    r = client.get(f"/api/v1/sync-logs?status=failed&booking_id={b.booking_id}",
                   headers=org.headers("owner"))  # fmt: skip
    assert [i["http_status"] for i in r.json()["items"]] == [500]
    r = client.get("/api/v1/sync-logs?limit=1", headers=org.headers("owner"))
    assert len(r.json()["items"]) == 1 and r.json()["next_cursor"]
    assert client.get("/api/v1/sync-logs", headers=org.headers("staff")).status_code == 403
    r = client.get("/api/v1/sync-logs", headers=other_org.headers("owner"))
    assert r.json()["items"] == []
    r = client.get("/api/v1/sync-logs?status=bogus", headers=org.headers("owner"))
    assert r.status_code == 422
