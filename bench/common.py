"""Shared machinery for TOS benchmarks: a throw-away PostgreSQL database, seeding through the
ORM, the real server as a subprocess, an external load generator (locust or wrk), CPU
accounting with psutil, and the results file.

A benchmark script wires these together (bench/availability.py is the worked example):

    with bench_database("availability") as db_url:
        org = seed_organization(db_url)
        tour = seed_tour(db_url, org)                   # ...whatever the benchmark reads
        paths_file = write_paths([...request paths...])
        with Server(db_url, workers=2) as server:
            gen = Locust(server.url, users=16, paths_file=paths_file, token=org.token)
            meter = CpuMeter(standard_groups(server, db_url, gen))
            load = gen.measure(warmup=5, duration=20, meter=meter)
        emit("availability", summarize(params, load, meter.report()))

Everything here only talks to 127.0.0.1 and every phase has a time limit.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
VENV_BIN = Path(sys.executable).parent
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOCUST_GET = BENCH_DIR / "locustfile_get.py"
WRK_GET = BENCH_DIR / "wrk_get.lua"
HOST = "127.0.0.1"


def log(message: str) -> None:
    """Progress goes to stderr so stdout stays one JSON document."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def exit_cleanly_on_signals() -> None:
    """SIGTERM and SIGINT (even if the parent shell ignored it) raise KeyboardInterrupt, so the
    `with` blocks stop the load generator and the server and drop the database."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def executable(name: str) -> str:
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found (looked in {VENV_BIN} and PATH)")
    return found


# --------------------------------------------------------------------------------------------
# Database


def postgres_server_url() -> str:
    url = make_url(os.environ.get("TOS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    if url.host not in (HOST, "localhost"):
        raise SystemExit(f"benchmarks only run against a local PostgreSQL, not {url.host!r}")
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@contextmanager
def bench_database(label: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database named tos_bench_<label>_<random>; dropped after."""
    from tos.db import session as db_session
    from tos.db.migrate import upgrade

    server = make_url(postgres_server_url())
    name = f"tos_bench_{re.sub(r'[^a-z0-9]', '_', label.lower())}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    log(f"created database {name}")
    try:
        upgrade(db_session.use_database(url).engine)
        yield url
    finally:
        factory = db_session._factories.pop(url, None)
        if factory is not None:
            factory.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        log(f"dropped database {name}")


def database_name(url: str) -> str:
    return make_url(url).database or ""


# --------------------------------------------------------------------------------------------
# Seeding (straight through the ORM and the identity service; no HTTP, no audit for catalog rows)


@dataclass(frozen=True)
class SeededOrg:
    id: str
    slug: str
    timezone: str
    currency: str
    owner_user_id: str
    token: str  # the owner's API key

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class SeededTour:
    id: str
    variant_id: str
    timezone: str
    first_date: date
    last_date: date
    schedules: int
    tier_ids: tuple[str, ...]


def seed_organization(
    db_url: str, *, timezone: str = "Europe/Rome", currency: str = "EUR"
) -> SeededOrg:
    """One organization with an owner user and an API key for it."""
    from tos.db.session import use_database
    from tos.identity import service as identity
    from tos.identity.actors import Actor

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    factory = use_database(db_url)
    with factory(write=True) as session:
        org = identity.create_organization(
            session, Actor.system(), slug=slug, name=f"Bench {slug}", timezone=timezone,
            currency=currency,
        )  # fmt: skip
        actor = Actor.system(org.id)
        owner = identity.create_user(
            session, actor, email=f"owner@{slug}.test", name="Bench owner", role="owner"
        )
        _, token = identity.create_api_key(session, actor, user_id=owner.id, name="bench")
        session.commit()
        return SeededOrg(org.id, slug, timezone, currency, owner.id, token)


