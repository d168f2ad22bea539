"""Sync benchmark: seed 002's `POST /api/bookings/sync` from 8 source websites x 4 concurrent
senders, 10 % of the sends exact replays of an earlier payload of the same website.

The real server (`tos serve --workers 2`) on a fresh PostgreSQL database, one organization (THB,
Asia/Bangkok) whose owner registers the websites with `POST /api/websites` (each answer carries
the website's `api_key`). A plain-asyncio sender process (this file, `--generate`) keeps 32
keep-alive connections busy, closed loop; each connection belongs to one website (its
`X-API-Key`) and sends `booking.created` events with new source_booking_ids (the seed's payload,
whole THB, activity dates in the future, package names no mapping knows), or, for 10 % of the
sends, the exact bytes of an earlier payload of its website that was answered 200. A replay
must answer 200 with the booking_id of the first answer; any other booking_id counts in
`duplicates_mismatched`, which must be 0. Warm-up first, then `--duration` seconds measured.
Figures: events/s (sends answered 200 / measured window), latency percentiles, errors by
status and code, server CPU (TOS + PostgreSQL) per event, the load generator's CPU, and from
SQL afterwards one synced booking per distinct event answered 200.

    .venv/bin/python bench/sync.py [--duration 30] [--websites 8] [--senders-per-website 4] ...

Prints one JSON document, also written to bench/results/sync.json. See bench/README.md ("Sync").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

SYNC_PATH = "/api/bookings/sync"
WEBSITES_PATH = "/api/websites"
TARGET = {"websites": 8, "senders_per_website": 4, "events_per_s": 150}
NEW, REPLAY = 0, 1


# --------------------------------------------------------------------------------------------
# The sender process (`sync.py --generate`): no TOS, no SQLAlchemy, so that it costs little


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, the server closes the connection)"""
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
    return status, body, close


