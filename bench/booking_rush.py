"""Write benchmark: the booking rush. N clients book one seat each on one departure of 2,000
seats, back to back, until it is sold out.

The real server (`tos serve --workers 2`) on a fresh PostgreSQL database. For each
concurrency level (default 16, then 64) a fresh schedule is seeded and that many closed-loop
locust users (FastHttpUser, released together) POST /api/v1/bookings for 1 seat, each request
with a new customer and a new Idempotency-Key, until each gets 409 CAPACITY_EXCEEDED. Prints
one JSON document (also written to bench/results/<name>.json) with, per level: bookings/s,
latency percentiles of the 201s, 409s, errors, server CPU per booking (TOS processes +
PostgreSQL), and what the database holds afterwards: `oversold` (must be 0), the seat counter
against the bookings, and the rows each booking wrote (lifecycle events, audit, outbox).

    .venv/bin/python bench/booking_rush.py [--clients 16,64] [--seats 2000] [--workers 2] ...

See bench/README.md ("Booking rush") for how to read the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import (
    BENCH_DIR,
    RESULTS_DIR,
    ROOT,
    CpuMeter,
    LoadGenerator,
    PySpy,
    SeededOrg,
    Server,
    bench_database,
    emit,
    executable,
    exit_cleanly_on_signals,
    git_revision,
    log,
    percentiles,
    profiling,
    run,
    seed_organization,
    seed_tour,
    standard_groups,
    wait_for_quiet_machine,
)
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

LOCUSTFILE = BENCH_DIR / "locustfile_booking_rush.py"
SOLD_OUT = "CAPACITY_EXCEEDED"
# The target, for the level with this many clients.
TARGET = {"clients": 16, "bookings_per_s": 200, "p99_ms": 150}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--clients",
        default="16,64",
        help="concurrency levels, comma-separated: one rush on a fresh schedule each",
    )
    p.add_argument("--seats", type=int, default=2000, help="capacity of each rushed schedule")
    p.add_argument(
        "--warmup-seats",
        type=int,
        default=200,
        help="first, an unmeasured rush on a schedule this big (0: none)",
    )
    p.add_argument("--workers", type=int, default=2, help="tos serve --workers")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=180,
        help="safety limit per rush: clients still booking then are stopped",
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the server, e.g. TOS_DB_POOL_SIZE=20",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait up to this long for other work on the machine to stop",
    )
    p.add_argument(
        "--profile",
        type=int,
        default=None,
        metavar="CLIENTS",
        help="py-spy record the workers during the rush at this level (its figures are then "
        "perturbed); raw stacks go to bench/results/",
    )
    p.add_argument(
        "--pricing",
        action="store_true",
        help="Core 2b's pricing on every booking: the organization charges VAT (exclusive) "
        "and a city tax (inclusive), the tour has a season and an early-bird rule, and every "
        "request sends a promotional code (limited to 10 million uses, so each booking counts "
        "a use under the code's row lock)",
    )
    p.add_argument("--name", default=None, help="results name (booking_rush[_pricing])")
    args = p.parse_args(argv)
    args.name = args.name or ("booking_rush_pricing" if args.pricing else "booking_rush")
    try:
        args.levels = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        p.error("--clients takes integers, e.g. 16,64")
    if not args.levels or min(args.levels) < 1 or max(args.levels) > 1000:
        p.error("--clients: between 1 and 1000 each")
    if args.seats < 1 or args.warmup_seats < 0:
        p.error("--seats must be positive and --warmup-seats not negative")
    if not 1 <= args.max_seconds <= 1800:
        p.error("--max-seconds must be in [1, 1800]")
    if any("=" not in item for item in args.server_env):
        p.error("--server-env takes KEY=VALUE")
    if args.profile is not None and args.profile not in args.levels:
        p.error("--profile must be one of the --clients levels")
    return args


# --------------------------------------------------------------------------------------------
# Seeding: one tour, one schedule per rush (the warm-up's first), all open and empty


def seed_rush_schedules(
    db_url: str, engine: Engine, org: SeededOrg, capacities: list[int]
) -> tuple[list[str], str]:
    """One start-time tour with an ADULT tier and one daily departure per capacity, from
    tomorrow on; returns the schedule ids (in that order) and the ADULT tier's id."""
    tomorrow = datetime.now(ZoneInfo(org.timezone)).date() + timedelta(days=1)
    tour = seed_tour(
        db_url,
        org,
        days=len(capacities),
        start_times=("10:00",),
        capacity=max(capacities),
        first_date=tomorrow,
    )
    with engine.begin() as conn:
        ids = list(
            conn.scalars(
                text("SELECT id FROM schedules WHERE tour_id = :tour ORDER BY starts_at"),
                {"tour": tour.id},
            )
        )
        for schedule_id, capacity in zip(ids, capacities, strict=True):
            # seed_tour's status mix (closed, partly sold) is for reads: reset every schedule.
            conn.execute(
                text(
                    "UPDATE schedules SET status = 'open', seats_taken = 0, "
                    "capacity = :capacity WHERE id = :id"
                ),
                {"capacity": capacity, "id": schedule_id},
            )
        conn.execute(text("ANALYZE schedules"))
    return ids, tour.tier_ids[0]  # seed_tour's tiers: ADULT, CHILD