def seed_tour(
    db_url: str,
    org: SeededOrg,
    *,
    days: int = 334,
    start_times: Sequence[str] = ("09:00", "13:00", "17:00"),
    duration_minutes: int = 180,
    capacity: int = 20,
    first_date: date | None = None,
    seed: int = 42,
) -> SeededTour:
    """One active start-time tour in the organization's timezone, one variant, ADULT and CHILD
    tiers, and `days * len(start_times)` schedules from `first_date` (default: today there),
    bulk-inserted. Deterministic mix: ~5% closed, ~30% partly sold, ~5% full, the rest empty."""
    import random

    from tos.catalog.models import PricingTier, Tour, Variant
    from tos.db import tenancy
    from tos.db.session import use_database
    from tos.inventory.models import Schedule

    tz = ZoneInfo(org.timezone)
    first = first_date or datetime.now(tz).date()
    rng = random.Random(seed)
    factory = use_database(db_url)
    with factory(write=True) as session:
        tenancy.set_scope(session, org.id)
        tour = Tour(
            name="Colosseum at dawn (bench)",
            slug=f"bench-tour-{uuid.uuid4().hex[:6]}",
            short_description="Seeded by bench/common.py",
            duration_minutes=duration_minutes,
            capacity=capacity,
            status="active",
            timezone=org.timezone,
            availability_type="start_time",
            languages=["en", "it"],
        )
        session.add(tour)
        session.flush()
        variant = Variant(
            tour_id=tour.id,
            name="Standard",
            capacity=capacity,
            availability_pattern={
                "type": "recurring",
                "days_of_week": list(range(7)),
                "start_times": list(start_times),
                "valid_from": first.isoformat(),
            },
        )
        session.add(variant)
        session.flush()
        tiers = [
            PricingTier(tour_id=tour.id, name="Adult", amount=4500, currency=org.currency,
                        unit_type="ADULT", age_min=18, sort_order=0, is_default=True),
            PricingTier(tour_id=tour.id, name="Child", amount=2500, currency=org.currency,
                        unit_type="CHILD", age_min=4, age_max=17, sort_order=1),
        ]  # fmt: skip
        session.add_all(tiers)
        session.flush()

        rows: list[dict[str, Any]] = []
        for day in range(days):
            local_date = first + timedelta(days=day)
            for hhmm in start_times:
                start_local = datetime.combine(local_date, dtime.fromisoformat(hhmm), tzinfo=tz)
                end_local = start_local + timedelta(minutes=duration_minutes)
                roll = rng.random()
                status, taken = "open", 0
                if roll < 0.05:
                    status = "closed"
                elif roll < 0.10:
                    taken = capacity
                elif roll < 0.40:
                    taken = rng.randint(1, capacity - 1)
                rows.append(
                    {
                        "organization_id": org.id,
                        "tour_id": tour.id,
                        "variant_id": variant.id,
                        "date": local_date,
                        "start_time": start_local.time(),
                        "end_time": end_local.time(),
                        "timezone": org.timezone,
                        "starts_at": start_local.astimezone(UTC),
                        "ends_at": end_local.astimezone(UTC),
                        "capacity": capacity,
                        "seats_taken": taken,
                        "status": status,
                        "generated_from_pattern": True,
                    }
                )
        session.execute(insert(Schedule), rows)
        session.commit()
        result = SeededTour(
            id=tour.id,
            variant_id=variant.id,
            timezone=org.timezone,
            first_date=first,
            last_date=first + timedelta(days=days - 1),
            schedules=len(rows),
            tier_ids=tuple(t.id for t in tiers),
        )
    with factory(write=True) as session:  # fresh statistics for the planner
        session.execute(text("ANALYZE"))
        session.commit()
    return result