def _answer(status: int, body: bytes) -> tuple[str, str]:
    """(booking_id, error code) from the seed's envelopes."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return "", body[:120].decode(errors="replace")
    if not isinstance(decoded, dict):
        return "", str(decoded)[:120]
    if status == 200:
        return str(decoded.get("booking_id") or ""), ""
    code = decoded.get("code")
    if code is None and isinstance(decoded.get("error"), dict):  # TOS's own envelope
        code = decoded["error"].get("code")
    return "", str(code or "")


class _Website:
    def __init__(self, index: int, slug: str, key: str, tag: str, rng: random.Random) -> None:
        self.index, self.slug, self.key, self.tag, self.rng = index, slug, key, tag, rng
        self.sent = 0
        self.answered: list[tuple[bytes, str]] = []  # (body, booking_id) of answered creates

    def new_body(self, today: date) -> bytes:
        n = self.sent
        self.sent += 1
        guests = 1 + n % 4
        price = 3490
        payload = {
            "event": "booking.created",
            "source_booking_id": str(uuid.uuid4()),
            "booking_ref": f"{self.tag}{self.index}-{n:07d}",
            "package_name": f"Bench Package {'ABC'[n % 3]}",  # mapped to nothing
            "package_price": price,
            "activity_date": (today + timedelta(days=7 + n % 300)).isoformat(),
            "time_slot": ("09:00", "10:00", "13:30")[n % 3],
            "guest_count": guests,
            "total_amount": price * guests,
            "discount_amount": 0,
            "currency": "THB",
            "status": "confirmed",
            "customer": {
                "name": f"Bench Guest {n}",
                "email": f"guest{n}@{self.slug}.example.com",
                "phone": "0812345678",
                "country_code": "+66",
                "special_requests": "",
            },
            "transport": {
                "type": "self_arrange",
                "non_players": 0,
                "private_passengers": 0,
                "cost": 0,
            },
            "addons": [{"name": "Photo Package", "quantity": 1, "unit_price": 500}]
            if n % 2
            else [],
            "stripe_payment_intent_id": f"pi_bench_{uuid.uuid4().hex[:16]}",
            "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        return json.dumps(payload, separators=(",", ":")).encode()


async def _generate(config: dict[str, Any]) -> dict[str, Any]:
    host, port = config["host"], int(config["port"])
    rng = random.Random(config["seed"])
    today = date.fromisoformat(config["today"])
    sites = [
        _Website(i, w["slug"], w["api_key"], config["tag"], random.Random(rng.random()))
        for i, w in enumerate(config["websites"])
    ]
    per_site, replay_share = int(config["senders_per_website"]), float(config["replays"])

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(asyncio.open_connection(host, port), timeout=10)

    # One at a time, as real websites' connections open over time: opened in one burst, they
    # would all be accepted by whichever uvicorn worker wakes first.
    connections = []
    for _ in range(per_site):
        for site in sites:
            connections.append((site, await connect()))
            await asyncio.sleep(0.02)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
    t_go = time.time()
    t0 = t_go + float(config["warmup"])
    t1 = t0 + float(config["duration"])
    rows: list[list[Any]] = []

    async def announce() -> None:
        await asyncio.sleep(max(0.0, t0 - time.time()))
        print(f"measuring {time.time():.6f}", flush=True)
        await asyncio.sleep(max(0.0, t1 - time.time()))
        print(f"done {time.time():.6f}", flush=True)

    async def sender(site: _Website, conn: tuple[Any, Any]) -> None:
        reader, writer = conn
        head = (
            f"POST {SYNC_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nX-API-Key: {site.key}\r\n"
        ).encode()
        while time.time() < t1:
            if site.answered and site.rng.random() < replay_share:
                kind = REPLAY
                body, expected = site.answered[site.rng.randrange(len(site.answered))]
            else:
                kind, body, expected = NEW, site.new_body(today), ""
            request = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
            start = time.time()
            try:
                writer.write(request)
                status, answer, close = await asyncio.wait_for(_read_response(reader), 30)
                booking_id, code = _answer(status, answer)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                status, booking_id, code, close = 0, "", type(exc).__name__, True
            end = time.time()
            mismatch = -1
            if kind == REPLAY and status == 200:
                mismatch = int(booking_id != expected)
            elif kind == NEW and status == 200 and booking_id:
                site.answered.append((body, booking_id))
            rows.append([start, end, status, kind, site.index, code, mismatch])
            if close:
                writer.close()
                reader, writer = await connect()
        writer.close()

    announcer = asyncio.create_task(announce())
    await asyncio.gather(*(sender(site, conn) for site, conn in connections))
    await announcer
    return {
        "rows": rows,
        "window": [t0, t1],
        "distinct_answered": {s.slug: len(s.answered) for s in sites},
    }


def generator_main(argv: list[str]) -> int:
    """--generate CONFIG_JSON OUT_JSON"""
    config_file, out_file = argv
    result = asyncio.run(_generate(json.loads(Path(config_file).read_text())))
    Path(out_file).write_text(json.dumps(result))
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--generate"]:
    sys.exit(generator_main(sys.argv[2:]))


# --------------------------------------------------------------------------------------------
# The harness

import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

from booking_rush import SessionSampler  # noqa: E402 - the sender process needs none of this
from common import (  # noqa: E402
    HOST,
    CpuMeter,
    LoadGenerator,
    Server,
    bench_database,
    emit,
    exit_cleanly_on_signals,
    git_revision,
    log,
    percentiles,
    run,
    seed_organization,
    standard_groups,
    wait_for_quiet_machine,
)
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--duration", type=float, default=30, help="seconds measured")
    p.add_argument("--warmup", type=float, default=5, help="seconds of load before the window")
    p.add_argument("--websites", type=int, default=8, help="registered source websites")
    p.add_argument("--senders-per-website", type=int, default=4, help="connections per website")
    p.add_argument("--replays", type=float, default=0.10, help="share of sends that replay")
    p.add_argument("--workers", type=int, default=2, help="tos serve --workers")
    p.add_argument(
        "--rate-sync",
        default="10000000/60",
        help="TOS_PUBLIC_RATE_SYNC for the server (N/SECONDS): high, so the limiter stays out",
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
    p.add_argument("--seed", type=int, default=7, help="the replays' random choices")
    p.add_argument("--name", default="sync", help="results name")
    args = p.parse_args(argv)
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 120:
        p.error("--duration must be in [1, 600] and --warmup in [0, 120]")
    if not 1 <= args.websites <= 64 or not 1 <= args.senders_per_website <= 32:
        p.error("--websites must be in [1, 64] and --senders-per-website in [1, 32]")
    if not 0 <= args.replays < 0.5:
        p.error("--replays must be in [0, 0.5)")
    if any("=" not in item for item in args.server_env):
        p.error("--server-env takes KEY=VALUE")
    return args


# --------------------------------------------------------------------------------------------
# Setup through the API: the websites, then one event and its replay as a pre-flight


def http_json(
    method: str, url: str, body: Any, headers: dict[str, str], *, timeout: float = 30
) -> tuple[int, Any]:
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError(f"benchmarks only talk to {HOST}: {url}")
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")[:500]


def register_websites(server: Server, token: str, count: int, tag: str) -> list[dict[str, str]]:
    """`POST /api/websites` × count with the owner's key; each answer shows the api_key once."""
    out = []
    for i in range(count):
        slug = f"bench-{tag}-site-{i}"
        status, body = http_json(
            "POST",
            server.url + WEBSITES_PATH,
            {
                "id": slug,
                "name": f"Bench website {i}",
                "domain": f"{slug}.example.com",
                "webhook_url": None,
            },
            {"Authorization": f"Bearer {token}"},
        )
        if status in (404, 405):
            raise SystemExit(
                f"POST {WEBSITES_PATH} answered {status}: the channels hub's website "
                f"registration is not in this build (seed 002), so there is nothing to "
                f"benchmark yet. Answer: {body}"
            )
        key = body.get("api_key") if isinstance(body, dict) else None
        if status not in (200, 201) or not key:
            raise SystemExit(
                f"POST {WEBSITES_PATH} answered {status} without an api_key: {body}\n"
                f"{server.log_tail(20)}"
            )
        out.append({"slug": slug, "api_key": key})
    log(f"registered {count} websites")
    return out