def seed_pricing(db_url: str, org: SeededOrg, tier_id: str) -> str:
    """--pricing: taxes, a season and an early-bird rule that every rushed booking meets, and
    a promotional code; returns the code."""
    from sqlalchemy import select

    from tos.catalog.models import PricingTier
    from tos.db.session import use_database
    from tos.identity.models import Organization
    from tos.pricing.models import PricingRule, PromotionalCode, SeasonalPricing

    factory = use_database(db_url)
    now = datetime.now(UTC)
    with factory(write=True, organization_id=org.id) as session:
        organization = session.scalar(select(Organization).where(Organization.id == org.id))
        assert organization is not None
        organization.settings = {**(organization.settings or {}), "taxes": [
            {"name": "VAT", "rate_bp": 2200, "inclusive": False},
            {"name": "City tax", "rate_bp": 100, "inclusive": True},
        ]}  # fmt: skip
        tour_id = session.scalar(select(PricingTier.tour_id).where(PricingTier.id == tier_id))
        today = now.date()
        session.add_all([
            SeasonalPricing(tour_id=tour_id, name="Peak", start_date=today,
                            end_date=today + timedelta(days=30), adjustment_type="percentage",
                            adjustment_value=1500, priority=1),
            PricingRule(kind="early_bird", name="Book a day ahead", discount_type="percentage",
                        discount_value=500, min_days_before=1),
            PromotionalCode(code="RUSH10", discount_type="percentage", discount_value=1000,
                            currency=org.currency, max_uses=10_000_000,
                            valid_from=now - timedelta(days=1),
                            valid_until=now + timedelta(days=30)),
        ])  # fmt: skip
        session.commit()
    return "RUSH10"


# --------------------------------------------------------------------------------------------
# The load: one locust run per rush


@dataclass
class Request:
    start: float  # epoch seconds
    end: float
    latency_ms: float
    status: int  # 0: no HTTP answer
    code: str  # the error code (or text) of a non-201 answer

    @property
    def ok(self) -> bool:
        return self.status == 201

    @property
    def sold_out(self) -> bool:
        return self.status == 409 and self.code == SOLD_OUT


@dataclass
class RushLoad:
    requests: list[Request]
    go_at: float  # when the harness released the users
    finished: bool  # every user stopped on 409 CAPACITY_EXCEEDED before --max-seconds
    generator: str
    sessions: dict[str, Any] | None = None  # SessionSampler.report over the rush