# --------------------------------------------------------------------------------------------
# The server under test


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """`tos serve --workers N` on 127.0.0.1 against `db_url`, in its own process group, with
    TOS_ENV=production and a random secret key; `env` adds or overrides TOS_* settings."""

    def __init__(
        self,
        db_url: str,
        *,
        workers: int = 2,
        name: str = "bench",
        env: dict[str, str] | None = None,
    ):
        self.db_url = db_url
        self.workers = workers
        self.extra_env = env or {}
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = RESULTS_DIR / f"{name}-server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = dict(os.environ)
        env.update(
            TOS_DATABASE_URL=self.db_url,
            TOS_ENV="production",
            TOS_SECRET_KEY=secrets.token_hex(32),
            TOS_LOG_LEVEL="WARNING",
            TOS_ACCESS_LOG="0",
            TOS_SQL_ECHO="false",
        )
        env.update(self.extra_env)
        cmd = [executable("tos"), "serve", "--host", HOST, "--port", str(self.port),
               "--workers", str(self.workers)]  # fmt: skip
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_healthy(timeout=60)
            self._wait_workers(timeout=30)
        except BaseException:
            self.stop()
            raise
        log(f"server up at {self.url} (pid {self.proc.pid}, {self.workers} workers)")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_healthy(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, _ = http_get(f"{self.url}/api/v1/health", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not healthy after {timeout}s:\n{self.log_tail()}")

    def _wait_workers(self, timeout: float) -> None:
        """Health answers as soon as one worker is up; wait until every worker process exists.
        (A worker may still be importing; the benchmark's warm-up covers that.)"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = [p for p in self.processes() if "multiprocessing.spawn" in _cmdline(p)]
            if len(workers) >= self.workers or self.workers == 1:
                return
            time.sleep(0.2)

    def processes(self) -> list[psutil.Process]:
        """The uvicorn parent and every descendant (workers, multiprocessing helpers)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the spawned workers, or the parent itself when
        it runs with one worker."""
        procs = self.processes()
        workers = [p.pid for p in procs if "multiprocessing.spawn" in _cmdline(p)]
        return workers or [p.pid for p in procs[:1]]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        _stop_group(self.proc, grace=15)
        log("server stopped")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ""


def _stop_group(proc: subprocess.Popen[Any], *, grace: float) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


def http_get(
    url: str, headers: dict[str, str] | None = None, *, timeout: float = 10
) -> tuple[int, bytes]:
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError(f"benchmarks only talk to {HOST}: {url}")
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class PySpy:
    """`py-spy record --gil` of the server's workers (one py-spy process each, `--format raw`:
    collapsed stacks, one "frame;frame;... count" line each, for bench/profile_summary.py).
    `--gil` samples only the thread holding the GIL, so a sample is Python CPU time (py-spy's
    idle detection does not work here: threads waiting on a condition or on PostgreSQL showed
    up as running); C code that releases the GIL (libpq's wait) is not seen.
    Records from `start()` to `stop()` (SIGINT: py-spy then writes its file); `profiling(spy)`
    wraps a block in both, and the load generators' `measure(..., profiler=spy)` wrap their
    measured window in it. Blocking sampling pauses the worker ~`rate` times a second and py-spy
    itself takes CPU, so a profiled run's figures are not the benchmark's.
    Needs `.venv/bin/pip install py-spy` and ptrace rights (root, or CAP_SYS_PTRACE)."""

    def __init__(self, server: Server, out_prefix: Path, *, rate: int = 200):
        self.server, self.out_prefix, self.rate = server, out_prefix, rate
        self.outputs: list[Path] = []
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        exe = executable("py-spy")
        self.out_prefix.parent.mkdir(parents=True, exist_ok=True)
        for n, pid in enumerate(self.server.worker_pids(), 1):
            out = self.out_prefix.with_name(f"{self.out_prefix.name}-worker{n}.txt")
            cmd = [exe, "record", "--pid", str(pid), "--rate", str(self.rate), "--gil",
                   "--format", "raw", "--output", str(out)]  # fmt: skip
            self._procs.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            )
            self.outputs.append(out)
        time.sleep(0.3)  # attach before the load it is meant to see
        for proc in self._procs:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"py-spy exited {proc.returncode}: {err.strip()[-500:]}")
        log(f"py-spy recording {len(self._procs)} worker(s) at {self.rate} Hz")

    def stop(self) -> list[Path]:
        """End the recording; the files written."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        written = [p for p in self.outputs if p.exists()]
        for path in written:
            log(f"py-spy profile: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        return written


@contextmanager
def profiling(profiler: PySpy | None) -> Iterator[None]:
    """py-spy records the block (nothing happens for None)."""
    if profiler is None:
        yield
        return
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()


# --------------------------------------------------------------------------------------------
# CPU accounting

ProcessFinder = Callable[[], Iterable[psutil.Process]]

_PG_CLIENT_BACKEND = re.compile(r"^(?P<user>\S+) (?P<db>\S+) (?:\[local\]|\S+\(\d+\))")


def _pg_title(proc: psutil.Process) -> str:
    """The ps title PostgreSQL sets: "postgres: <cluster>: <user> <db> <host(port)> <state>"
    for client backends, "postgres: <cluster>: checkpointer" etc. for background processes."""
    title = " ".join(proc.cmdline()).strip()
    match = re.match(r"postgres: (?:\S+: )?(.*)", title)
    return match.group(1) if match else ""


class PostgresProcesses:
    """Processes named "postgres", split in two. `ours`: the postmaster, the background
    processes (checkpointer, WAL writer, autovacuum, ...; they serve every database on the
    server, so they are billed to the benchmark in full) and the client backends connected to
    `own_database`. `others`: client backends of other databases (someone else's tests on the
    same server), reported apart so they are not billed to the server under test.

    A process is classified once, from the title PostgreSQL gives it ("postgres: <cluster>:
    <user> <database> <host(port)> <state>" for client backends)."""

    def __init__(self, own_database: str):
        self.own_database = own_database
        self._known: dict[int, tuple[psutil.Process, bool | None]] = {}  # None: not postgres
        self._lock = threading.Lock()

    def ours(self) -> list[psutil.Process]:
        return [proc for proc, other in self._refresh() if other is False]

    def others(self) -> list[psutil.Process]:
        return [proc for proc, other in self._refresh() if other is True]

    def _refresh(self) -> list[tuple[psutil.Process, bool | None]]:
        with self._lock:
            pids = set(psutil.pids())
            for gone in self._known.keys() - pids:
                del self._known[gone]
            for pid in pids - self._known.keys():
                try:
                    proc = psutil.Process(pid)
                    if proc.name() != "postgres":
                        self._known[pid] = (proc, None)
                        continue
                    title = _pg_title(proc)
                    if not title and psutil.Process(proc.ppid()).name() == "postgres":
                        continue  # just forked, no title yet: look again next time
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                backend = _PG_CLIENT_BACKEND.match(title)
                self._known[pid] = (
                    proc,
                    backend is not None and backend["db"] != self.own_database,
                )
            return list(self._known.values())


def process_tree(get_root: Callable[[], psutil.Process | None]) -> ProcessFinder:
    def find() -> list[psutil.Process]:
        root = get_root()
        if root is None:
            return []
        try:
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    return find


@dataclass
class _Reading:
    group: str
    name: str
    ppid: int
    first: float  # own user+system CPU seconds at the first reading (0 if born in the window)
    last: float
    children_first: float  # CPU of reaped children, likewise
    children_last: float
    alive_at_end: bool = False

    @property
    def used(self) -> float:
        return (self.last - self.first) + (self.children_last - self.children_first)


class CpuMeter:
    """User + system CPU seconds used by named groups of processes during a `with` block.

    A thread re-discovers each group every `interval` seconds and keeps every process's latest
    reading. Processes born in the window count from zero. A process that exits in the window
    is reaped by its parent, whose "children" CPU times then hold its whole life: when that
    parent is tracked and still alive, the exact figure is used (so even a backend that lived
    between two samples is counted, in its parent's group); otherwise the process keeps what it
    had used at its last reading. The harness's own CPU and that of its reaped children (the
    load generator, which runs and exits inside the window) are reported exactly, next to
    machine-wide CPU."""

    def __init__(self, groups: dict[str, ProcessFinder], *, interval: float = 0.5):
        self.groups = groups
        self.interval = interval
        self._readings: dict[tuple[int, float], _Reading] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-meter", daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> CpuMeter:
        self._t0 = time.time()
        self._wall0 = time.monotonic()
        self._machine0 = psutil.cpu_times()
        self._self0 = psutil.Process().cpu_times()
        self._sample(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(last=True)
        self._wall1 = time.monotonic()
        self._machine1 = psutil.cpu_times()
        self._self1 = psutil.Process().cpu_times()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self, *, first: bool = False, last: bool = False) -> None:
        with self._lock:
            for group, finder in self.groups.items():
                for proc in finder():
                    try:
                        with proc.oneshot():
                            key = (proc.pid, proc.create_time())
                            times = proc.cpu_times()
                            name, ppid = proc.name(), proc.ppid()
                    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                        continue
                    own = times.user + times.system
                    children = times.children_user + times.children_system
                    reading = self._readings.get(key)
                    if reading is None:
                        born_inside = not first and key[1] >= self._t0
                        reading = self._readings[key] = _Reading(
                            group, name, ppid,
                            first=0.0 if born_inside else own, last=own,
                            children_first=0.0 if born_inside else children,
                            children_last=children,
                        )  # fmt: skip
                    reading.last, reading.children_last = own, children
                    reading.alive_at_end = last

    def per_process(self, group: str) -> dict[int, float]:
        """CPU seconds each process of `group` used in the window (own, without children)."""
        return {
            pid: round(r.last - r.first, 3)
            for (pid, _), r in self._readings.items()
            if r.group == group
        }

    def report(self) -> dict[str, Any]:
        wall = self._wall1 - self._wall0
        totals = dict.fromkeys(self.groups, 0.0)
        busiest = dict.fromkeys(self.groups, 0.0)
        counts = dict.fromkeys(self.groups, 0)
        alive = {pid: r for (pid, _), r in self._readings.items() if r.alive_at_end}
        for reading in self._readings.values():
            totals[reading.group] += reading.used
            counts[reading.group] += 1
            busiest[reading.group] = max(busiest[reading.group], reading.last - reading.first)
            parent = alive.get(reading.ppid)
            if not reading.alive_at_end and parent is not None:
                # Its parent's children delta holds its whole life; this process's group keeps
                # what was seen of it, the parent's group gets the unseen tail.
                totals[parent.group] -= reading.last + reading.children_last
        groups = {
            group: {
                "cpu_s": round(totals[group], 3),
                "cores": round(totals[group] / wall, 3),
                "processes": counts[group],
                "busiest_process_core_share": round(busiest[group] / wall, 3),
            }
            for group in self.groups
        }
        s0, s1 = self._self0, self._self1
        harness = (s1.user + s1.system) - (s0.user + s0.system)
        reaped = (s1.children_user + s1.children_system) - (s0.children_user + s0.children_system)
        m0, m1 = self._machine0, self._machine1
        idle = (m1.idle - m0.idle) + (getattr(m1, "iowait", 0) - getattr(m0, "iowait", 0))
        total = sum(m1) - sum(m0)
        cpus = psutil.cpu_count() or 1
        busy = (total - idle) / total * cpus if total else 0.0
        return {
            "wall_s": round(wall, 3),
            "groups": groups,
            "harness_cpu_s": round(harness, 3),
            "harness_reaped_children_cpu_s": round(reaped, 3),
            "machine": {"cpus": cpus, "busy_cores": round(busy, 3)},
        }


# --------------------------------------------------------------------------------------------
# Load generators: each runs as its own process(es), GETs a list of paths in random order with
# a fixed set of headers, closed loop (each client sends its next request when the last ends).


@dataclass
class LoadResult:
    generator: str
    requests: int
    errors: int
    duration_s: float
    latency_ms: dict[str, float]
    error_samples: list[str] = field(default_factory=list)

    @property
    def req_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def percentiles(values: Sequence[float], points: Sequence[float] = (50, 95, 99)) -> dict[str, Any]:
    """Nearest-rank percentiles of `values` (ms), plus mean and max."""
    ordered = sorted(values)
    if not ordered:
        return {f"p{p:g}": None for p in points} | {"mean": None, "max": None}
    out = {f"p{p:g}": round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2)
           for p in points}  # fmt: skip
    return out | {"mean": round(sum(ordered) / len(ordered), 2), "max": round(ordered[-1], 2)}


class LoadGenerator:
    """Runs as its own process(es). `measure` warms up, then keeps the load on for `duration`
    seconds inside `meter` (a CpuMeter not yet entered), so CPU and requests cover the same
    window, and returns the requests of that window."""

    name = "?"

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self._output: Any = None

    def root(self) -> psutil.Process | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            return psutil.Process(self.proc.pid)
        except psutil.NoSuchProcess:
            return None

    def measure(
        self, warmup: float, duration: float, meter: CpuMeter, profiler: PySpy | None = None
    ) -> LoadResult:
        raise NotImplementedError

    def _start(self, cmd: list[str], env: dict[str, str]) -> None:
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _finish
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self._output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def _finish(self, timeout: float) -> str:
        """Wait for the process to stop by itself (killing it after `timeout`); its output."""
        assert self.proc is not None and self._output is not None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(self.proc, grace=5)
            raise RuntimeError(f"{self.name} did not stop by itself") from None
        finally:
            self._output.seek(0)
            output = self._output.read().decode(errors="replace")
            self._output.close()
        if self.proc.returncode != 0:
            raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{output[-3000:]}")
        return output

    def _abort(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            _stop_group(self.proc, grace=5)


def write_paths(paths: Sequence[str]) -> Path:
    """The request paths for a load generator, one per line, in a temporary file."""
    fd, name = tempfile.mkstemp(prefix="tos-bench-paths-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(paths) + "\n")
    return Path(name)


class Locust(LoadGenerator):
    """One headless locust run with `locustfile_get.py` (FastHttpUser) covering warm-up and
    measurement; `processes` > 1 forks that many locust workers under a master. The locustfile
    records every request's end time and unrounded latency, so the measured window is cut out
    exactly and locust's own start-up and shutdown stay outside it."""

    name = "locust"

    def __init__(
        self, host: str, *, users: int, paths_file: Path, token: str, processes: int = 1
    ) -> None:
        super().__init__()
        self.host, self.users, self.processes = host, users, processes
        self.paths_file, self.token = paths_file, token

    def measure(
        self, warmup: float, duration: float, meter: CpuMeter, profiler: PySpy | None = None
    ) -> LoadResult:
        run_time = warmup + duration + 2  # the tail after the window is discarded
        with tempfile.TemporaryDirectory(prefix="tos-bench-locust-") as tmp:
            out_dir = Path(tmp)
            env = dict(os.environ, BENCH_PATHS_FILE=str(self.paths_file), BENCH_TOKEN=self.token,
                       BENCH_OUT_DIR=tmp)  # fmt: skip
            cmd = [executable("locust"), "-f", str(LOCUST_GET), "--headless", "--host", self.host,
                   "-u", str(self.users), "-r", str(self.users), "-t", f"{run_time:g}s",
                   "--stop-timeout", "0", "--only-summary", "--loglevel", "WARNING",
                   "--exit-code-on-error", "0"]  # fmt: skip
            if self.processes > 1:
                cmd += ["--processes", str(self.processes)]
            self._start(cmd, env)
            try:
                self._wait_for_load(out_dir, timeout=60)
                log(f"locust: load started; warm-up {warmup:g}s, then {duration:g}s measured")
                time.sleep(warmup)
                with profiling(profiler), meter:
                    t0 = time.time()
                    time.sleep(duration)
                    t1 = time.time()
            except BaseException:
                self._abort()
                raise
            self._finish(timeout=run_time + 60)
            parts = [json.loads(p.read_text()) for p in out_dir.glob("*.json")]
        done = [(end, ms, ok) for part in parts for end, ms, ok in part["requests"]]
        window = [(ms, ok) for end, ms, ok in done if t0 <= end <= t1]
        if not window:
            raise RuntimeError(f"locust recorded no requests in the window ({len(done)} in all)")
        samples = sorted({msg for part in parts for msg in part["error_samples"]})[:5]
        return LoadResult(
            generator=f"locust x{self.processes}",
            requests=len(window),
            errors=sum(1 for _, ok in window if not ok),
            duration_s=t1 - t0,
            latency_ms=percentiles([ms for ms, _ in window]),
            error_samples=samples,
        )

    def _wait_for_load(self, out_dir: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(out_dir.glob("started-*")):
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"locust exited early ({self.proc.returncode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"locust sent no request within {timeout}s")
            time.sleep(0.05)


class Wrk(LoadGenerator):
    """wrk with `wrk_get.lua`: `users` connections over `threads` threads. wrk starts in
    milliseconds, so the warm-up is a run of its own and the measured run sits inside the
    CPU window."""

    name = "wrk"

    def __init__(
        self, host: str, *, users: int, paths_file: Path, token: str, threads: int = 1
    ) -> None:
        super().__init__()
        self.host, self.users, self.threads = host, users, max(1, min(threads, users))
        self.paths_file, self.token = paths_file, token

    def measure(
        self, warmup: float, duration: float, meter: CpuMeter, profiler: PySpy | None = None
    ) -> LoadResult:
        if warmup:
            warm = self._run(warmup)
            log(f"wrk: warm-up done ({warm.requests} requests, {warm.errors} errors)")
        with profiling(profiler), meter:
            return self._run(duration)

    def _run(self, seconds: float) -> LoadResult:
        env = dict(os.environ, BENCH_PATHS_FILE=str(self.paths_file), BENCH_TOKEN=self.token)
        cmd = [executable("wrk"), "-t", str(self.threads), "-c", str(self.users),
               "-d", f"{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(WRK_GET),
               self.host]  # fmt: skip
        self._start(cmd, env)
        output = self._finish(timeout=seconds + 30)
        line = next((ln for ln in output.splitlines() if ln.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result:\n{output[-3000:]}")
        data = json.loads(line.removeprefix("BENCH_JSON "))
        errors = data["errors"]
        return LoadResult(
            generator=f"wrk -t{self.threads}",
            requests=data["requests"],
            errors=sum(errors.values()),
            duration_s=data["duration_us"] / 1e6,
            latency_ms={k: round(v / 1000, 2) for k, v in data["latency_us"].items()},
            error_samples=[f"{k}: {v}" for k, v in errors.items() if v],
        )


# --------------------------------------------------------------------------------------------
# Results


def standard_groups(server: Server, db_url: str, generator: LoadGenerator) -> dict[str, Any]:
    postgres = PostgresProcesses(database_name(db_url))
    return {
        "tos_server": server.processes,
        "postgres": postgres.ours,
        "postgres_other_databases": postgres.others,
        "load_generator": process_tree(generator.root),
    }


def machine_busy_cores(seconds: float = 1.0) -> float:
    """How many cores the machine keeps busy over `seconds` (call it while the server idles:
    anything well above 0 is someone else's work, and the figures will be noisy)."""
    t0 = psutil.cpu_times()
    time.sleep(seconds)
    t1 = psutil.cpu_times()
    idle = (t1.idle - t0.idle) + (getattr(t1, "iowait", 0) - getattr(t0, "iowait", 0))
    total = sum(t1) - sum(t0)
    return round((total - idle) / total * (psutil.cpu_count() or 1), 3) if total else 0.0


def wait_for_quiet_machine(max_wait: float, *, threshold: float = 0.25) -> float:
    """Wait up to `max_wait` seconds until fewer than `threshold` cores are busy (measured
    over 2 s); the last reading."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy_cores(2)
    while busy >= threshold and time.monotonic() < deadline:
        log(f"machine busy ({busy} cores); waiting for it to quiet down")
        time.sleep(3)
        busy = machine_busy_cores(2)
    return busy


def summarize(
    params: dict[str, Any],
    load: LoadResult,
    cpu: dict[str, Any],
    *,
    busy_before: float | None = None,
) -> dict[str, Any]:
    """The headline figures first, then the evidence behind them. Expects the groups of
    `standard_groups`; `busy_before` is `machine_busy_cores()` taken before the load."""
    groups = cpu["groups"]
    tos_s, pg_s = groups["tos_server"]["cpu_s"], groups["postgres"]["cpu_s"]
    # A load generator that exits inside the window (wrk) was reaped by the harness, which
    # then holds its exact CPU; one that outlives the window (locust) is sampled.
    gen_s = max(cpu["harness_reaped_children_cpu_s"], groups["load_generator"]["cpu_s"])
    wall = cpu["wall_s"]
    accounted = tos_s + pg_s + groups["postgres_other_databases"]["cpu_s"] + gen_s
    accounted += cpu["harness_cpu_s"]

    def per_request(seconds: float) -> float | None:
        return round(seconds * 1000 / load.requests, 3) if load.requests else None

    return {
        "req_per_s": round(load.req_per_s, 1),
        "latency_ms": load.latency_ms,
        "requests": load.requests,
        "errors": load.errors,
        "server_cpu_ms_per_request": per_request(tos_s + pg_s),
        "server_cpu_ms_per_request_breakdown": {
            "tos": per_request(tos_s),
            "postgres": per_request(pg_s),
        },
        "server_cores_busy": {"tos": round(tos_s / wall, 3), "postgres": round(pg_s / wall, 3)},
        "load_generator": {
            "tool": load.generator,
            "cpu_ms_per_request": per_request(gen_s),
            "cores": round(gen_s / wall, 3),
            "busiest_process_core_share": groups["load_generator"]["busiest_process_core_share"],
        },
        "machine": {
            **cpu["machine"],
            # Busy CPU in none of the processes above: kernel work (loopback networking),
            # other programs on this machine.
            "unaccounted_cores": round(cpu["machine"]["busy_cores"] - accounted / wall, 3),
            "busy_cores_before_load": busy_before,
        },
        "error_samples": load.error_samples,
        "parameters": params,
        "cpu": cpu,
        "measured_duration_s": round(load.duration_s, 3),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git_revision(),
    }


def git_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return done.stdout.strip()

    try:
        head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "--", "src")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{'+dirty src' if dirty else ''}"


def emit(name: str, results: dict[str, Any]) -> Path:
    """Print `results` as JSON on stdout and write bench/results/<name>.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = json.dumps(results, indent=2)
    path.write_text(document + "\n")
    print(document, flush=True)
    log(f"wrote {path.relative_to(ROOT)}")
    return path


def run(main: Callable[[], int]) -> None:
    """Run a benchmark's main; Ctrl-C still stops the server and drops the database."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; server stopped and database dropped")
        sys.exit(130)