def preflight(server: Server, site: dict[str, str]) -> str:
    """One booking.created through the reference client (onebooking_kit), then its exact
    replay: both must answer 200 with the same booking_id, so a broken endpoint cannot produce
    good-looking figures."""
    from onebooking_kit import OneBookingClient, SyncRejected, SyncUnavailable, booking_payload

    payload = booking_payload(
        "booking.created", str(uuid.uuid4()), "PRE-0000001", "Bench Package A", 3490,
        date.today() + timedelta(days=30), "10:00", 2, 6980,
        {"name": "Preflight Guest", "email": f"preflight@{site['slug']}.example.com"},
    )  # fmt: skip
    with OneBookingClient(server.url, site["api_key"], retry_delays=()) as client:
        try:
            first = client.push(payload)
            again = client.push(payload)
        except SyncRejected as exc:
            hint = " (the sync endpoint is missing?)" if exc.status_code in (404, 405) else ""
            raise SystemExit(
                f"pre-flight: POST {SYNC_PATH} answered {exc}{hint} {exc.details or ''}\n"
                f"{server.log_tail(20)}"
            )
        except SyncUnavailable as exc:
            raise SystemExit(f"pre-flight: POST {SYNC_PATH} failed: {exc}\n{server.log_tail(20)}")
    if first.booking_id != again.booking_id:
        raise SystemExit(
            f"pre-flight: a replay answered booking {again.booking_id}, the first send "
            f"{first.booking_id}: replays are not recognised"
        )
    log(f"pre-flight: sync and replay answered 200 with booking {first.booking_id}")
    return str(first.booking_id)


# --------------------------------------------------------------------------------------------
# The load: one sender process


