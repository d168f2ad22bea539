"""Webhook benchmark: signed sandbox payment webhooks for distinct bookings from 16 concurrent
senders, 10 % of the sends replays of an earlier event.

The real server (`tos serve --workers 2`, its embedded job queue) on a fresh PostgreSQL
database. Seeding puts N bookings in payment_pending straight into the database, each with a
sandbox Payment (requires_action) and the sandbox's SandboxCharge already paid; the signed
`payment.succeeded` events are rendered in advance. A plain-asyncio sender process (this file,
`--generate`) keeps 16 keep-alive connections busy, closed loop, each send taking the next
event of the list. The bookings are `sync` bookings by default, so the automations a payment
sets off (same job queue) are two lifecycle steps, not PDFs and e-mails (`--source website`).
Figures:

- acknowledged/s: webhooks verified, stored (or recognised as replays) and answered 200, over
  the window from the first send to the last answer; p99 of that acknowledgement;
- the lag from the last acknowledgement until every distinct event's `processed_at` is set
  (processing runs through the outbox and the job queue, during the sends and after);
- duplicates processed (must be 0) and every booking paid exactly once (one captured ledger
  entry, one payment_confirmed transition), from SQL afterwards;
- server CPU (TOS + PostgreSQL) per acknowledgement and per event end to end.

    .venv/bin/python bench/webhooks.py [--events 6000] [--senders 16] [--replays 0.1] ...

Prints one JSON document, also written to bench/results/webhooks.json. See bench/README.md
("Webhooks") for how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SIGNED_PATH = "/api/payments/webhook?provider=sandbox"
TARGET = {"senders": 16, "acknowledged_per_s": 300}


# --------------------------------------------------------------------------------------------
# The sender process (`webhooks.py --generate`): no TOS, no SQLAlchemy, so that it costs little


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    line = await reader.readline()
    if not line:
        raise ConnectionError("connection closed")
    status = int(line.split(None, 2)[1])
    length, close = 0, False
    while True:
        header = await reader.readline()
        if header in (b"\r\n", b""):
            break
        name, _, value = header.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    body = await reader.readexactly(length) if length else b""
    if close:
        raise ConnectionResetError("server closed the connection")  # reconnect for the next
    return status, body


async def _generate(requests: list[bytes], host: str, port: int, senders: int) -> list[list]:
    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(asyncio.open_connection(host, port), timeout=10)

    connections = []
    for _ in range(senders):
        # One at a time, as a provider's connections open over time: 16 connections opened in
        # one burst are all accepted by whichever uvicorn worker wakes first.
        connections.append(await connect())
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
    rows: list[list] = []
    queue = iter(range(len(requests)))  # shared: each send takes the next request

    async def sender(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        reader, writer = conn
        for i in queue:
            start = time.time()
            try:
                writer.write(requests[i])
                status, body = await asyncio.wait_for(_read_response(reader), timeout=30)
                duplicate = int(b'"duplicate":true' in body) if status == 200 else -1
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                status, duplicate = 0, -1
                writer.close()
                reader, writer = await connect()
            rows.append([i, start, time.time(), status, duplicate])
        writer.close()

    await asyncio.gather(*(sender(c) for c in connections))
    return rows


def generator_main(argv: list[str]) -> int:
    """--generate REQUESTS_JSON OUT_JSON HOST PORT SENDERS"""
    requests_file, out_file, host, port, senders = argv
    requests = [r.encode("latin-1") for r in json.loads(Path(requests_file).read_text())]
    rows = asyncio.run(_generate(requests, host, int(port), int(senders)))
    Path(out_file).write_text(json.dumps(rows))
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--generate"]:
    sys.exit(generator_main(sys.argv[2:]))


# --------------------------------------------------------------------------------------------
# The harness

from booking_rush import SessionSampler  # noqa: E402 - the sender process needs none of this
from common import (  # noqa: E402
    CpuMeter,
    LoadGenerator,
    SeededOrg,
    Server,
    bench_database,
    emit,
    exit_cleanly_on_signals,
    git_revision,
    log,
    percentiles,
    run,
    seed_organization,
    seed_tour,
    standard_groups,
    wait_for_quiet_machine,
)
from sqlalchemy import Engine, create_engine, insert, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

PRICE = 4500  # seed_tour's ADULT tier, EUR
CONFIRMED_OR_LATER = {"payment_confirmed", "supplier_confirmed", "documents_generated"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--events", type=int, default=6000, help="distinct events (= bookings)")
    p.add_argument("--senders", type=int, default=16, help="concurrent connections")
    p.add_argument("--replays", type=float, default=0.10, help="share of sends that replay")
    p.add_argument(
        "--warmup-events", type=int, default=600, help="first, an unmeasured run this big (0: none)"
    )
    p.add_argument("--workers", type=int, default=2, help="tos serve --workers")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=240,
        help="limit for the sends, and again for the processing after them (signatures are "
        "good for 300 s)",
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the server, e.g. TOS_DB_POOL_SIZE=30",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait up to this long for other work on the machine to stop",
    )
    p.add_argument(
        "--source",
        choices=("website", "sync"),
        default="sync",
        help="the bookings' source. A paid booking sets off its automations in the same job "
        "queue: for a sync booking (its source website has the customer) two lifecycle steps; "
        "for a website booking also invoice, voucher and itinerary PDFs and two e-mails, which "
        "make this a benchmark of the documents instead",
    )
    p.add_argument("--seed", type=int, default=7, help="the replays' random order")
    p.add_argument("--name", default="webhooks", help="results name")
    args = p.parse_args(argv)
    if not 1 <= args.events <= 200_000 or args.warmup_events < 0:
        p.error("--events must be in [1, 200000] and --warmup-events not negative")
    if not 1 <= args.senders <= 256:
        p.error("--senders must be in [1, 256]")
    if not 0 <= args.replays < 0.5:
        p.error("--replays must be in [0, 0.5)")
    if not 10 <= args.max_seconds <= 280:
        p.error("--max-seconds must be in [10, 280]")
    if any("=" not in item for item in args.server_env):
        p.error("--server-env takes KEY=VALUE")
    return args


# --------------------------------------------------------------------------------------------
# Seeding: bookings waiting for payment, their sandbox payments, the sandbox's paid charges


@dataclass(frozen=True)
class Checkout:
    booking_id: str
    payment_id: str
    charge_id: str


def seed_checkouts(
    db_url: str, engine: Engine, org: SeededOrg, phases: dict[str, int], source: str = "website"
) -> dict[str, list[Checkout]]:
    """`phases[p]` bookings per phase (references WH<p>-…), spread over one tour's departures
    so that none is a hot row (a webhook locks its booking and payment only)."""
    from tos.bookings.models import Booking, BookingLine
    from tos.crm.models import Customer
    from tos.db.ids import new_id
    from tos.db.session import use_database
    from tos.payments.models import Payment, SandboxCharge

    total = sum(phases.values())
    per_schedule = 30
    tour = seed_tour(db_url, org, days=math.ceil(total / (3 * per_schedule)), capacity=per_schedule)
    with engine.begin() as conn:
        schedules = list(
            conn.scalars(
                text("SELECT id FROM schedules WHERE tour_id = :t ORDER BY starts_at"),
                {"t": tour.id},
            )
        )
        conn.execute(
            text("UPDATE schedules SET status = 'open', seats_taken = 0 WHERE tour_id = :t"),
            {"t": tour.id},
        )
    tier = tour.tier_ids[0]  # ADULT
    out: dict[str, list[Checkout]] = {}
    factory = use_database(db_url)
    n = 0
    for phase, count in phases.items():
        rows: dict[str, list[dict[str, Any]]] = {"c": [], "b": [], "l": [], "p": [], "s": []}
        checkouts = []
        for i in range(count):
            customer, booking, payment = new_id(), new_id(), new_id()
            charge = "sbx_" + payment.replace("-", "")
            schedule = schedules[n % len(schedules)]
            n += 1
            rows["c"].append(
                {
                    "id": customer,
                    "organization_id": org.id,
                    "email": f"wh{phase}{i}@{org.slug}.test",
                    "first_name": "Web",
                    "last_name": f"Hook {i}",
                }
            )
            rows["b"].append(
                {
                    "id": booking,
                    "organization_id": org.id,
                    "reference": f"WH{phase}-{i:07d}",
                    "customer_id": customer,
                    "schedule_id": schedule,
                    "tour_id": tour.id,
                    "status": "payment_pending",
                    "source": source,
                    "currency": org.currency,
                    "subtotal": PRICE,
                    "total": PRICE,
                    "deposit_required": PRICE,
                    "held_seats": 1,
                    "participants_count": 1,
                    "created_by_type": "system",
                }
            )
            rows["l"].append(
                {
                    "organization_id": org.id,
                    "booking_id": booking,
                    "kind": "scheduled",
                    "schedule_id": schedule,
                    "pricing_tier_id": tier,
                    "name": "Adult",
                    "unit_type": "ADULT",
                    "quantity": 1,
                    "unit_amount": PRICE,
                    "amount": PRICE,
                }
            )
            rows["p"].append(
                {
                    "id": payment,
                    "organization_id": org.id,
                    "booking_id": booking,
                    "provider": "sandbox",
                    "provider_ref": charge,
                    "amount": PRICE,
                    "currency": org.currency,
                    "status": "requires_action",
                    "client_payload": {"provider": "sandbox", "chargeId": charge},
                }
            )
            # The customer pressed Pay: the sandbox's own record says so, TOS does not know yet.
            rows["s"].append(
                {
                    "id": charge,
                    "payment_id": payment,
                    "amount": PRICE,
                    "currency": org.currency,
                    "status": "succeeded",
                }
            )
            checkouts.append(Checkout(booking, payment, charge))
        with factory(write=True, organization_id=org.id) as session:
            for key, model in (
                ("c", Customer),
                ("b", Booking),
                ("l", BookingLine),
                ("p", Payment),
                ("s", SandboxCharge),
            ):
                session.execute(insert(model), rows[key])
            session.commit()
        out[phase] = checkouts
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE schedules s SET seats_taken = b.n, capacity = greatest(s.capacity, b.n) "
                "FROM (SELECT schedule_id, sum(held_seats) AS n FROM bookings "
                "GROUP BY schedule_id) b "
                "WHERE b.schedule_id = s.id"
            )
        )
        conn.execute(text("ANALYZE"))
    return out


# --------------------------------------------------------------------------------------------
# The sends: which event each one carries, rendered as raw HTTP requests


def plan_sends(distinct: int, replay_share: float, rng: random.Random, senders: int) -> list[int]:
    """Event index per send: every event once, in order, and round(share × sends) replays, each
    of an event first sent at least 2 × senders sends earlier (so usually answered already)."""
    sends = round(distinct / (1 - replay_share))
    gap = 2 * senders
    replays = min(sends - distinct, max(0, sends - gap))
    replay_at = set(rng.sample(range(gap, sends), replays))
    plan: list[int] = []
    first_sent: list[int] = []  # the position of each event's first send, ascending
    for pos in range(distinct + replays):
        if pos in replay_at:  # position 0 is never one, so some event is always eligible
            plan.append(rng.randrange(bisect.bisect_right(first_sent, pos - gap)))
        else:
            first_sent.append(pos)
            plan.append(len(first_sent) - 1)
    return plan


def render_requests(
    checkouts: list[Checkout], plan: list[int], event_ids: list[str], secret: str, host: str
) -> list[str]:
    """The signed requests, signed now: a signature is good for 300 s."""
    from tos.payments.models import SandboxCharge
    from tos.payments.providers.sandbox import sign
    from tos.payments.sandbox_sender import build_event

    rendered: dict[int, str] = {}
    out = []
    for index in plan:
        if index not in rendered:
            c = checkouts[index]
            charge = SandboxCharge(
                id=c.charge_id, payment_id=c.payment_id, amount=PRICE, currency="EUR"
            )
            event = build_event(charge, "payment.succeeded", event_ids[index])
            body = json.dumps(event, separators=(",", ":")).encode()
            headers = sign(secret, body)
            rendered[index] = (
                f"POST {SIGNED_PATH} HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                f"X-Payment-Timestamp: {headers['X-Payment-Timestamp']}\r\n"
                f"X-Payment-Signature: {headers['X-Payment-Signature']}\r\n\r\n"
            ) + body.decode()
        out.append(rendered[index])
    return out


# --------------------------------------------------------------------------------------------
# The load: one sender process per run


@dataclass
class Send:
    index: int  # position in the plan
    start: float  # epoch seconds
    end: float
    status: int  # 0: no HTTP answer
    duplicate: int  # 1 answered as a replay, 0 as new, -1 no 200

    @property
    def acknowledged(self) -> bool:
        return self.status == 200


class Senders(LoadGenerator):
    """`webhooks.py --generate`: connects its senders, says "ready", starts on "go" (the
    harness opens its CPU windows first), exits when every request has been answered."""

    name = "asyncio"

    def __init__(self, host: str, port: int, senders: int) -> None:
        super().__init__()
        self.host, self.port, self.senders = host, port, senders

    def run(
        self, requests: list[str], meters: list[CpuMeter], *, timeout: float
    ) -> tuple[list[Send], float]:
        """The sends, and when the last one was answered (epoch s); `meters` are entered just
        before "go" and the first of them left when the sender process exits."""
        with tempfile.TemporaryDirectory(prefix="tos-bench-webhooks-") as tmp:
            req_file, out_file = Path(tmp) / "requests.json", Path(tmp) / "sends.json"
            req_file.write_text(json.dumps(requests))
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--generate",
                str(req_file),
                str(out_file),
                self.host,
                str(self.port),
                str(self.senders),
            ]
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
            )
            assert self.proc.stdin is not None and self.proc.stdout is not None
            try:
                if self.proc.stdout.readline().strip() != b"ready":
                    raise RuntimeError(f"the sender process exited ({self.proc.wait()})")
                for meter in meters:
                    meter.__enter__()
                self.proc.stdin.write(b"go\n")
                self.proc.stdin.flush()
                code = self.proc.wait(timeout=timeout)
                if meters:
                    meters[0].__exit__(None, None, None)
            except BaseException:
                self._abort()
                raise
            if code != 0:
                raise RuntimeError(f"the sender process exited {code}")
            sends = [Send(*row) for row in json.loads(out_file.read_text())]
        sends.sort(key=lambda s: s.end)
        return sends, max((s.end for s in sends), default=time.time())


# --------------------------------------------------------------------------------------------
# The database after a run


def wait_processed(engine: Engine, prefix: str, *, timeout: float) -> int:
    """Until every stored event of the run has processed_at; returns how many have not."""
    sql = "SELECT count(*) FROM webhook_events WHERE event_id LIKE :p AND processed_at IS NULL"
    return _wait_for_zero(engine, sql, {"p": prefix + "%"}, timeout)


def wait_outbox_empty(engine: Engine, *, timeout: float) -> int:
    """Until no outbox row is pending (the automations that follow a payment included)."""
    return _wait_for_zero(
        engine, "SELECT count(*) FROM outbox WHERE status = 'pending'", {}, timeout
    )


def outbox_pending(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT handler, count(*) FROM outbox WHERE status = 'pending' GROUP BY handler")
        )
        return {handler: n for handler, n in rows}


def _wait_for_zero(engine: Engine, sql: str, params: dict[str, Any], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            left = conn.scalar(text(sql), params)
        if not left or time.monotonic() > deadline:
            return int(left or 0)
        time.sleep(0.2)


def verify(engine: Engine, phase: str, event_prefix: str) -> dict[str, Any]:
    """What the run left in the database, from SQL: per booking, captured ledger entries and
    payment_confirmed transitions; per event, stored rows and processing jobs."""
    p = {"ref": f"WH{phase}-%", "evt": event_prefix + "%"}
    ours = "SELECT id FROM bookings WHERE reference LIKE :ref"
    events = "SELECT id FROM webhook_events WHERE event_id LIKE :evt"
    with engine.connect() as conn:

        def rows(sql: str) -> list[Any]:
            return list(conn.execute(text(sql), p).all())

        captured_per_booking = dict(
            rows(
                "SELECT n, count(*) FROM (SELECT b.id, count(l.id) AS n FROM bookings b "
                "LEFT JOIN ledger_entries l ON l.booking_id = b.id AND l.kind = 'captured' "
                "WHERE b.reference LIKE :ref GROUP BY b.id) x GROUP BY n ORDER BY n"
            )
        )
        confirmed_per_booking = dict(
            rows(
                "SELECT n, count(*) FROM (SELECT b.id, count(e.id) AS n FROM bookings b "
                "LEFT JOIN booking_lifecycle_events e ON e.booking_id = b.id "
                "AND e.to_status = 'payment_confirmed' "
                "WHERE b.reference LIKE :ref GROUP BY b.id) x "
                "GROUP BY n ORDER BY n"
            )
        )
        statuses = dict(
            rows(f"SELECT status, count(*) FROM bookings WHERE id IN ({ours}) GROUP BY status")
        )
        payments = dict(
            rows(
                f"SELECT status, count(*) FROM payments WHERE booking_id IN ({ours}) "
                "GROUP BY status"
            )
        )
        stored = rows(
            "SELECT count(*), count(DISTINCT event_id), count(*) FILTER "
            "(WHERE processed_at IS NULL) FROM webhook_events WHERE event_id LIKE :evt"
        )[0]
        outcomes = dict(
            rows(
                "SELECT outcome, count(*) FROM webhook_events "
                "WHERE event_id LIKE :evt GROUP BY outcome"
            )
        )
        jobs = dict(
            rows(
                "SELECT status, count(*) FROM outbox WHERE handler = 'payments.process_webhook' "
                f"AND payload->>'webhook_event_id' IN ({events}) GROUP BY status"
            )
        )
        delay = rows(
            "SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY d), max(d) "
            "FROM (SELECT extract(epoch FROM processed_at - received_at) * 1000 AS d "
            "FROM webhook_events WHERE event_id LIKE :evt AND processed_at IS NOT NULL) x"
        )[0]
        last = conn.scalar(
            text(
                "SELECT extract(epoch FROM max(processed_at)) FROM webhook_events "
                "WHERE event_id LIKE :evt"
            ),
            p,
        )
    return {
        "bookings_by_status": statuses,
        "payments_by_status": payments,
        "captured_entries_per_booking": {str(k): v for k, v in captured_per_booking.items()},
        "payment_confirmed_transitions_per_booking": {
            str(k): v for k, v in confirmed_per_booking.items()
        },
        "webhook_events": {
            "rows": stored[0],
            "distinct_event_ids": stored[1],
            "unprocessed": stored[2],
            "outcomes": outcomes,
        },
        "process_webhook_jobs": jobs,
        "event_delay_ms": {  # processed_at − received_at: waiting for the queue, then processing
            "p50": _ms(delay[0][0] if delay[0] else None),
            "p95": _ms(delay[0][1] if delay[0] else None),
            "p99": _ms(delay[0][2] if delay[0] else None),
            "max": _ms(delay[1]),
        },
        "last_processed_at": float(last) if last is not None else None,
    }


def _ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


# --------------------------------------------------------------------------------------------
# Figures


def figures(
    args: argparse.Namespace,
    plan: list[int],
    sends: list[Send],
    last_ack: float,
    db: dict[str, Any],
    ack_cpu: dict[str, Any],
    total_cpu: dict[str, Any],
    processes: dict[str, float],
    sessions: dict[str, Any],
    busy_before: float,
) -> dict[str, Any]:
    distinct = args.events
    acked = [s for s in sends if s.acknowledged]
    first = min((s.start for s in sends), default=last_ack)
    window = last_ack - first
    seen: set[int] = set()
    replay_sends = 0
    for index in plan:
        replay_sends += index in seen
        seen.add(index)
    status_counts = Counter(str(s.status) for s in sends)
    answered_new = sum(1 for s in acked if s.duplicate == 0)
    answered_dup = sum(1 for s in acked if s.duplicate == 1)

    def cpu_split(cpu: dict[str, Any]) -> tuple[float, float, float]:
        g = cpu["groups"]
        return g["tos_server"]["cpu_s"], g["postgres"]["cpu_s"], cpu["wall_s"]

    tos_s, pg_s, wall = cpu_split(ack_cpu)
    tos_t, pg_t, wall_t = cpu_split(total_cpu)
    gen = ack_cpu["groups"]["load_generator"]
    gen_s = max(gen["cpu_s"], ack_cpu["harness_reaped_children_cpu_s"])
    accounted = tos_s + pg_s + gen_s + ack_cpu["groups"]["postgres_other_databases"]["cpu_s"]
    accounted += ack_cpu["harness_cpu_s"]

    captured = db["captured_entries_per_booking"]
    confirmed = db["payment_confirmed_transitions_per_booking"]
    jobs = sum(db["process_webhook_jobs"].values())
    extra_entries = sum(max(int(n) - 1, 0) * c for n, c in captured.items())
    extra_confirms = sum(max(int(n) - 1, 0) * c for n, c in confirmed.items())
    # A replay that got past de-duplication would have added a processing job, a second
    # captured entry or a second transition; none may exist.
    duplicates_processed = max(jobs - distinct, 0) + extra_entries + extra_confirms
    last_processed = db["last_processed_at"]
    lag = round(last_processed - last_ack, 3) if last_processed is not None else None
    checks = {
        "every send answered 200": len(acked) == len(sends),
        "every booking paid exactly once": captured == {"1": distinct},
        # The automations move a paid booking on (supplier_confirmed, documents_generated).
        "every booking confirmed once": confirmed == {"1": distinct}
        and set(db["bookings_by_status"]) <= CONFIRMED_OR_LATER,
        "every payment succeeded": db["payments_by_status"] == {"succeeded": distinct},
        "every event stored once and processed": db["webhook_events"]["rows"] == distinct
        and db["webhook_events"]["unprocessed"] == 0,
        "one processing job per event": db["process_webhook_jobs"] == {"done": distinct},
        "each event answered new exactly once": answered_new == distinct,
        "duplicates processed == 0": duplicates_processed == 0,
    }
    out: dict[str, Any] = {
        "senders": args.senders,
        "acknowledged_per_s": round(len(acked) / window, 1) if window > 0 else None,
        "ack_latency_ms": percentiles([(s.end - s.start) * 1000 for s in acked]),
        "processing_lag_s": lag,
        "duplicates_processed": duplicates_processed,
        "sends": len(sends),
        "distinct_events": distinct,
        "replay_sends": replay_sends,
        "acknowledged": len(acked),
        "answered_new": answered_new,
        "answered_duplicate": answered_dup,
        "errors": len(sends) - len(acked),
        "errors_5xx": sum(1 for s in sends if s.status >= 500),
        "status_counts": dict(sorted(status_counts.items())),
        "send_window_s": round(window, 3),
        # From the first send until the last event was processed: the end-to-end rate.
        "processed_per_s": round(distinct / (last_processed - first), 1)
        if last_processed
        else None,
        "event_delay_ms": db["event_delay_ms"],
        "server_cpu_ms_per_ack": _per(tos_s + pg_s, len(acked)),
        "server_cpu_ms_per_ack_breakdown": {
            "tos": _per(tos_s, len(acked)),
            "postgres": _per(pg_s, len(acked)),
        },
        "server_cpu_ms_per_event_end_to_end": _per(tos_t + pg_t, distinct),
        "server_cpu_ms_per_event_end_to_end_breakdown": {
            "tos": _per(tos_t, distinct),
            "postgres": _per(pg_t, distinct),
        },
        "server_cores_busy": {"tos": round(tos_s / wall, 3), "postgres": round(pg_s / wall, 3)},
        # Over the send window: the HTTP workers receive; the serve process runs the job queue
        # (huey consumer, 2 threads) that processes the events.
        "tos_process_cores": {k: round(v / wall, 3) for k, v in processes.items()},
        "load_generator": {
            "tool": f"asyncio, 1 process, {args.senders} keep-alive connections",
            "cpu_ms_per_request": _per(gen_s, len(sends)),
            "cores": round(gen_s / wall, 3),
            "busiest_process_core_share": gen["busiest_process_core_share"],
        },
        "postgres_sessions": sessions,
        "database": {**db, "checks": checks},
        "target": {
            **TARGET,
            "met": bool(
                args.senders == TARGET["senders"]
                and window > 0
                and len(acked) / window >= TARGET["acknowledged_per_s"]
            ),
        },
        "machine": {
            **ack_cpu["machine"],
            "unaccounted_cores": round(ack_cpu["machine"]["busy_cores"] - accounted / wall, 3),
            "busy_cores_before_load": busy_before,
        },
        "cpu": {"send_window": ack_cpu, "until_processed": total_cpu, "until_processed_s": wall_t},
    }
    return out


def _per(seconds: float, n: int) -> float | None:
    return round(seconds * 1000 / n, 3) if n else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_cleanly_on_signals()
    server_env = dict(item.split("=", 1) for item in args.server_env)
    rng = random.Random(args.seed)
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    phases = {"W": args.warmup_events, "M": args.events}
    phases = {k: v for k, v in phases.items() if v}
    run_tag = uuid.uuid4().hex[:6]
    result: dict[str, Any] = {}
    with bench_database("webhooks") as db_url, tempfile.TemporaryDirectory() as qdir:
        engine = create_engine(db_url, poolclass=NullPool)
        try:
            org = seed_organization(db_url, timezone="Europe/Rome")
            log(f"seeding {sum(phases.values())} bookings with sandbox payments")
            checkouts = seed_checkouts(db_url, engine, org, phases, args.source)
            env = {
                "TOS_SANDBOX_WEBHOOK_SECRET": secret,
                # The job queue's own file, and the documents and messages the automations
                # write for paid bookings, in a temporary directory, not the checkout's var/.
                "TOS_HUEY_SQLITE_PATH": str(Path(qdir) / "huey.db"),
                "TOS_DOCUMENTS_DIR": str(Path(qdir) / "documents"),
                "TOS_MAIL_DIR": str(Path(qdir) / "mail"),
                "TOS_SMS_DIR": str(Path(qdir) / "sms"),
                **server_env,
            }
            with Server(db_url, workers=args.workers, name=args.name, env=env) as server:
                host = f"127.0.0.1:{server.port}"

                def one_run(phase: str, measured: bool) -> dict[str, Any] | None:
                    items = checkouts[phase]
                    prefix = f"evt_{run_tag}{phase}_"
                    event_ids = [f"{prefix}{i:07d}" for i in range(len(items))]
                    plan = plan_sends(len(items), args.replays, rng, args.senders)
                    requests = render_requests(items, plan, event_ids, secret, host)
                    gen = Senders("127.0.0.1", server.port, args.senders)
                    meters = []
                    if measured:
                        # The send window, and from the first send until every event is processed.
                        groups = standard_groups(server, db_url, gen)
                        meters = [CpuMeter(groups), CpuMeter(groups)]
                    with SessionSampler(engine) as sampler:
                        sends, last_ack = gen.run(requests, meters, timeout=args.max_seconds)
                        left = wait_processed(engine, prefix, timeout=args.max_seconds)
                    if meters:
                        meters[1].__exit__(None, None, None)
                    acked = sum(1 for s in sends if s.acknowledged)
                    log(
                        f"{phase}: {len(sends)} sends, {acked} acknowledged in "
                        f"{last_ack - min(s.start for s in sends):.1f}s; {left} unprocessed"
                    )
                    if not measured:
                        return None
                    downstream = outbox_pending(engine)
                    db = verify(engine, phase, prefix)
                    db["outbox_pending_when_processed"] = downstream
                    per_process = meters[0].per_process("tos_server")
                    processes = {
                        f"http_worker_{n}": per_process.get(pid, 0.0)
                        for n, pid in enumerate(server.worker_pids(), 1)
                    }
                    assert server.proc is not None
                    processes["serve_process_job_queue"] = per_process.get(server.proc.pid, 0.0)
                    first = min(s.start for s in sends)
                    return figures(
                        args,
                        plan,
                        sends,
                        last_ack,
                        db,
                        meters[0].report(),
                        meters[1].report(),
                        processes,
                        sampler.report(first, last_ack),
                        busy_before,
                    )

                busy_before = 0.0
                if "W" in checkouts:
                    log(f"warm-up: {args.warmup_events} events")
                    one_run("W", measured=False)
                    # What the warm-up's payments set off (documents, messages) must not queue
                    # ahead of the measured events.
                    left = wait_outbox_empty(engine, timeout=args.max_seconds)
                    if left:
                        raise SystemExit(f"the warm-up left {left} outbox rows pending")
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
                busy_before = wait_for_quiet_machine(args.wait_quiet)
                if busy_before > 0.25:
                    log(f"warning: {busy_before} cores busy before the load")
                log(f"measured: {args.events} events, {args.senders} senders")
                result = one_run("M", measured=True) or {}
                if result.get("errors"):
                    result["server_log_tail"] = server.log_tail(10)
        finally:
            engine.dispose()
    lat = result.get("ack_latency_ms", {})
    log(
        f"{result.get('acknowledged_per_s')} acknowledged/s, p99 {lat.get('p99')} ms, lag "
        f"{result.get('processing_lag_s')} s, duplicates processed "
        f"{result.get('duplicates_processed')}"
    )
    results = {
        "benchmark": "webhooks",
        **result,
        "parameters": {
            "endpoint": f"POST {SIGNED_PATH}",
            "events": args.events,
            "senders": args.senders,
            "replay_share": args.replays,
            "booking_source": args.source,
            "warmup_events": args.warmup_events,
            "server_workers": args.workers,
            "server_env": server_env,
            "job_queue": "embedded (huey on SQLite, 2 threads in the serve process)"
            if "TOS_REDIS_URL" not in server_env
            else "redis",
            "generator": "plain asyncio, raw HTTP/1.1 keep-alive, 1 process",
            "database": "postgresql",
        },
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git_revision(),
    }
    emit(args.name, results)
    if not all(result.get("database", {}).get("checks", {"ran": False}).values()):
        log("FAILED: see database.checks")
        return 1
    return 0


if __name__ == "__main__":
    run(main)
