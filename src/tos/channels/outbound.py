"""Outbound sync (seed 002 §Webhook Specification): staff edits of a source website's booking are
sent back to the website's webhook, signed (channels.signing).

- The body is built when the change happens (`queue_webhook`, in the caller's transaction) and
  delivered through the outbox (`deliver_webhook`), so a webhook is owed exactly when the change
  commits. It carries only the changed fields, in the seed's vocabulary.
- Changes the website itself made (inbound sync acts as actor `channel` with id = website id)
  are never sent back: no echo loops.
- Every delivery attempt is a sync_logs row (status code, latency, attempt number). Retries follow
  the seed's schedule (outbox.RETRY_SCHEDULES); after the last one the row is dead, which is the
  failed-sync queue admins read and replay (admin_api).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tos.bookings.models import Booking
from tos.channels import signing, websites
from tos.channels.models import SyncedBooking, SyncLog, Website
from tos.channels.statuses import to_seed
from tos.core.clock import utcnow
from tos.core.errors import NotFound, ValidationFailed
from tos.identity.actors import Actor
from tos.identity.models import User
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage

log = logging.getLogger("tos.channels.outbound")

HANDLER = "channels.deliver_webhook"
EVENTS = ("booking.updated", "booking.status_changed")
TIMEOUT_S = 10.0
RESPONSE_CHARS = 1000
# TOS booking field -> the seed's field; other TOS fields (assigned_to, flags …) are TOS-only.
FIELD_MAP = {"notes": "admin_notes", "special_requests": "special_requests"}
_BODY_ORDER = ("event", "source_booking_id", "updated_fields", "data", "updated_at", "updated_by")


# --- queueing ------------------------------------------------------------------------------


def is_echo(booking: Booking, actor_type: str | None, actor_id: str | None) -> bool:
    """The change came in from the booking's own website."""
    return actor_type == "channel" and actor_id is not None and actor_id == booking.website_id


def owes_status_webhook(booking: Booking, actor_type: str | None, actor_id: str | None,
                        from_status: str | None, to_status: str) -> bool:  # fmt: skip
    """A lifecycle change the website should hear of: not its creation, not the website's own
    change, and visible in its vocabulary (payment_confirmed … documents_generated are all
    "confirmed" to it)."""
    return (
        from_status is not None
        and not is_echo(booking, actor_type, actor_id)
        and to_seed(from_status) != to_seed(to_status)
    )


def _live_website(session: Session, booking: Booking) -> Website | None:
    if booking.website_id is None:
        return None
    website = session.get(Website, booking.website_id)
    if website is None or not website.active or website.deleted_at is not None:
        return None
    return website if website.webhook_url else None


def updated_by(session: Session, actor: Actor) -> str:
    if actor.type in ("user", "system", "webhook") and actor.id:
        email = session.scalar(select(User.email).where(User.id == actor.id))
        if email:
            return email
    return "system"


def build_body(
    event: str, source_booking_id: str, data: dict[str, Any], by: str,
    at: dt.datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "event": event,
        "source_booking_id": source_booking_id,
        "updated_fields": sorted(data),
        "data": {k: data[k] for k in sorted(data)},
        "updated_at": (at or utcnow()).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_by": by,
    }


def queue_webhook(
    session: Session, actor: Actor, booking: Booking, *, event: str, data: dict[str, Any],
    at: dt.datetime | None = None,
) -> OutboxMessage | None:  # fmt: skip
    """Owe the booking's website a webhook for this change, made `at` (default now). None when
    none is owed: not a synced booking, the website cannot receive webhooks, the website made
    the change itself, or nothing changed."""
    if event not in EVENTS:
        raise ValueError(f"unknown outbound event {event!r}")
    if not data or is_echo(booking, actor.type, actor.id):
        return None
    website = _live_website(session, booking)
    if website is None:
        return None
    source_id = booking.external_ref
    if source_id is None:
        source_id = session.scalar(
            select(SyncedBooking.source_booking_id).where(SyncedBooking.booking_id == booking.id)
        )
    if source_id is None:
        return None
    body = build_body(event, source_id, data, updated_by(session, actor), at)
    return outbox.enqueue(
        session, HANDLER, {"website_id": website.id, "booking_id": booking.id, "body": body}
    )


def _changed_at(payload: dict[str, Any]) -> dt.datetime | None:
    """When the change happened (the event's timestamp), not when the outbox got to it."""
    try:
        at = dt.datetime.fromisoformat(payload["timestamp"])
    except (KeyError, TypeError, ValueError):
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def _actor_of(payload: dict[str, Any]) -> Actor:
    return Actor(type=payload.get("actor_type") or "system", id=payload.get("actor_id"),
                 organization_id=payload.get("organization_id"))  # fmt: skip