@dataclass
class Send:
    start: float
    end: float
    status: int  # 0: no HTTP answer
    kind: int  # NEW or REPLAY
    website: int
    code: str  # the error code of a non-200 answer
    mismatch: int  # replays answered 200: 1 another booking_id, 0 the same; -1 otherwise


class Senders(LoadGenerator):
    """`sync.py --generate`: connects its senders, says "ready", starts on "go", announces the
    measured window ("measuring", "done"; the harness opens and closes its CPU meter then),
    and exits when the last sender has had its last answer."""

    name = "asyncio"

    def run(self, config: dict[str, Any], meter: CpuMeter, *, timeout: float) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="tos-bench-sync-") as tmp:
            config_file, out_file = Path(tmp) / "config.json", Path(tmp) / "out.json"
            config_file.write_text(json.dumps(config))
            cmd = [sys.executable, str(Path(__file__).resolve()), "--generate",
                   str(config_file), str(out_file)]  # fmt: skip
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
            )
            assert self.proc.stdin is not None and self.proc.stdout is not None
            entered = False
            try:
                if self.proc.stdout.readline().strip() != b"ready":
                    raise RuntimeError(f"the sender process exited ({self.proc.wait()})")
                self.proc.stdin.write(b"go\n")
                self.proc.stdin.flush()
                for line in self.proc.stdout:
                    word = line.split()[0] if line.strip() else b""
                    if word == b"measuring":
                        meter.__enter__()
                        entered = True
                    elif word == b"done":
                        meter.__exit__(None, None, None)
                        entered = False
                        break
                code = self.proc.wait(timeout=timeout)
            except BaseException:
                if entered:
                    meter.__exit__(None, None, None)
                self._abort()
                raise
            if code != 0:
                raise RuntimeError(f"the sender process exited {code}")
            return json.loads(out_file.read_text())


# --------------------------------------------------------------------------------------------
# The database after the run