class RushLocust(LoadGenerator):
    """`locustfile_booking_rush.py` headless, one process: all users spawned, then released
    at once when the harness has opened its CPU window; the run ends when the last user got
    its 409 CAPACITY_EXCEEDED (or at `max_seconds`)."""

    name = "locust"

    def __init__(
        self,
        host: str,
        *,
        users: int,
        schedule_id: str,
        tier_id: str,
        token: str,
        max_seconds: float,
        promo_code: str = "",
    ) -> None:
        super().__init__()
        self.host, self.users, self.max_seconds = host, users, max_seconds
        self.schedule_id, self.tier_id, self.token = schedule_id, tier_id, token
        self.promo_code = promo_code

    def run(self, meter: CpuMeter | None = None, profiler: PySpy | None = None) -> RushLoad:
        with tempfile.TemporaryDirectory(prefix="tos-bench-rush-") as tmp:
            out = Path(tmp)
            env = dict(
                os.environ,
                BENCH_TOKEN=self.token,
                BENCH_SCHEDULE_ID=self.schedule_id,
                BENCH_TIER_ID=self.tier_id,
                BENCH_PROMO_CODE=self.promo_code,
                BENCH_USERS=str(self.users),
                BENCH_OUT_DIR=tmp,
            )
            spawn_rate = max(1000, self.users * 100)  # all users within milliseconds
            options = (
                f"--headless --host {self.host} -u {self.users} -r {spawn_rate} "
                f"-t {self.max_seconds:g}s --stop-timeout 0 --only-summary --loglevel WARNING "
                "--exit-code-on-error 0"
            )
            cmd = [executable("locust"), "-f", str(LOCUSTFILE), *options.split()]
            self._start(cmd, env)
            try:
                self._wait_for(out, "ready-*", timeout=60)
                with profiling(profiler), meter if meter is not None else nullcontext():
                    go_at = time.time()
                    (out / "go").touch()
                    finished = self._wait_for(
                        out, "finished-*", timeout=self.max_seconds + 30, until_exit=True
                    )
            except BaseException:
                self._abort()
                raise
            self._finish(timeout=60)
            parts = [json.loads(p.read_text()) for p in out.glob("[0-9]*.json")]
        if not parts:
            raise RuntimeError("locust wrote no results")
        requests = [Request(*row) for part in parts for row in part["requests"]]
        requests.sort(key=lambda r: r.end)
        return RushLoad(requests, go_at, finished, f"locust x1 ({self.users} users)")

    def _wait_for(
        self, out: Path, pattern: str, *, timeout: float, until_exit: bool = False
    ) -> bool:
        """Until a file matching `pattern` appears (True), or locust exits (False if
        `until_exit`, else an error), or `timeout` passes (locust is then stopped)."""
        deadline = time.monotonic() + timeout
        while not any(out.glob(pattern)):
            if self.proc is not None and self.proc.poll() is not None:
                if until_exit:
                    return False
                raise RuntimeError(f"locust exited early ({self.proc.returncode})")
            if time.monotonic() > deadline:
                self._abort()
                raise RuntimeError(f"locust: no {pattern} within {timeout:g}s")
            time.sleep(0.005)
        return True


# --------------------------------------------------------------------------------------------
# What the database holds after a rush


STATS_SETTLE_S = 11
PG_COUNTERS = (
    *("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted"),
    *("tup_fetched", "tup_returned"),
)
Counters = dict[tuple[str, str, str], int]  # (database|tables|indexes, name, counter) -> value


def pg_counters(engine: Engine) -> Counters:
    """PostgreSQL's cumulative statistics for this database: pg_stat_database, and the scans
    and rows read per table and per index. A backend reports them at exit, or when it has
    been idle for PostgreSQL's 10 s (pgstat's PGSTAT_IDLE_INTERVAL): read them STATS_SETTLE_S
    after the load stopped (the harness's own connections are not pooled)."""
    queries = {
        "database": f"SELECT '', {', '.join(PG_COUNTERS)} FROM pg_stat_database "
        "WHERE datname = current_database()",
        "tables": "SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), "
        "coalesce(idx_tup_fetch, 0), n_tup_ins, n_tup_upd FROM pg_stat_user_tables",
        "indexes": "SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes",
    }
    columns = {
        "database": PG_COUNTERS,
        "tables": (
            "seq_scan",
            "seq_tup_read",
            "idx_scan",
            "idx_tup_fetch",
            "n_tup_ins",
            "n_tup_upd",
        ),
        "indexes": ("idx_scan", "idx_tup_read"),
    }
    out: Counters = {}
    with engine.connect() as conn:
        for kind, sql in queries.items():
            for name, *values in conn.execute(text(sql)):
                out.update(((kind, name, c), v) for c, v in zip(columns[kind], values, strict=True))
    return out