def _remember(session: Session, booking: Booking, data: dict[str, Any]) -> None:
    """Keep the website's view of the booking (SyncedBooking.data) in step with what it is
    told (or, for its own changes, what it said)."""
    synced = session.get(SyncedBooking, booking.id)
    if synced is not None and any(synced.data.get(k) != v for k, v in data.items()):
        synced.data = {**synced.data, **data}  # a new dict: JSON columns track assignment only


def on_status_changed(session: Session, message: OutboxMessage) -> None:
    """Outbox handler for `sync.status_changed` (bookings.events)."""
    p = message.payload
    booking = session.get(Booking, p["booking_id"])
    if booking is None or booking.website_id is None:
        return
    _remember(session, booking, {"status": to_seed(booking.status)})
    if not owes_status_webhook(booking, p.get("actor_type"), p.get("actor_id"),
                               p.get("from_status"), p["to_status"]):  # fmt: skip
        return
    if (p.get("metadata") or {}).get("sync_back") is False:
        return  # an edit that sends its own combined webhook (PUT /api/bookings/{id})
    data: dict[str, Any] = {"status": to_seed(p["to_status"])}
    if p.get("note"):
        data["admin_notes"] = p["note"]
        _remember(session, booking, {"admin_notes": p["note"]})
    queue_webhook(session, _actor_of(p), booking, event="booking.status_changed", data=data,
                  at=_changed_at(p))  # fmt: skip


def on_fields_changed(session: Session, message: OutboxMessage) -> None:
    """Outbox handler for `sync.fields_changed` (bookings.service.update_booking)."""
    p = message.payload
    booking = session.get(Booking, p["booking_id"])
    if booking is None or booking.website_id is None:
        return
    data = {FIELD_MAP[k]: v for k, v in (p.get("changes") or {}).items() if k in FIELD_MAP}
    if not data:
        return
    _remember(session, booking, data)
    if is_echo(booking, p.get("actor_type"), p.get("actor_id")):
        return
    queue_webhook(session, _actor_of(p), booking, event="booking.updated", data=data,
                  at=_changed_at(p))  # fmt: skip


# --- delivery ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST to a webhook: status None when no HTTP answer came (refused, timed out)."""

    ok: bool
    status_code: int | None
    latency_ms: int
    response_text: str
    error: str | None