def verify(engine: Engine, slugs: list[str]) -> dict[str, Any]:
    """Synced bookings per bench website, from SQL (seed 002's UNIQUE(website_id,
    source_booking_id) is the hub's; this checks one booking per distinct event answered)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT w.slug, count(s.booking_id), count(DISTINCT s.source_booking_id) "
                    "FROM websites w LEFT JOIN synced_bookings s ON s.website_id = w.id "
                    "WHERE w.slug = ANY(:slugs) GROUP BY w.slug ORDER BY w.slug"
                ),
                {"slugs": slugs},
            ).all()
            logs = dict(
                conn.execute(
                    text(
                        "SELECT l.status, count(*) FROM sync_logs l JOIN websites w "
                        "ON w.id = l.website_id WHERE w.slug = ANY(:slugs) "
                        "AND l.direction = 'inbound' GROUP BY l.status"
                    ),
                    {"slugs": slugs},
                ).all()
            )
            bookings = conn.scalar(
                text(
                    "SELECT count(*) FROM bookings b JOIN synced_bookings s ON s.booking_id = b.id "
                    "JOIN websites w ON w.id = s.website_id WHERE w.slug = ANY(:slugs)"
                ),
                {"slugs": slugs},
            )
    except Exception as exc:  # the hub's tables as this harness knows them
        return {"unavailable": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
    return {
        "synced_bookings": {slug: n for slug, n, _ in rows},
        "synced_bookings_total": sum(n for _, n, _ in rows),
        "distinct_source_ids": sum(d for _, _, d in rows),
        "tos_bookings": bookings,
        "inbound_sync_logs": logs,
    }


# --------------------------------------------------------------------------------------------
# Figures


def _per(seconds: float, n: int) -> float | None:
    return round(seconds * 1000 / n, 3) if n else None


def figures(
    args: argparse.Namespace,
    out: dict[str, Any],
    cpu: dict[str, Any],
    worker_cpu_s: list[float],
    sessions: dict[str, Any],
    db: dict[str, Any],
    answered_creates_total: int,
    busy_before: float,
) -> dict[str, Any]:
    t0, t1 = out["window"]
    sends = [Send(*row) for row in out["rows"]]
    window = [s for s in sends if t0 <= s.end <= t1]
    wall_window = t1 - t0
    ok = [s for s in window if s.status == 200]
    new_ok = [s for s in ok if s.kind == NEW]
    replays = [s for s in window if s.kind == REPLAY]
    mismatched = sum(1 for s in sends if s.mismatch == 1)  # over the whole run, warm-up too
    statuses = Counter(f"{s.status} {s.code}".strip() if s.status != 200 else "200" for s in window)
    groups = cpu["groups"]
    tos_s, pg_s, wall = groups["tos_server"]["cpu_s"], groups["postgres"]["cpu_s"], cpu["wall_s"]
    gen = groups["load_generator"]
    gen_s = gen["cpu_s"]
    accounted = tos_s + pg_s + gen_s + groups["postgres_other_databases"]["cpu_s"]
    accounted += cpu["harness_cpu_s"]
    events_per_s = round(len(ok) / wall_window, 1) if wall_window > 0 else None
    senders = args.websites * args.senders_per_website
    checks = {
        "duplicates_mismatched == 0": mismatched == 0,
        "no 5xx": not any(s.status >= 500 for s in sends),
        "every send answered 200": all(s.status == 200 for s in sends),
    }
    if "synced_bookings_total" in db:
        # The pre-flight's booking is one of them: every distinct create answered 200 is one
        # synced booking and one TOS booking, no more (replays add none).
        checks["one synced booking per create answered"] = (
            db["synced_bookings_total"] == db["distinct_source_ids"] == answered_creates_total
        )
        checks["one TOS booking per synced booking"] = db["tos_bookings"] == answered_creates_total
    lat = percentiles([(s.end - s.start) * 1000 for s in ok])
    return {
        "events_per_s": events_per_s,
        "latency_ms": lat,
        "duplicates_mismatched": mismatched,
        "new_events_per_s": round(len(new_ok) / wall_window, 1) if wall_window > 0 else None,
        "latency_ms_new": percentiles([(s.end - s.start) * 1000 for s in new_ok]),
        "latency_ms_replay": percentiles(
            [(s.end - s.start) * 1000 for s in replays if s.status == 200]
        ),
        "sends": len(window),
        "answered_200": len(ok),
        "replay_sends": len(replays),
        "replay_share": round(len(replays) / len(window), 3) if window else None,
        "errors": len(window) - len(ok),
        "errors_by_status": {k: v for k, v in sorted(statuses.items()) if k != "200"},
        "status_counts": dict(sorted(statuses.items())),
        "sends_whole_run": len(sends),
        "errors_whole_run": sum(1 for s in sends if s.status != 200),
        "measured_s": round(wall_window, 3),
        "server_cpu_ms_per_event": _per(tos_s + pg_s, len(ok)),
        "server_cpu_ms_per_event_breakdown": {
            "tos": _per(tos_s, len(ok)),
            "postgres": _per(pg_s, len(ok)),
        },
        "server_cores_busy": {"tos": round(tos_s / wall, 3), "postgres": round(pg_s / wall, 3)},
        "tos_worker_cores": [round(s / wall, 3) for s in worker_cpu_s],
        "load_generator": {
            "tool": f"asyncio, 1 process, {senders} keep-alive connections",
            "cpu_ms_per_request": _per(gen_s, len(window)),
            "cores": round(gen_s / wall, 3),
            "busiest_process_core_share": gen["busiest_process_core_share"],
        },
        "postgres_sessions": sessions,
        "database": {**db, "checks": checks},
        "target": {
            **TARGET,
            "met": bool(
                args.websites == TARGET["websites"]
                and args.senders_per_website == TARGET["senders_per_website"]
                and events_per_s is not None
                and events_per_s >= TARGET["events_per_s"]
            ),
        },
        "machine": {
            **cpu["machine"],
            "unaccounted_cores": round(cpu["machine"]["busy_cores"] - accounted / wall, 3),
            "busy_cores_before_load": busy_before,
        },
        "cpu": cpu,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_cleanly_on_signals()
    server_env = {"TOS_PUBLIC_RATE_SYNC": args.rate_sync}
    server_env.update(item.split("=", 1) for item in args.server_env)
    tag = uuid.uuid4().hex[:6]
    result: dict[str, Any] = {}
    with bench_database("sync") as db_url, tempfile.TemporaryDirectory() as qdir:
        engine = create_engine(db_url, poolclass=NullPool)
        try:
            org = seed_organization(db_url, timezone="Asia/Bangkok", currency="THB")
            env = {
                # What synced bookings may set off (job queue, documents, messages) stays in a
                # temporary directory, not the checkout's var/.
                "TOS_HUEY_SQLITE_PATH": str(Path(qdir) / "huey.db"),
                "TOS_DOCUMENTS_DIR": str(Path(qdir) / "documents"),
                "TOS_MAIL_DIR": str(Path(qdir) / "mail"),
                "TOS_SMS_DIR": str(Path(qdir) / "sms"),
                **server_env,
            }
            with Server(db_url, workers=args.workers, name=args.name, env=env) as server:
                sites = register_websites(server, org.token, args.websites, tag)
                preflight(server, sites[0])
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
                busy_before = wait_for_quiet_machine(args.wait_quiet)
                if busy_before > 0.25:
                    log(f"warning: {busy_before} cores busy before the load")
                config = {
                    "host": HOST,
                    "port": server.port,
                    "websites": sites,
                    "senders_per_website": args.senders_per_website,
                    "replays": args.replays,
                    "warmup": args.warmup,
                    "duration": args.duration,
                    "seed": args.seed,
                    "tag": f"SY{tag}-",
                    "today": (datetime.now(UTC).date()).isoformat(),
                }
                gen = Senders()
                meter = CpuMeter(standard_groups(server, db_url, gen))
                log(
                    f"load: {args.websites} websites x {args.senders_per_website} senders, "
                    f"{args.warmup:g}s warm-up, {args.duration:g}s measured"
                )
                with SessionSampler(engine) as sampler:
                    out = gen.run(config, meter, timeout=args.warmup + args.duration + 120)
                t0, t1 = out["window"]
                per_process = meter.per_process("tos_server")
                workers = [per_process.get(pid, 0.0) for pid in server.worker_pids()]
                db = verify(engine, [s["slug"] for s in sites])
                answered = sum(out["distinct_answered"].values()) + 1  # + the pre-flight's
                result = figures(
                    args,
                    out,
                    meter.report(),
                    workers,
                    sampler.report(t0, t1),
                    db,
                    answered,
                    busy_before,
                )
                if result["errors_whole_run"]:
                    samples = sorted(
                        {f"{r[2]} {r[5]}" for r in out["rows"] if r[2] != 200},
                    )[:5]
                    result["error_samples"] = samples
                    result["server_log_tail"] = server.log_tail(10)
        finally:
            engine.dispose()
    lat = result.get("latency_ms", {})
    log(
        f"{result.get('events_per_s')} events/s, p50 {lat.get('p50')} p95 {lat.get('p95')} "
        f"p99 {lat.get('p99')} ms, {result.get('errors')} errors, duplicates mismatched "
        f"{result.get('duplicates_mismatched')}, {result.get('server_cpu_ms_per_event')} ms "
        "CPU/event"
    )
    results = {
        "benchmark": "sync",
        **result,
        "parameters": {
            "endpoint": f"POST {SYNC_PATH}",
            "websites": args.websites,
            "senders_per_website": args.senders_per_website,
            "replay_share": args.replays,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "event": "booking.created, new source_booking_id each (replays: exact bytes)",
            "currency": "THB (whole units)",
            "package_mappings": "none",
            "server_workers": args.workers,
            "server_env": server_env,
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