def pg_per_booking(before: Counters, after: Counters, bookings: int) -> dict[str, Any]:
    """The counters' growth over the rush per booking; tables and indexes that moved only."""
    out: dict[str, Any] = {"database": {}, "tables": {}, "indexes": {}}
    for (kind, name, counter), value in sorted(after.items()):
        delta = value - before.get((kind, name, counter), 0)
        if kind == "database":
            out["database"][counter] = round(delta / bookings, 2)
        elif delta:
            out[kind].setdefault(name, {})[counter] = round(delta / bookings, 2)
    return out


class SessionSampler:
    """What the server's PostgreSQL sessions do during the rush: pg_stat_activity every
    `interval` seconds, over a connection of its own. `waiting_for_lock`: sessions queued on
    a row lock (the hot schedule row); `idle_in_transaction`: transactions left open while TOS
    works in Python between statements (a lock taken early is held meanwhile)."""

    SQL = text(
        "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'"
    )

    def __init__(self, engine: Engine, *, interval: float = 0.1):
        self.engine, self.interval = engine, interval
        self.samples: list[tuple[float, Counter[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pg-sessions", daemon=True)

    def __enter__(self) -> SessionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        with self.engine.connect() as conn:
            while not self._stop.wait(self.interval):
                counts: Counter[str] = Counter()
                for state, wait_type, wait_event in conn.execute(self.SQL):
                    counts["sessions"] += 1
                    if state == "active":
                        counts["active"] += 1
                        if wait_type == "Lock":
                            counts["waiting_for_lock"] += 1
                        if wait_type:
                            counts[f"wait {wait_type}:{wait_event}"] += 1
                    elif state and state.startswith("idle in transaction"):
                        counts["idle_in_transaction"] += 1
                conn.rollback()  # a new snapshot of the statistics next time
                self.samples.append((time.time(), counts))

    def report(self, start: float, end: float) -> dict[str, Any]:
        """Average sessions in each state between `start` and `end` (epoch seconds)."""
        window = [counts for t, counts in self.samples if start <= t <= end]
        total: Counter[str] = Counter()
        for counts in window:
            total.update(counts)
        n = len(window) or 1
        averages = {k: round(v / n, 2) for k, v in total.items()}
        head = ("sessions", "active", "waiting_for_lock", "idle_in_transaction")
        return {
            "samples": len(window),
            **{k: averages.get(k, 0.0) for k in head},
            "active_waits": dict(
                sorted(
                    ((k[5:], v) for k, v in averages.items() if k.startswith("wait ")),
                    key=lambda kv: -kv[1],
                )[:6]
            ),
        }


def verify(engine: Engine, schedule_id: str) -> dict[str, Any]:
    """The seat counter against the bookings, and the rows the bookings wrote, from SQL."""
    ours = "SELECT id FROM bookings WHERE schedule_id = :s"
    with engine.connect() as conn:
        one = lambda sql: conn.execute(text(sql), {"s": schedule_id}).one()  # noqa: E731
        schedule = one("SELECT capacity, seats_taken, status FROM schedules WHERE id = :s")
        bookings = one(
            "SELECT count(*) AS all_, "
            "count(*) FILTER (WHERE status NOT IN ('cancelled', 'refunded')) AS live, "
            "coalesce(sum(held_seats), 0) AS held, count(DISTINCT customer_id) AS customers "
            "FROM bookings WHERE schedule_id = :s"
        )
        counts = {
            "booking_lines": f"SELECT count(*) FROM booking_lines WHERE booking_id IN ({ours})",
            "lifecycle_events": "SELECT count(*) FROM booking_lifecycle_events "
            f"WHERE booking_id IN ({ours})",
            "audit_log_booking": "SELECT count(*) FROM audit_log "
            f"WHERE entity_type = 'booking' AND entity_id IN ({ours})",
            "audit_log_customer": "SELECT count(*) FROM audit_log WHERE entity_type = 'customer' "
            "AND entity_id IN (SELECT customer_id FROM bookings WHERE schedule_id = :s)",
            "outbox": f"SELECT count(*) FROM outbox WHERE payload->>'booking_id' IN ({ours})",
            "idempotency_records": "SELECT count(*) FROM idempotency_records "
            f"WHERE response->>'id' IN ({ours})",
        }
        rows = {name: one(sql)[0] for name, sql in counts.items()}
        outbox_events = dict(
            conn.execute(
                text(
                    "SELECT event, count(*) FROM outbox "
                    f"WHERE payload->>'booking_id' IN ({ours}) GROUP BY event ORDER BY event"
                ),
                {"s": schedule_id},
            ).all()
        )
    return {
        "schedule": {
            "capacity": schedule.capacity,
            "seats_taken": schedule.seats_taken,
            "status": schedule.status,
        },
        "bookings": bookings.all_,
        "live_bookings": bookings.live,
        "held_seats_sum": int(bookings.held),
        "customers": bookings.customers,
        "rows": rows,
        "outbox_events": outbox_events,
    }


# --------------------------------------------------------------------------------------------
# Figures


def rush_figures(
    clients: int,
    capacity: int,
    load: RushLoad,
    cpu: dict[str, Any],
    db: dict[str, Any],
    *,
    worker_cpu_s: list[float],
    pg_stats: tuple[Counters, Counters],
    busy_before: float,
    profiled: bool,
) -> dict[str, Any]:
    reqs = load.requests
    ok = [r for r in reqs if r.ok]
    sold_out = [r for r in reqs if r.sold_out]
    other = [r for r in reqs if not r.ok and not r.sold_out]
    statuses: dict[str, int] = {}
    for r in reqs:
        key = str(r.status) if r.ok else f"{r.status} {r.code}"[:80]
        statuses[key] = statuses.get(key, 0) + 1
    first = min((r.start for r in reqs), default=load.go_at)
    # Sold out at the capacity-th success (or the last one, if it never sold out).
    sold_at = ok[min(capacity, len(ok)) - 1].end if ok else first
    sellout_s = sold_at - first
    successes = len(ok)

    groups = cpu["groups"]
    tos_s, pg_s = groups["tos_server"]["cpu_s"], groups["postgres"]["cpu_s"]
    gen_s, wall = groups["load_generator"]["cpu_s"], cpu["wall_s"]
    accounted = tos_s + pg_s + gen_s + groups["postgres_other_databases"]["cpu_s"]
    accounted += cpu["harness_cpu_s"]

    def per_booking(seconds: float) -> float | None:
        return round(seconds * 1000 / successes, 3) if successes else None

    seats_taken = db["schedule"]["seats_taken"]
    consistent = seats_taken == db["held_seats_sum"] == successes == db["live_bookings"]
    bookings = db["bookings"] or 1
    figures: dict[str, Any] = {
        "clients": clients,
        "bookings_per_s": round(min(capacity, successes) / sellout_s, 1) if sellout_s else None,
        "latency_ms": percentiles([r.latency_ms for r in ok]),
        "bookings": successes,
        "rejected_409": len(sold_out),
        "errors": len(other),
        "errors_5xx": sum(1 for r in other if r.status >= 500),
        "oversold": max(0, successes - capacity),
        "consistent": consistent,
        "server_cpu_ms_per_booking": per_booking(tos_s + pg_s),
        "server_cpu_ms_per_booking_breakdown": {
            "tos": per_booking(tos_s),
            "postgres": per_booking(pg_s),
        },
        "server_cores_busy": {"tos": round(tos_s / wall, 3), "postgres": round(pg_s / wall, 3)},
        # Each uvicorn worker's cores: the kernel hands each connection to one worker, so a
        # lopsided split leaves one worker saturated while the other idles.
        "tos_worker_cores": [round(s / wall, 3) for s in worker_cpu_s],
        "load_generator": {
            "tool": load.generator,
            "cpu_ms_per_request": round(gen_s * 1000 / len(reqs), 3) if reqs else None,
            "cores": round(gen_s / wall, 3),
            "busiest_process_core_share": groups["load_generator"]["busiest_process_core_share"],
        },
        "sellout_s": round(sellout_s, 3),
        "rush_s": round(max((r.end for r in reqs), default=first) - first, 3),
        "all_clients_stopped_on_409": load.finished,
        # The server's PostgreSQL sessions over the rush, on average (SessionSampler).
        "postgres_sessions": load.sessions,
        "status_counts": dict(sorted(statuses.items())),
        "latency_ms_409": percentiles([r.latency_ms for r in sold_out]),
        "database": {
            **db,
            "checks": {
                "seats_taken == capacity (sold out)": seats_taken == capacity,
                "seats_taken == sum(held_seats)": seats_taken == db["held_seats_sum"],
                "seats_taken == 201s": seats_taken == successes,
                "live bookings == 201s": db["live_bookings"] == successes,
            },
        },
        "rows_per_booking": {k: round(v / bookings, 3) for k, v in db["rows"].items()},
        # PostgreSQL's counters over the rush (the 409s included): transactions committed and
        # rolled back (a 409 rolls back), rows written and read; scans per table and index.
        "postgres_per_booking": pg_per_booking(*pg_stats, bookings),
        "machine": {
            **cpu["machine"],
            "unaccounted_cores": round(cpu["machine"]["busy_cores"] - accounted / wall, 3),
            "busy_cores_before_load": busy_before,
        },
        "error_samples": sorted({f"{r.status} {r.code}"[:300] for r in other})[:5],
        "cpu": cpu,
    }
    if clients == TARGET["clients"]:
        p99 = figures["latency_ms"]["p99"]
        figures["target"] = {
            **TARGET,
            "met": bool(
                figures["bookings_per_s"]
                and p99 is not None
                and figures["bookings_per_s"] >= TARGET["bookings_per_s"]
                and p99 <= TARGET["p99_ms"]
            ),
        }
    if profiled:
        figures["profiled"] = "py-spy was sampling the workers: figures perturbed"
    return figures


def headline(run: dict[str, Any]) -> str:
    lat = run["latency_ms"]
    return (
        f"{run['clients']} clients: {run['bookings_per_s']} bookings/s, p50 {lat['p50']} "
        f"p95 {lat['p95']} p99 {lat['p99']} ms, {run['bookings']} booked, "
        f"{run['rejected_409']} x 409, {run['errors']} errors, oversold {run['oversold']}, "
        f"{run['server_cpu_ms_per_booking']} ms CPU/booking"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_cleanly_on_signals()
    name = args.name
    server_env = dict(item.split("=", 1) for item in args.server_env)
    capacities = ([args.warmup_seats] if args.warmup_seats else []) + [args.seats] * len(
        args.levels
    )
    runs: list[dict[str, Any]] = []
    warmup: dict[str, Any] | None = None
    with bench_database("booking_rush") as db_url:
        engine = create_engine(db_url, poolclass=NullPool)
        try:
            org = seed_organization(db_url, timezone="Europe/Rome")
            schedule_ids, tier_id = seed_rush_schedules(db_url, engine, org, capacities)
            promo_code = seed_pricing(db_url, org, tier_id) if args.pricing else ""
            with Server(db_url, workers=args.workers, name=name, env=server_env) as server:

                def rush(
                    clients: int,
                    schedule_id: str,
                    *,
                    measured: bool = True,
                    profiler: PySpy | None = None,
                ) -> tuple[RushLoad, CpuMeter | None]:
                    gen = RushLocust(
                        server.url,
                        users=clients,
                        schedule_id=schedule_id,
                        tier_id=tier_id,
                        token=org.token,
                        max_seconds=args.max_seconds,
                        promo_code=promo_code,
                    )
                    meter = CpuMeter(standard_groups(server, db_url, gen)) if measured else None
                    with SessionSampler(engine) as sessions:
                        load = gen.run(meter, profiler)
                    ends = [r.end for r in load.requests]
                    load.sessions = sessions.report(load.go_at, max(ends, default=load.go_at))
                    return load, meter

                if args.warmup_seats:
                    log(f"warm-up: {max(args.levels)} clients on {args.warmup_seats} seats")
                    load, _ = rush(max(args.levels), schedule_ids.pop(0), measured=False)
                    ok = sum(1 for r in load.requests if r.ok)
                    warmup = {
                        "seats": args.warmup_seats,
                        "clients": max(args.levels),
                        "bookings": ok,
                        "requests": len(load.requests),
                    }
                    if not ok:
                        samples = sorted({f"{r.status} {r.code}" for r in load.requests})[:5]
                        raise SystemExit(
                            f"warm-up booked nothing: {samples}\n{server.log_tail(20)}"
                        )
                for clients, schedule_id in zip(args.levels, schedule_ids, strict=True):
                    # Planner statistics as of now (seeding analysed empty tables), as a
                    # database in service would have them when an on-sale starts.
                    with engine.begin() as conn:
                        conn.execute(text("ANALYZE"))
                    time.sleep(STATS_SETTLE_S)  # the last rush's counters are in
                    counters = pg_counters(engine)
                    busy_before = wait_for_quiet_machine(args.wait_quiet)
                    if busy_before > 0.25:
                        log(
                            f"warning: {busy_before} cores busy before the rush; "
                            "other work on this machine will make the figures noisy"
                        )
                    profiler = None
                    if args.profile == clients:
                        prefix = RESULTS_DIR / f"{name}-c{clients}-pyspy"
                        profiler = PySpy(server, prefix)
                    log(f"rush: {clients} clients on {args.seats} seats")
                    load, meter = rush(clients, schedule_id, profiler=profiler)
                    assert meter is not None
                    time.sleep(STATS_SETTLE_S)
                    after = pg_counters(engine)
                    db = verify(engine, schedule_id)
                    per_process = meter.per_process("tos_server")
                    run = rush_figures(
                        clients,
                        args.seats,
                        load,
                        meter.report(),
                        db,
                        worker_cpu_s=[per_process.get(pid, 0.0) for pid in server.worker_pids()],
                        pg_stats=(counters, after),
                        busy_before=busy_before,
                        profiled=profiler is not None,
                    )
                    if profiler is not None:
                        run["profiles"] = [str(p.relative_to(ROOT)) for p in profiler.outputs]
                    if run["errors"]:
                        run["server_log_tail"] = server.log_tail(10)
                    log(headline(run))
                    runs.append(run)
        finally:
            engine.dispose()
    results = {
        "benchmark": "booking_rush",
        "runs": runs,
        "oversold": sum(r["oversold"] for r in runs),
        "parameters": {
            "endpoint": "POST /api/v1/bookings",
            "clients": args.levels,
            "seats": args.seats,
            "seats_per_booking": 1,
            "idempotency_key": "a new one per request",
            "warmup": warmup,
            "server_workers": args.workers,
            "server_env": server_env,
            "max_seconds": args.max_seconds,
            "analyze_before_each_rush": True,
            "generator": "locust FastHttpUser, 1 process",
            "database": "postgresql",
        },
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git_revision(),
    }
    emit(name, results)
    broken = [r["clients"] for r in runs if r["oversold"] or not r["consistent"] or r["errors_5xx"]]
    if broken:
        log(f"FAILED: oversold, inconsistent counters or 5xx at {broken} clients")
        return 1
    return 0


if __name__ == "__main__":
    run(main)
