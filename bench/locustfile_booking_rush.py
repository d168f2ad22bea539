"""Locust user for the booking rush: POST /api/v1/bookings for one seat on $BENCH_SCHEDULE_ID
(tier $BENCH_TIER_ID) with `Authorization: Bearer $BENCH_TOKEN`, back to back, each request
with a new customer email and a new Idempotency-Key, until the answer is 409
CAPACITY_EXCEEDED; then that user stops. Any other answer (409 BUSY, 4xx, 5xx, a transport
error) is recorded and the user tries again.

Handshake with bench/booking_rush.py (class RushLocust), all in $BENCH_OUT_DIR:
- `ready-<pid>` once all $BENCH_USERS users are spawned; they wait in on_start;
- the harness opens its CPU window and creates `go`: every user sends its first request;
- `finished-<pid>` when the last user has stopped; locust then quits by itself (`-t` is only
  the safety limit);
- `<pid>.json` on quitting: every request as [start, end (epoch s), latency ms, HTTP status
  (0: no answer), error code or text].
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from locust import FastHttpUser, constant, events, task
from locust.env import Environment
from locust.exception import StopUser

PATH = "/api/v1/bookings"
SCHEDULE_ID = os.environ["BENCH_SCHEDULE_ID"]
TIER_ID = os.environ["BENCH_TIER_ID"]
USERS = int(os.environ["BENCH_USERS"])
OUT_DIR = Path(os.environ["BENCH_OUT_DIR"])
HEADERS = {
    "Authorization": f"Bearer {os.environ['BENCH_TOKEN']}",
    "Content-Type": "application/json",
}
SOLD_OUT = "CAPACITY_EXCEEDED"
PROMO_CODE = os.environ.get("BENCH_PROMO_CODE", "")  # booking_rush.py --pricing

_go = Event()
_requests: list[tuple[float, float, float, int, str]] = []
_stopped = 0
_environment: Environment | None = None


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    global _environment
    _environment = environment


@events.spawning_complete.add_listener
def _spawned(**_: Any) -> None:
    (OUT_DIR / f"ready-{os.getpid()}").touch()
    gevent.spawn(_wait_for_go)


def _wait_for_go() -> None:
    go = OUT_DIR / "go"
    while not go.exists():
        gevent.sleep(0.002)
    _go.set()


@events.quitting.add_listener
def _dump(**_: Any) -> None:
    (OUT_DIR / f"{os.getpid()}.json").write_text(json.dumps({"requests": _requests}))


def _user_done() -> None:
    global _stopped
    _stopped += 1
    if _stopped == USERS:
        (OUT_DIR / f"finished-{os.getpid()}").touch()
        if _environment is not None and _environment.runner is not None:
            gevent.spawn(_environment.runner.quit)


def _error_code(body: str | None) -> str:
    try:
        return str(json.loads(body or "")["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return (body or "")[:200]


class Booker(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        _go.wait()

    @task
    def book(self) -> None:
        payload: dict[str, Any] = {
            "schedule_id": SCHEDULE_ID,
            "customer": {
                "email": f"rush-{uuid.uuid4().hex}@example.com",
                "first_name": "Rush",
                "last_name": "Customer",
            },
            "line_items": [{"pricing_tier_id": TIER_ID, "quantity": 1}],
            "source": "admin",
        }
        if PROMO_CODE:
            payload["promotional_code"] = PROMO_CODE
        body = json.dumps(payload)
        headers = {**HEADERS, "Idempotency-Key": str(uuid.uuid4())}
        start, t0 = time.time(), time.perf_counter()
        with self.client.post(
            PATH, data=body, headers=headers, name="POST bookings", catch_response=True
        ) as response:
            latency_ms = (time.perf_counter() - t0) * 1000
            status = response.status_code or 0
            if status == 201:
                code = ""
                response.success()
            elif status:
                code = _error_code(response.text)
                if code == SOLD_OUT:
                    response.success()
                else:
                    response.failure(f"{status} {code}")
            else:
                code = repr(response.error)[:200]
                response.failure(code)
        _requests.append((start, time.time(), latency_ms, status, code))
        if status == 409 and code == SOLD_OUT:
            _user_done()
            raise StopUser()
