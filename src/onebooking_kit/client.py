"""Pushing bookings to the hub (seed 002 §POST /api/bookings/sync, §Retry Logic).

    client = OneBookingClient.from_env(queue=FailedSyncQueue("var/onebooking.sqlite3"))
    result = client.push(booking_payload("booking.created", ...))

`push` sends once and, on a transient failure (no answer, a timeout, HTTP 5xx, 429, 408),
sleeps RETRY_DELAYS[attempt] (1 s, 5 s, 30 s, 5 min: the seed's schedule) and sends again, up
to len(RETRY_DELAYS) retries. A 429's `Retry-After` replaces that delay (capped at
`max_retry_after`). Any other 4xx is the hub refusing the payload for good (AUTH_FAILED,
INVALID_PAYLOAD, DUPLICATE_BOOKING, WEBSITE_NOT_FOUND): no retry, `SyncRejected` carrying the
seed's `code`, `error` and `details`. When every retry has failed, the payload goes into the
durable queue (if the client has one) and the result says `queued`; without a queue,
`SyncUnavailable` is raised. `retry_queued()` (from a cron job or a loop) sends the queue again,
oldest first.

Re-sending is safe: the hub answers an exact replay of a payload it already has with 200 and
the same `booking_id`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from onebooking_kit.queue import FailedSyncQueue

log = logging.getLogger("onebooking_kit")

SYNC_PATH = "/api/bookings/sync"
# Seconds between attempts: the seed's RETRY_DELAYS = [1000, 5000, 30000, 300000] ms.
RETRY_DELAYS: tuple[float, ...] = (1, 5, 30, 300)
EVENTS = ("booking.created", "booking.updated", "booking.cancelled", "booking.refunded")
# Answers worth sending again: the request may succeed later. Everything else 4xx is final.
TRANSIENT_STATUSES = frozenset({408, 429})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
USER_AGENT = "onebooking-kit/1.0 (+seed 002)"


# --------------------------------------------------------------------------------------------
# Results and errors


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What became of one push. `status` is "synced" (the hub has it: `booking_id`) or "queued"
    (every retry failed; it waits in the durable queue as `queue_id`)."""

    status: str
    booking_id: str | None = None
    message: str | None = None
    attempts: int = 0
    queue_id: int | None = None
    error: str | None = None  # for "queued": the last failure
    http_status: int | None = None
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "synced"

    @property
    def queued(self) -> bool:
        return self.status == "queued"


class OneBookingError(Exception):
    """Base of the kit's sync errors."""


class SyncRejected(OneBookingError):
    """The hub refused the payload for good (a 4xx other than 408/429): do not retry as is.
    `code` is the seed's (AUTH_FAILED, INVALID_PAYLOAD, DUPLICATE_BOOKING, WEBSITE_NOT_FOUND,
    or HTTP_<status> when the answer carried none), `error` its message, `details` the field
    paths of a validation failure."""

    def __init__(
        self,
        status_code: int,
        code: str,
        error: str,
        details: dict[str, Any] | None = None,
        *,
        attempts: int = 1,
    ) -> None:
        super().__init__(f"{status_code} {code}: {error}")
        self.status_code = status_code
        self.code = code
        self.error = error
        self.details = details or {}
        self.attempts = attempts