def serialize(body: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact JSON, the seed's key order."""
    ordered = {k: body[k] for k in _BODY_ORDER if k in body}
    ordered.update({k: v for k, v in body.items() if k not in ordered})
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()


def post(url: str, secret: str, raw: bytes, *, delivery_id: str | None = None) -> Attempt:
    timestamp = str(int(utcnow().timestamp()))
    headers = signing.headers(secret, timestamp, raw)
    if delivery_id:
        headers["X-Webhook-Id"] = delivery_id  # the same on every retry: receivers de-duplicate
    started = time.monotonic()
    try:
        response = httpx.post(url, content=raw, headers=headers, timeout=TIMEOUT_S,
                              follow_redirects=False)  # fmt: skip
    except httpx.HTTPError as exc:
        # The exception's text, never the URL or headers (the URL may carry a token).
        latency = int((time.monotonic() - started) * 1000)
        return Attempt(False, None, latency, "", f"{type(exc).__name__}: {str(exc)[:200]}")
    latency = int((time.monotonic() - started) * 1000)
    text = response.text[:RESPONSE_CHARS]
    ok = 200 <= response.status_code < 300
    error = None if ok else f"HTTP {response.status_code}: {text[:200]}"
    return Attempt(ok, response.status_code, latency, text, error)


def _log(
    message: OutboxMessage, website_id: str, booking_id: str | None, body: dict[str, Any],
    attempt: Attempt | None, error: str | None = None,
) -> SyncLog:  # fmt: skip
    return SyncLog(
        organization_id=message.organization_id, booking_id=booking_id, website_id=website_id,
        direction="outbound", event_type=str(body.get("event", ""))[:40], payload=body,
        status="success" if attempt is not None and attempt.ok else "failed",
        error_message=error or (attempt.error if attempt else None),
        http_status=attempt.status_code if attempt else None,
        latency_ms=attempt.latency_ms if attempt else None,
        attempt=message.attempts + 1, outbox_message_id=message.id,
    )  # fmt: skip


def deliver_webhook(session: Session, message: OutboxMessage) -> None:
    """Outbox handler "channels.deliver_webhook" {website_id, booking_id, body}: one signed POST.
    A failure raises HandlerFailed so its sync_logs row outlives the rolled-back attempt."""
    p = message.payload
    body: dict[str, Any] = p["body"]
    website = session.get(Website, p["website_id"])
    if website is None or not website.active or website.deleted_at is not None:
        # Deactivated since the change: the website no longer takes webhooks; nothing to retry.
        if website is not None:
            session.add(_log(message, website.id, p.get("booking_id"), body, None,
                             "website deactivated or deleted; not sent"))  # fmt: skip
        return
    url, secret = website.webhook_url, websites.webhook_secret_of(website)
    if not url or not secret:
        # A configuration gap an admin can fix and then replay from the failed-sync queue.
        failure = _log(message, website.id, p.get("booking_id"), body, None,
                       "website has no webhook_url or secret")  # fmt: skip
        raise outbox.HandlerFailed("website has no webhook_url or secret", _adder(failure))
    raw = serialize(body)
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has one write lock, held by this transaction: release it during the HTTP call
        # (nothing is written yet; the outbox marks the row done in a new transaction).
        session.commit()
    attempt = post(url, secret, raw, delivery_id=message.id)
    row = _log(message, website.id, p.get("booking_id"), body, attempt)
    if not attempt.ok:
        raise outbox.HandlerFailed(f"webhook to {website.slug}: {attempt.error}", _adder(row))
    session.add(row)
    log.info("webhook %s to %s delivered (HTTP %s, %d ms)", message.id, website.slug,
             attempt.status_code, attempt.latency_ms)  # fmt: skip


def _adder(row: SyncLog):
    return lambda session: session.add(row)


# --- the seed's test webhook ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestResult:
    success: bool
    message: str
    status_code: int | None
    latency_ms: int
    response: str


def send_test_webhook(
    session: Session, actor: Actor, *, website_ref: str, booking_ref: str | None, event: str
) -> TestResult:
    """Seed 002 §Test Webhook: one signed webhook sent now, not through the outbox, with the
    booking's current state (or a sample body marked `"test": true`), logged in sync_logs.
    Commits `session`: no transaction stays open during the HTTP call."""
    try:
        website = websites.get(session, website_ref)
    except NotFound:
        raise websites.WebsiteNotFound(details={"website_id": website_ref}) from None
    url, secret = website.webhook_url, websites.webhook_secret_of(website)
    if not url:
        raise ValidationFailed("this website has no webhook_url", path=["website_id"])
    if not secret:
        raise ValidationFailed("this website has no webhook secret", path=["website_id"])
    by = updated_by(session, actor)
    booking_id = None
    if booking_ref is None:
        data: dict[str, Any] = {"status": "confirmed", "admin_notes": "Test webhook from TOS"}
        body = {**build_body(event, "test-booking", data, by), "test": True}
    else:
        synced = session.scalar(
            select(SyncedBooking).where(
                SyncedBooking.website_id == website.id,
                or_(SyncedBooking.booking_id == booking_ref,
                    SyncedBooking.source_booking_id == booking_ref),
            )
        )  # fmt: skip
        booking = session.get(Booking, synced.booking_id) if synced is not None else None
        if synced is None or booking is None:
            raise NotFound("booking", booking_ref)
        booking_id = booking.id
        data = {"status": to_seed(booking.status)}
        notes = booking.notes if booking.notes is not None else synced.data.get("admin_notes")
        if notes is not None:
            data["admin_notes"] = notes
        body = build_body(event, synced.source_booking_id, data, by)
    website_id, org_id = website.id, website.organization_id
    session.commit()
    attempt = post(url, secret, serialize(body))
    session.add(SyncLog(
        organization_id=org_id, booking_id=booking_id, website_id=website_id,
        direction="outbound", event_type=f"test:{event}", payload=body,
        status="success" if attempt.ok else "failed", error_message=attempt.error,
        http_status=attempt.status_code, latency_ms=attempt.latency_ms, attempt=1,
    ))  # fmt: skip
    session.commit()
    if attempt.ok:
        message = "Webhook delivered"
    elif attempt.status_code is None:
        message = f"Webhook not delivered: {attempt.error}"
    else:
        message = f"Webhook answered HTTP {attempt.status_code}"
    return TestResult(attempt.ok, message, attempt.status_code, attempt.latency_ms,
                      attempt.response_text)  # fmt: skip