class SyncUnavailable(OneBookingError):
    """Every attempt failed transiently and the client has no queue to keep the payload in."""

    def __init__(self, message: str, *, attempts: int, http_status: int | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.http_status = http_status


class _Transient(Exception):
    def __init__(self, message: str, *, status: int | None = None, wait: float | None = None):
        super().__init__(message)
        self.status = status
        self.wait = wait  # Retry-After, seconds


@dataclass(frozen=True, slots=True)
class RetryReport:
    """What `retry_queued()` did: `synced` rows sent and removed, `failed` rows refused for good
    (kept as failed), `stopped_on` the row whose transient failure ended the pass (later rows
    were left alone so that their order holds), `pending` rows left."""

    synced: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    stopped_on: int | None = None
    error: str | None = None
    pending: int = 0


# --------------------------------------------------------------------------------------------
# The client


class OneBookingClient:
    """A source website's connection to the hub (sync httpx; one client per process, shared
    by threads). `sleep` and `transport` are there for tests: an injected sleep sees the
    retry schedule, `httpx.MockTransport` plays the hub."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        timeout: float = 10,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
        queue: FailedSyncQueue | None = None,
        transport: httpx.BaseTransport | None = None,
        max_retry_after: float = 300,
        allow_http: bool = False,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required (ONEBOOKING_API_KEY)")
        parts = urlsplit(api_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"api_url must be an https:// URL, not {api_url!r}")
        if parts.scheme == "http" and not allow_http and parts.hostname not in LOCAL_HOSTS:
            # Seed 002 §Security: HTTPS only (plain http is allowed to this machine, for tests).
            raise ValueError("api_url must use https:// (allow_http=True to override)")
        self.api_url = api_url.rstrip("/")
        self.sync_url = self.api_url + SYNC_PATH
        self.retry_delays = tuple(retry_delays)
        self.sleep = sleep
        self.queue = queue
        self.max_retry_after = max_retry_after
        self._http = httpx.Client(
            timeout=timeout,
            transport=transport,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-API-Key": api_key,
                "User-Agent": USER_AGENT,
            },
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> OneBookingClient:
        """From ONEBOOKING_API_URL and ONEBOOKING_API_KEY (seed 002 §Environment Variables)."""
        env = os.environ if environ is None else environ
        try:
            url, key = env["ONEBOOKING_API_URL"], env["ONEBOOKING_API_KEY"]
        except KeyError as exc:
            raise ValueError(f"{exc.args[0]} is not set") from None
        return cls(url, key, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OneBookingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request ------------------------------------------------------------------------

    def _send_once(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One POST: (status, decoded success body); raises _Transient or SyncRejected."""
        try:
            response = self._http.post(self.sync_url, json=payload)
        except httpx.TransportError as exc:  # connect/read/write errors and timeouts
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        body = _json_object(response)
        if 200 <= status < 300:
            if body.get("success") is True and body.get("booking_id"):
                return status, body
            # A proxy's page or a half-written answer: the hub may not have it; resending is
            # safe (replays answer with the same booking_id).
            raise _Transient(f"unexpected {status} answer: {response.text[:200]!r}", status=status)
        code = str(body.get("code") or f"HTTP_{status}")
        error = str(body.get("error") or response.reason_phrase or "")
        if status >= 500 or status in TRANSIENT_STATUSES:
            wait = _retry_after(response.headers.get("Retry-After")) if status == 429 else None
            raise _Transient(f"{status} {code}: {error}", status=status, wait=wait)
        details = body.get("details")
        raise SyncRejected(status, code, error, details if isinstance(details, dict) else None)

    def send(self, payload: dict[str, Any]) -> SyncResult:
        """Send once with the retry schedule, without touching the queue: a SyncResult
        ("synced"), SyncRejected, or SyncUnavailable when every attempt failed."""
        attempts, last = 0, None
        for attempt in range(len(self.retry_delays) + 1):
            attempts += 1
            try:
                status, body = self._send_once(payload)
            except SyncRejected as exc:
                exc.attempts = attempts
                log.warning(
                    "sync of %s %s refused: %s",
                    payload.get("event"),
                    payload.get("source_booking_id"),
                    exc,
                )
                raise
            except _Transient as exc:
                last = exc
                if attempt == len(self.retry_delays):
                    break
                delay = self.retry_delays[attempt]
                if exc.wait is not None:
                    delay = min(exc.wait, self.max_retry_after)
                log.info(
                    "sync of %s %s failed (%s); retry %d in %gs",
                    payload.get("event"),
                    payload.get("source_booking_id"),
                    exc,
                    attempt + 1,
                    delay,
                )
                self.sleep(delay)
                continue
            log.info(
                "synced %s %s as %s",
                payload.get("event"),
                payload.get("source_booking_id"),
                body.get("booking_id"),
            )
            return SyncResult(
                status="synced",
                booking_id=str(body["booking_id"]),
                message=body.get("message"),
                attempts=attempts,
                http_status=status,
                response=body,
            )
        assert last is not None
        raise SyncUnavailable(
            f"sync failed after {attempts} attempts: {last}",
            attempts=attempts,
            http_status=last.status,
        )

    # -- push: send, or keep it for later ---------------------------------------------------

    def push(self, payload: dict[str, Any]) -> SyncResult:
        """Send `payload` with the retry schedule (see the module docstring). If every attempt
        fails and there is a queue, the payload is queued (status "queued"). If an earlier sync
        of the same booking is still queued, this one is queued behind it without being sent,
        so the hub never sees a booking's events out of order."""
        if self.queue is not None:
            booking = payload.get("source_booking_id")
            if booking is not None and self.queue.has_pending(str(booking)):
                reason = "an earlier sync of this booking is still queued"
                queue_id = self.queue.put(payload, error=reason)
                log.warning("sync of %s queued behind an earlier one (row %d)", booking, queue_id)
                return SyncResult(status="queued", queue_id=queue_id, error=reason)
        try:
            return self.send(payload)
        except SyncUnavailable as exc:
            if self.queue is None:
                log.error("sync failed after all retries, no queue: %s", exc)
                raise
            queue_id = self.queue.put(payload, error=str(exc), attempts=exc.attempts)
            log.error("sync failed after all retries; queued as row %d: %s", queue_id, exc)
            return SyncResult(
                status="queued",
                attempts=exc.attempts,
                queue_id=queue_id,
                error=str(exc),
                http_status=exc.http_status,
            )

    def retry_queued(self, *, limit: int | None = None) -> RetryReport:
        """One pass over the queue, oldest first, one attempt per row (the cron job's interval
        is the backoff). A row the hub accepts is removed; one it refuses for good is kept as
        `failed` for a person to look at; the first transient failure ends the pass (the hub is
        still unwell, and later rows must not overtake that one)."""
        if self.queue is None:
            raise RuntimeError("this client has no queue")
        synced: list[int] = []
        failed: list[int] = []
        stopped_on, error = None, None
        for item in self.queue.pending(limit):
            try:
                self._send_once(item.payload)
            except SyncRejected as exc:
                self.queue.mark_failed(item.id, f"{exc.status_code} {exc.code}: {exc.error}")
                log.error("queued sync %d refused for good: %s", item.id, exc)
                failed.append(item.id)
                continue
            except _Transient as exc:
                self.queue.record_attempt(item.id, str(exc))
                stopped_on, error = item.id, str(exc)
                log.info("queued sync %d still failing (%s); stopping this pass", item.id, exc)
                break
            self.queue.remove(item.id)
            synced.append(item.id)
        return RetryReport(synced, failed, stopped_on, error, len(self.queue))


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


# --------------------------------------------------------------------------------------------
# Building the seed's payload


def _value(value: Any) -> Any:
    """JSON-ready: dates as ISO 8601 (datetimes in UTC with Z), Decimals as numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        if value.utcoffset() is None:
            raise ValueError(f"{value!r} needs a timezone")
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    return value


def customer(
    name: str,
    email: str,
    *,
    phone: str | None = None,
    country_code: str | None = None,
    special_requests: str | None = None,
) -> dict[str, Any]:
    """The seed's `customer` object."""
    return _value(
        {
            "name": name,
            "email": email,
            "phone": phone,
            "country_code": country_code,
            "special_requests": special_requests,
        }
    )


def transport(
    type: str,
    *,
    hotel_name: str | None = None,
    room_number: str | None = None,
    non_players: int = 0,
    private_passengers: int = 0,
    cost: int | Decimal = 0,
) -> dict[str, Any]:
    """The seed's `transport` object (type: hotel_pickup, self_arrange or private)."""
    return _value(
        {
            "type": type,
            "hotel_name": hotel_name,
            "room_number": room_number,
            "non_players": non_players,
            "private_passengers": private_passengers,
            "cost": cost,
        }
    )


def addon(name: str, quantity: int, unit_price: int | Decimal) -> dict[str, Any]:
    """One of the seed's `addons`."""
    return {"name": name, "quantity": quantity, "unit_price": _value(unit_price)}


def booking_payload(
    event: str,
    source_booking_id: str,
    booking_ref: str,
    package_name: str,
    package_price: int | Decimal,
    activity_date: dt.date | str,
    time_slot: str,
    guest_count: int,
    total_amount: int | Decimal,
    customer: Mapping[str, Any],
    *,
    discount_amount: int | Decimal = 0,
    currency: str = "THB",
    status: str = "confirmed",
    transport: Mapping[str, Any] | None = None,
    addons: Iterable[Mapping[str, Any]] | None = None,
    stripe_payment_intent_id: str | None = None,
    created_at: dt.datetime | str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A complete booking in the seed's JSON shape and order, amounts in whole currency units
    as the source shows them (3490 THB is 3490). Optional members left as None are omitted (an
    explicit null could read as "clear this"); `extra` adds members the seed does not list (the
    hub ignores unknown ones)."""
    if event not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}, not {event!r}")
    if not {"name", "email"} <= set(customer):
        raise ValueError("customer needs at least name and email")
    body: dict[str, Any] = {
        "event": event,
        "source_booking_id": str(source_booking_id),
        "booking_ref": booking_ref,
        "package_name": package_name,
        "package_price": package_price,
        "activity_date": activity_date,
        "time_slot": time_slot,
        "guest_count": guest_count,
        "total_amount": total_amount,
        "discount_amount": discount_amount,
        "currency": currency,
        "status": status,
        "customer": dict(customer),
        "transport": dict(transport) if transport is not None else None,
        "addons": [dict(a) for a in addons] if addons is not None else None,
        "stripe_payment_intent_id": stripe_payment_intent_id,
        "created_at": created_at,
        **extra,
    }
    return _value(body)


def event_payload(event: str, source_booking_id: str, **fields: Any) -> dict[str, Any]:
    """A partial event (seed 002 §Sync Events: `booking.updated` with the updated fields,
    `booking.cancelled` with status and reason, `booking.refunded` with status and amount)."""
    if event not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}, not {event!r}")
    return _value({"event": event, "source_booking_id": str(source_booking_id), **fields})
