"""Document benchmark: invoices rendered per second by one worker, and the time from a payment
webhook to the confirmation e-mail in the mail sink under a burst of paid bookings.

Two measurements on one fresh PostgreSQL database, one JSON document:

1. `invoices_per_s_one_worker`: N bookings (default 300) seeded straight into the database as
   payment_confirmed with a captured ledger entry; then this process, on one thread (one
   worker), calls tos.documents.service.issue_invoice for each in its own transaction
   (tenant-scoped, committed) and measures invoices/s, the per-invoice latency, the thread's
   CPU per invoice and PostgreSQL's, and where an invoice's time goes (Jinja, WeasyPrint, the
   file write with its fsync, the rest: SQL, ORM, audit, commit). A few vouchers and
   itineraries are timed the same way afterwards.
2. `webhook_to_confirmation`: the real server (`tos serve --workers 2`, its embedded job queue,
   TOS_MAIL_DIR and TOS_DOCUMENTS_DIR in temporary directories) and 200 bookings seeded in
   payment_pending, each with a sandbox Payment (requires_action) whose sandbox charge is paid.
   16 concurrent senders post the 200 signed `payment.succeeded` webhooks as one burst; for each
   booking, the time from its webhook's 200 to its confirmation .eml in the sink (invoice,
   voucher and itinerary attached), the time until all of them are there, and server CPU per
   booking; then SQL checks: one confirmation per booking, one invoice each with gapless
   numbers, every booking documents_generated.

    .venv/bin/python bench/documents.py [--invoices 300] [--bookings 200] [--senders 16] ...

Prints one JSON document, also written to bench/results/documents.json. See bench/README.md
("Documents") for how to read it.
"""

from __future__ import annotations

import argparse
import cProfile
import email
import email.parser
import email.policy
import http.client
import json
import math
import os
import pstats
import re
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from booking_rush import SessionSampler
from common import (
    HOST,
    RESULTS_DIR,
    ROOT,
    CpuMeter,
    PostgresProcesses,
    PySpy,
    SeededOrg,
    Server,
    bench_database,
    database_name,
    emit,
    exit_cleanly_on_signals,
    git_revision,
    log,
    percentiles,
    profiling,
    run,
    seed_organization,
    seed_tour,
    wait_for_quiet_machine,
)
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.pool import NullPool

WEBHOOK_PATH = "/api/payments/webhook?provider=sandbox"
PER_SCHEDULE = 10  # bookings per departure (3 seats each): no departure is a hot row
DAYS_AHEAD = 30  # departures a month out: no reminder (24 h before) and no completion fires

# Every booking: 2 adults + 1 child, 5 % early-bird discount, VAT 22 % on top, a 1 % city tax
# included: the invoice shows lines, a discount and both taxes, as a priced booking's does.
ADULT, CHILD = 4500, 2500
SUBTOTAL = 2 * ADULT + CHILD  # 11,500
DISCOUNT = 575  # 5 %
VAT = 2404  # 22 % of 10,925
CITY_TAX = 108  # inside the price: 10,925 − 10,925 / 1.01
TOTAL = SUBTOTAL - DISCOUNT + VAT  # 13,329 (EUR 133.29)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--invoices", type=int, default=300, help="invoices issued, measured (part 1)")
    p.add_argument(
        "--warmup-invoices",
        type=int,
        default=5,
        help="first, this many unmeasured invoices (WeasyPrint's import and font loading)",
    )
    p.add_argument(
        "--other-documents",
        type=int,
        default=20,
        help="then vouchers and itineraries timed for this many of the invoiced bookings",
    )
    p.add_argument("--bookings", type=int, default=200, help="paid bookings in the burst (part 2)")
    p.add_argument(
        "--warmup-bookings",
        type=int,
        default=10,
        help="first, an unmeasured burst this big (warms the server's document path)",
    )
    p.add_argument("--senders", type=int, default=16, help="concurrent webhook senders")
    p.add_argument("--workers", type=int, default=2, help="tos serve --workers")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=240,
        help="limit for the confirmations to arrive after the burst",
    )
    p.add_argument(
        "--parts",
        default="invoices,confirmations",
        help="which measurements, comma-separated: invoices, confirmations",
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
        "--profile",
        action="store_true",
        help="profile (the figures are then perturbed): cProfile the measured invoices (top "
        "functions in bench/results/<name>-invoices-cprofile.txt) and py-spy the serve process "
        "(the job queue) during the burst (<name>-jobqueue-pyspy-worker1.txt; needs py-spy)",
    )
    p.add_argument("--name", default="documents", help="results name")
    args = p.parse_args(argv)
    args.part_set = {x.strip() for x in args.parts.split(",") if x.strip()}
    if not args.part_set or args.part_set - {"invoices", "confirmations"}:
        p.error("--parts: invoices and/or confirmations")
    if not 1 <= args.invoices <= 20_000 or args.warmup_invoices < 0:
        p.error("--invoices must be in [1, 20000] and --warmup-invoices not negative")
    if not 0 <= args.other_documents <= args.invoices:
        p.error("--other-documents must be in [0, --invoices]")
    if not 1 <= args.bookings <= 5000 or args.warmup_bookings < 0:
        p.error("--bookings must be in [1, 5000] and --warmup-bookings not negative")
    if not 1 <= args.senders <= 256:
        p.error("--senders must be in [1, 256]")
    if not 10 <= args.max_seconds <= 1800:
        p.error("--max-seconds must be in [10, 1800]")
    if any("=" not in item for item in args.server_env):
        p.error("--server-env takes KEY=VALUE")
    return args


# --------------------------------------------------------------------------------------------
# Seeding: priced bookings on departures a month out, paid (part 1) or waiting for the sandbox's
# webhook (part 2)


@dataclass(frozen=True)
class Seeded:
    booking_id: str
    reference: str
    payment_id: str | None  # part 2: the sandbox payment, and its charge
    charge_id: str | None


def seed_org(db_url: str) -> SeededOrg:
    """An organization whose invoices carry a seller's legal details."""
    from sqlalchemy import select

    from tos.db.session import use_database
    from tos.identity.models import Organization

    org = seed_organization(db_url, timezone="Europe/Rome")
    with use_database(db_url)(write=True, organization_id=org.id) as session:
        row = session.scalar(select(Organization).where(Organization.id == org.id))
        assert row is not None
        row.settings = {**(row.settings or {}), "legal": {
            "legal_name": f"{row.name} S.r.l.", "address": "Via dei Fori Imperiali 1, Roma",
            "tax_id": "IT01234567890", "email": f"billing@{org.slug}.test",
            "phone": "+39 06 0000000",
        }}  # fmt: skip
        session.commit()
    return org


def _snapshot(adult_tier: str, child_tier: str) -> dict[str, Any]:
    def money(amount: int) -> dict[str, Any]:
        return {"amount": amount, "currency": "EUR"}

    def line(name: str, tier: str, unit: str, quantity: int, price: int) -> dict[str, Any]:
        return {"kind": "scheduled", "name": name, "pricing_tier_id": tier, "unit_type": unit,
                "quantity": quantity, "base_unit_price": money(price),
                "unit_price": money(price), "total_price": money(price * quantity)}  # fmt: skip

    return {
        "currency": "EUR",
        "season": None,
        "lines": [
            line("Adult", adult_tier, "ADULT", 2, ADULT),
            line("Child", child_tier, "CHILD", 1, CHILD),
        ],
        "subtotal": money(SUBTOTAL),
        "discounts": [
            {
                "type": "rule",
                "description": "Book a month ahead (5%)",
                "amount": money(DISCOUNT),
                "code_id": None,
                "rule_id": None,
            }
        ],
        "taxes": [
            {
                "name": "VAT",
                "rate": 0.22,
                "rate_bp": 2200,
                "inclusive": False,
                "amount": money(VAT),
            },
            {
                "name": "City tax",
                "rate": 0.01,
                "rate_bp": 100,
                "inclusive": True,
                "amount": money(CITY_TAX),
            },
        ],  # fmt: skip
        "discount_total": money(DISCOUNT),
        "tax_total": money(VAT),
        "total": money(TOTAL),
    }


def seed_bookings(
    db_url: str, engine: Engine, org: SeededOrg, phases: dict[str, int], *, paid: bool
) -> dict[str, list[Seeded]]:
    """`phases[p]` bookings per phase (references PAID-<p>… or BURST-<p>…, unique across the
    database, which holds both parts) on one tour's departures, starting
    DAYS_AHEAD days from now. `paid`: payment_confirmed with a captured ledger entry (what
    issue_invoice expects); otherwise payment_pending with a sandbox Payment (requires_action)
    and the sandbox's own charge already paid, so that its webhook confirms the booking."""
    from tos.bookings.models import Booking, BookingLine
    from tos.crm.models import Customer
    from tos.db.ids import new_id
    from tos.db.session import use_database
    from tos.payments.models import LedgerEntry, Payment, SandboxCharge

    total = sum(phases.values())
    first = datetime.now(ZoneInfo(org.timezone)).date() + timedelta(days=DAYS_AHEAD)
    days = math.ceil(total / (3 * PER_SCHEDULE))
    tour = seed_tour(db_url, org, days=days, capacity=3 * PER_SCHEDULE, first_date=first)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE schedules SET status = 'open', seats_taken = 0 WHERE tour_id = :t"),
            {"t": tour.id},
        )
        schedules = list(
            conn.scalars(
                text("SELECT id FROM schedules WHERE tour_id = :t ORDER BY starts_at"),
                {"t": tour.id},
            )
        )
    adult, child = tour.tier_ids  # seed_tour's tiers: ADULT, CHILD
    snapshot = _snapshot(adult, child)
    status = "payment_confirmed" if paid else "payment_pending"
    factory = use_database(db_url)
    out: dict[str, list[Seeded]] = {}
    n = 0
    for phase, count in phases.items():
        rows: dict[type, list[dict[str, Any]]] = {
            m: [] for m in (Customer, Booking, BookingLine, Payment, SandboxCharge, LedgerEntry)
        }
        seeded = []
        for i in range(count):
            customer, booking = new_id(), new_id()
            schedule = schedules[n // PER_SCHEDULE]
            n += 1
            reference = f"{'PAID' if paid else 'BURST'}-{phase}{i:06d}"
            last = f"Traveller {phase}{i}"
            rows[Customer].append({
                "id": customer, "organization_id": org.id, "first_name": "Ana",
                "last_name": last, "email": f"doc{phase.lower()}{i}@{org.slug}.test",
            })  # fmt: skip
            rows[Booking].append({
                "id": booking, "organization_id": org.id, "reference": reference,
                "customer_id": customer, "schedule_id": schedule, "tour_id": tour.id,
                "status": status, "source": "website", "currency": org.currency,
                "subtotal": SUBTOTAL, "discount_total": DISCOUNT, "tax_total": VAT,
                "total": TOTAL, "deposit_required": TOTAL, "price_snapshot": snapshot,
                "held_seats": 3, "participants_count": 3, "created_by_type": "system",
                "special_requests": "Window seat on the minibus, please.",
            })  # fmt: skip
            for tier, name, unit, qty, price, people in (
                (adult, "Adult", "ADULT", 2, ADULT, [("Ana", last), ("Rui", last)]),
                (child, "Child", "CHILD", 1, CHILD, [("Eva", last)]),
            ):
                rows[BookingLine].append({
                    "organization_id": org.id, "booking_id": booking, "kind": "scheduled",
                    "schedule_id": schedule, "pricing_tier_id": tier, "name": name,
                    "unit_type": unit, "quantity": qty, "unit_amount": price,
                    "amount": price * qty,
                    "participants": [{"first_name": f, "last_name": s} for f, s in people],
                })  # fmt: skip
            payment = charge = None
            if paid:
                rows[LedgerEntry].append({
                    "organization_id": org.id, "booking_id": booking, "kind": "captured",
                    "status": "succeeded", "amount": TOTAL, "currency": org.currency,
                    "method": "card", "provider": "sandbox", "actor_type": "system",
                    "settled_at": datetime.now(UTC),
                })  # fmt: skip
            else:
                payment = new_id()
                charge = "sbx_" + payment.replace("-", "")
                rows[Payment].append({
                    "id": payment, "organization_id": org.id, "booking_id": booking,
                    "provider": "sandbox", "provider_ref": charge, "amount": TOTAL,
                    "currency": org.currency, "status": "requires_action",
                    "client_payload": {"provider": "sandbox", "chargeId": charge},
                })  # fmt: skip
                # The customer pressed Pay: the sandbox's own record says so; TOS hears it from
                # the webhook.
                rows[SandboxCharge].append({
                    "id": charge, "payment_id": payment, "amount": TOTAL,
                    "currency": org.currency, "status": "succeeded",
                })  # fmt: skip
            seeded.append(Seeded(booking, reference, payment, charge))
        with factory(write=True, organization_id=org.id) as session:
            for model, model_rows in rows.items():
                if model_rows:
                    session.execute(insert(model), model_rows)
            session.commit()
        out[phase] = seeded
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE schedules s SET seats_taken = b.n FROM (SELECT schedule_id, "
                "sum(held_seats) AS n FROM bookings GROUP BY schedule_id) b "
                "WHERE b.schedule_id = s.id"
            )
        )
        conn.execute(text("ANALYZE"))
    return out


# --------------------------------------------------------------------------------------------
# Part 1: invoices issued one after another in this process (one thread, as one worker)


class Stopwatch:
    """Wall and this-thread CPU seconds spent inside wrapped functions, per name, since the last
    `reset`. A wrapped call inside another is counted in both (render_html inside render_pdf)."""

    def __init__(self) -> None:
        self.wall: Counter[str] = Counter()
        self.cpu: Counter[str] = Counter()

    def reset(self) -> None:
        self.wall.clear()
        self.cpu.clear()

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            w0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall[name] += time.perf_counter() - w0
                self.cpu[name] += time.thread_time() - c0

        return timed


@contextmanager
def timed_document_path(watch: Stopwatch) -> Iterator[None]:
    """Wrap Jinja (render_html), Jinja + WeasyPrint (render_pdf) and the storage write (with its
    fsync); the service calls them through their modules, so patching the attributes is enough."""
    from tos.documents import render, storage

    html, pdf, put = render.render_html, render.render_pdf, storage.LocalStorage.put
    render.render_html = watch.wrap("jinja", html)
    render.render_pdf = watch.wrap("render_pdf", pdf)
    setattr(storage.LocalStorage, "put", watch.wrap("storage", put))  # noqa: B010
    try:
        yield
    finally:
        render.render_html, render.render_pdf = html, pdf
        setattr(storage.LocalStorage, "put", put)  # noqa: B010


@dataclass
class Issued:
    wall: float  # s, the whole transaction: open, issue, commit
    cpu: float  # s, this thread
    jinja: float
    weasyprint: float
    storage: float
    commit: float
    jinja_cpu: float
    weasyprint_cpu: float
    size: int


def issue_one(
    factory: Any, org_id: str, booking_id: str, watch: Stopwatch, kind: str = "invoice"
) -> Issued:
    from tos.documents import service as documents

    issue = {
        "invoice": documents.issue_invoice,
        "voucher": documents.issue_voucher,
        "itinerary": documents.issue_itinerary,
    }[kind]
    watch.reset()
    w0, c0 = time.perf_counter(), time.thread_time()
    with factory(write=True, organization_id=org_id) as session:
        doc = issue(session, booking_id)
        size = doc.size
        t = time.perf_counter()
        session.commit()
        commit = time.perf_counter() - t
    wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
    return Issued(
        wall=wall,
        cpu=cpu,
        jinja=watch.wall["jinja"],
        weasyprint=watch.wall["render_pdf"] - watch.wall["jinja"],
        storage=watch.wall["storage"],
        commit=commit,
        jinja_cpu=watch.cpu["jinja"],
        weasyprint_cpu=watch.cpu["render_pdf"] - watch.cpu["jinja"],
        size=size,
    )


def measure_invoices(
    db_url: str, engine: Engine, org: SeededOrg, seeded: dict[str, list[Seeded]], args: Any
) -> dict[str, Any]:
    from tos.db.session import use_database

    factory = use_database(db_url)
    watch = Stopwatch()
    warm, measured = seeded.get("W", []), seeded["M"]
    cold_ms = None
    postgres = PostgresProcesses(database_name(db_url))
    meter = CpuMeter({"postgres": postgres.ours, "postgres_other_databases": postgres.others})
    profiler = cProfile.Profile() if args.profile else None
    issued: list[Issued] = []
    with timed_document_path(watch):
        for i, s in enumerate(warm):
            one = issue_one(factory, org.id, s.booking_id, watch)
            if i == 0:
                cold_ms = round(one.wall * 1000, 1)
        log(f"invoices: {len(warm)} warm-up (first {cold_ms} ms); {len(measured)} measured")
        busy_before = wait_for_quiet_machine(args.wait_quiet)
        if busy_before > 0.25:
            log(f"warning: {busy_before} cores busy before the invoices")
        c0, w0 = time.thread_time(), time.perf_counter()
        with meter:
            if profiler:
                profiler.enable()
            for s in measured:
                issued.append(issue_one(factory, org.id, s.booking_id, watch))
            if profiler:
                profiler.disable()
        wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
        log(f"invoices: {len(measured) / wall:.1f}/s")
        others: dict[str, list[Issued]] = {"voucher": [], "itinerary": []}
        for s in measured[: args.other_documents]:
            for kind, out in others.items():
                out.append(issue_one(factory, org.id, s.booking_id, watch, kind))
    report = meter.report()
    pg_s = report["groups"]["postgres"]["cpu_s"]
    n = len(issued)

    def mean_ms(values: list[float]) -> float:
        return round(sum(values) * 1000 / len(values), 2) if values else 0.0

    split = {
        "jinja": mean_ms([x.jinja for x in issued]),
        "weasyprint": mean_ms([x.weasyprint for x in issued]),
        "storage_write_fsync": mean_ms([x.storage for x in issued]),
        "commit": mean_ms([x.commit for x in issued]),
    }
    split["database_orm_audit"] = round(
        mean_ms([x.wall for x in issued]) - sum(split.values()), 2
    )  # the rest: queries, the number, the row, the audit entry
    cpu_split = {
        "jinja": mean_ms([x.jinja_cpu for x in issued]),
        "weasyprint": mean_ms([x.weasyprint_cpu for x in issued]),
    }
    cpu_split["rest"] = round(mean_ms([x.cpu for x in issued]) - sum(cpu_split.values()), 2)
    profile_file = write_profile(profiler, args.name) if profiler else None
    return {
        "invoices_per_s": round(n / wall, 2),
        "invoice_ms": percentiles([x.wall * 1000 for x in issued]),
        "cpu_ms_per_invoice": round(cpu * 1000 / n, 2),  # the issuing thread
        "postgres_cpu_ms_per_invoice": round(pg_s * 1000 / n, 2),
        "harness_process_cpu_ms_per_invoice": round(report["harness_cpu_s"] * 1000 / n, 2),
        "split_ms_per_invoice": split,
        "split_cpu_ms_per_invoice": cpu_split,
        "weasyprint_share_of_wall": round(
            split["weasyprint"] / mean_ms([x.wall for x in issued]), 3
        ),
        "pdf_bytes": round(sum(x.size for x in issued) / n),
        "first_invoice_ms_cold": cold_ms,
        "invoices": n,
        "warmup_invoices": len(warm),
        "wall_s": round(wall, 3),
        "other_documents": {
            kind: {
                "count": len(items),
                "ms": percentiles([x.wall * 1000 for x in items]),
                "cpu_ms": mean_ms([x.cpu for x in items]),
                "weasyprint_ms": mean_ms([x.weasyprint for x in items]),
                "pdf_bytes": round(sum(x.size for x in items) / len(items)) if items else None,
            }
            for kind, items in others.items()
        },
        "database": check_invoices(engine, org.id, [s.booking_id for s in warm + measured]),
        "machine": {**report["machine"], "busy_cores_before_load": busy_before},
        "profiled": bool(profiler),
        "profile_file": profile_file,
    }


def write_profile(profiler: cProfile.Profile, name: str) -> str:
    out = StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(40)
    path = RESULTS_DIR / f"{name}-invoices-cprofile.txt"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue())
    log(f"cProfile: {path.relative_to(ROOT)}")
    return str(path.relative_to(ROOT))


def check_invoices(engine: Engine, org_id: str, booking_ids: list[str]) -> dict[str, Any]:
    """One invoice per booking, and the organization's invoice numbers 1..n without a gap."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT booking_id, number FROM documents WHERE organization_id = :o "
                "AND type = 'invoice'"
            ),
            {"o": org_id},
        ).all()
    per_booking = Counter(b for b, _ in rows)
    numbers = [int(num.rsplit("-", 1)[1]) for _, num in rows if num]
    ours = set(booking_ids)
    checks = {
        "one invoice per booking": set(per_booking) == ours
        and all(v == 1 for v in per_booking.values()),
        "numbers distinct": len(set(numbers)) == len(numbers) == len(rows),
        "numbers gapless from 1": sorted(numbers) == list(range(1, len(numbers) + 1)),
    }
    return {
        "invoices": len(rows),
        "numbers": f"{min(numbers, default=0)}..{max(numbers, default=0)}",
        "checks": checks,
    }


# --------------------------------------------------------------------------------------------
# Part 2: the burst of webhooks, and the mail sink


@dataclass
class Send:
    index: int
    start: float  # epoch seconds
    end: float
    status: int  # 0: no HTTP answer


def render_requests(
    items: list[Seeded], event_ids: list[str], secret: str
) -> list[tuple[bytes, dict[str, str]]]:
    """The signed webhooks (body, headers), signed now: a signature is good for 300 s."""
    from tos.payments.providers.sandbox import sign

    out = []
    for s, event_id in zip(items, event_ids, strict=True):
        # The event as the sandbox documents it (tos/payments/providers/sandbox.py).
        event = {"id": event_id, "type": "payment.succeeded",
                 "data": {"payment_id": s.payment_id, "charge_id": s.charge_id,
                          "amount": TOTAL, "currency": "EUR"}}  # fmt: skip
        body = json.dumps(event, separators=(",", ":")).encode()
        out.append((body, {**sign(secret, body), "Content-Type": "application/json"}))
    return out


class Burst:
    """`senders` keep-alive connections (opened one at a time, as a provider's would be: opened
    at once they all land on one uvicorn worker), released together; each sends the next
    webhook of the list as soon as its last one is answered."""

    def __init__(
        self, port: int, requests: list[tuple[bytes, dict[str, str]]], senders: int
    ) -> None:
        self.port, self.senders, self.requests = port, senders, requests
        self.sends: list[Send] = []
        self._next = iter(range(len(requests)))
        self._lock = threading.Lock()
        self._go = threading.Event()
        self._threads: list[threading.Thread] = []

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        conn.connect()
        return conn

    def prepare(self) -> None:
        for _ in range(self.senders):
            conn = self._connect()
            thread = threading.Thread(target=self._sender, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)
            time.sleep(0.05)

    def go(self) -> None:
        self._go.set()

    def join(self, timeout: float) -> list[Send]:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self._threads):
            raise RuntimeError("webhook senders did not finish")
        return sorted(self.sends, key=lambda s: s.index)

    def _sender(self, conn: http.client.HTTPConnection) -> None:
        self._go.wait()
        while True:
            with self._lock:
                index = next(self._next, None)
            if index is None:
                break
            body, headers = self.requests[index]
            start = time.time()
            try:
                conn.request("POST", WEBHOOK_PATH, body, headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = self._connect()
            end = time.time()
            with self._lock:
                self.sends.append(Send(index, start, end, status))
        conn.close()


class MailWatcher:
    """Polls the file sink every `interval` seconds: each new `<communication id>.eml` with the
    time it was written (its mtime: written to a temporary file, then renamed into place) and
    its decoded Subject."""

    def __init__(self, directory: Path, *, interval: float = 0.02) -> None:
        self.directory, self.interval = directory, interval
        self.seen: dict[str, tuple[float, str]] = {}  # communication id -> (written, subject)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mail-watcher", daemon=True)
        self._parser = email.parser.BytesHeaderParser(policy=email.policy.default)

    def __enter__(self) -> MailWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.scan()
            self._stop.wait(self.interval)

    def scan(self) -> None:
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return
        for entry in entries:
            name = entry.name
            if not name.endswith(".eml") or name.startswith(".") or name[:-4] in self.seen:
                continue
            try:
                written = entry.stat().st_mtime_ns / 1e9
                with open(entry.path, "rb") as fh:
                    head = fh.read(8192)
            except FileNotFoundError:
                continue
            subject = str(self._parser.parsebytes(head.split(b"\r\n\r\n")[0] + b"\r\n\r\n")
                          .get("Subject", ""))  # fmt: skip
            self.seen[name[:-4]] = (written, subject)

    def confirmations(self, references: set[str]) -> dict[str, tuple[str, float]]:
        """reference -> (communication id, written) of the confirmation e-mails seen so far."""
        out: dict[str, tuple[str, float]] = {}
        for comm_id, (written, subject) in list(self.seen.items()):
            match = CONFIRMED.match(subject)
            if match and match["ref"] in references:
                out.setdefault(match["ref"], (comm_id, written))
        return out


CONFIRMED = re.compile(r"^Booking confirmed: (?P<ref>\S+)")


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def outbox_left(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM outbox WHERE status = 'pending'")) or 0)


class QueueSampler:
    """Every `interval` seconds: the tasks waiting in the embedded job queue (huey's SQLite
    file, read-only) next to the outbox rows still pending. The outbox sweeper hands every
    pending row older than 2 s to the queue again every 5 s, so under a backlog the queue holds
    copies; each copy costs a locked read of its row when it comes up."""

    def __init__(self, engine: Engine, huey_file: Path, *, interval: float = 0.5) -> None:
        self.engine, self.huey_file, self.interval = engine, huey_file, interval
        self.samples: list[tuple[float, int, int]] = []  # (epoch, queue tasks, outbox pending)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="queue-sampler", daemon=True)

    def __enter__(self) -> QueueSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        uri = f"file:{self.huey_file}?mode=ro"
        while not self._stop.wait(self.interval):
            try:
                with closing(sqlite3.connect(uri, uri=True, timeout=1)) as db:
                    tasks = int(db.execute("SELECT count(*) FROM task").fetchone()[0])
            except sqlite3.Error:
                continue
            self.samples.append((time.time(), tasks, outbox_left(self.engine)))

    def report(self, start: float, end: float) -> dict[str, Any]:
        window = [(q, o) for t, q, o in self.samples if start <= t <= end]
        if not window:
            return {"samples": 0}
        return {
            "samples": len(window),
            "queued_tasks_max": max(q for q, _ in window),
            "queued_tasks_mean": round(sum(q for q, _ in window) / len(window), 1),
            "outbox_pending_max": max(o for _, o in window),
            "outbox_pending_mean": round(sum(o for _, o in window) / len(window), 1),
        }


def burst(
    server: Server,
    engine: Engine,
    watcher: MailWatcher,
    items: list[Seeded],
    secret: str,
    args: Any,
    tag: str,
    *,
    measured: bool,
    huey_file: Path,
    profiler: PySpy | None = None,
) -> dict[str, Any]:
    """One burst; for the measured one, the figures."""
    event_ids = [f"evt_doc_{tag}_{i:06d}" for i in range(len(items))]
    references = {s.reference for s in items}
    gen = Burst(server.port, render_requests(items, event_ids, secret), args.senders)
    gen.prepare()
    postgres = PostgresProcesses(database_name(server.db_url))
    groups = {"tos_server": server.processes, "postgres": postgres.ours,
              "postgres_other_databases": postgres.others}  # fmt: skip
    # From the release until the last confirmation is in the sink, and until the outbox is
    # empty (the payment receipts, sent alongside, may finish a little later).
    to_last, to_idle = CpuMeter(groups), CpuMeter(groups)
    t0 = datetime.now(UTC)
    with SessionSampler(engine) as sampler, QueueSampler(engine, huey_file) as queue:
        if measured:
            to_last.__enter__()
            to_idle.__enter__()
        with profiling(profiler) if measured else nullcontext():
            go_at = time.time()
            gen.go()
            sends = gen.join(timeout=120)
            done = wait_for(
                lambda: len(watcher.confirmations(references)) >= len(items), args.max_seconds
            )
            all_in_at = time.time()
        if measured:
            to_last.__exit__(None, None, None)
        drained = wait_for(lambda: outbox_left(engine) == 0, 60, interval=0.1)
        if measured:
            to_idle.__exit__(None, None, None)
    watcher.scan()
    arrived = watcher.confirmations(references)
    acked = sum(1 for s in sends if s.status == 200)
    log(
        f"{tag}: {acked}/{len(sends)} webhooks answered 200 in "
        f"{max(s.end for s in sends) - go_at:.1f}s; {len(arrived)} confirmations in the sink "
        f"after {all_in_at - go_at:.1f}s; outbox {'drained' if drained else 'NOT drained'}"
    )
    if not measured:
        if not done:
            raise RuntimeError(f"warm-up: only {len(arrived)} of {len(items)} confirmations")
        return {}
    ack_at = {items[s.index].reference: s.end for s in sends if s.status == 200}
    latencies = [
        (arrived[ref][1] - ack_at[ref]) * 1000
        for ref in references
        if ref in arrived and ref in ack_at
    ]
    last_in = max((w for _, w in arrived.values()), default=all_in_at)
    per_process = to_last.per_process("tos_server")
    assert server.proc is not None
    processes = {
        f"http_worker_{n}": per_process.get(pid, 0.0)
        for n, pid in enumerate(server.worker_pids(), 1)
    }
    processes["serve_process_job_queue"] = per_process.get(server.proc.pid, 0.0)
    db = verify(engine, items, event_ids, arrived, ack_at, watcher, t0)
    cpu_last, cpu_idle = to_last.report(), to_idle.report()
    n = len(items)

    def cpu(report: dict[str, Any]) -> dict[str, Any]:
        g = report["groups"]
        tos_s, pg_s = g["tos_server"]["cpu_s"], g["postgres"]["cpu_s"]
        return {
            "total": round((tos_s + pg_s) * 1000 / n, 2),
            "tos": round(tos_s * 1000 / n, 2),
            "postgres": round(pg_s * 1000 / n, 2),
        }

    wall = cpu_last["wall_s"]
    g = cpu_last["groups"]
    accounted = sum(g[k]["cpu_s"] for k in g) + cpu_last["harness_cpu_s"]
    checks = db.pop("checks")
    checks["every webhook answered 200"] = acked == n
    checks["all confirmations in the sink in time"] = done
    checks["outbox drained (nothing pending)"] = drained
    return {
        "bookings": n,
        "senders": args.senders,
        "latency_ms": percentiles(latencies, (50, 95, 99)),  # webhook 200 -> .eml in the sink
        "all_confirmations_in_sink_s": round(last_in - go_at, 3),
        "confirmations_per_s": round(n / (last_in - go_at), 2),
        "first_confirmation_s": round(
            min((w for _, w in arrived.values()), default=go_at) - go_at, 3
        ),
        "webhooks_answered_s": round(max(s.end for s in sends) - go_at, 3),
        "ack_latency_ms": percentiles([(s.end - s.start) * 1000 for s in sends]),
        "stages_ms": db.pop("stages_ms"),
        "job_queue": {**db.pop("job_queue"), **queue.report(go_at, last_in)},
        "server_cpu_ms_per_booking": cpu(cpu_last),
        "server_cpu_ms_per_booking_until_outbox_drained": cpu(cpu_idle),
        "server_cores_busy": {
            "tos": round(g["tos_server"]["cpu_s"] / wall, 3),
            "postgres": round(g["postgres"]["cpu_s"] / wall, 3),
        },
        "tos_process_cores": {k: round(v / wall, 3) for k, v in processes.items()},
        "postgres_sessions": sampler.report(go_at, last_in),
        "status_counts": dict(Counter(str(s.status) for s in sends)),
        "database": {**db, "checks": checks},
        "machine": {
            **cpu_last["machine"],
            "unaccounted_cores": round(cpu_last["machine"]["busy_cores"] - accounted / wall, 3),
        },
        "cpu": {"until_last_confirmation": cpu_last, "until_outbox_drained": cpu_idle},
    }


def verify(
    engine: Engine,
    items: list[Seeded],
    event_ids: list[str],
    arrived: dict[str, tuple[str, float]],
    ack_at: dict[str, float],
    watcher: MailWatcher,
    t0: datetime,
) -> dict[str, Any]:
    """From SQL and the sink: confirmations, invoices, statuses, jobs; and each booking's path
    through the job queue (webhook processed, documents issued and confirmation queued, sent)."""
    refs = [s.reference for s in items]
    p = {"refs": refs, "evts": event_ids, "t0": t0}
    ours = "SELECT id FROM bookings WHERE reference = ANY(:refs)"
    with engine.connect() as conn:

        def rows(sql: str) -> list[Any]:
            return list(conn.execute(text(sql), p).all())

        statuses = dict(rows(f"SELECT status, count(*) FROM bookings WHERE id IN ({ours}) "
                             "GROUP BY status"))  # fmt: skip
        comms = rows(
            "SELECT c.id, b.reference, c.status FROM communications c JOIN bookings b "
            "ON b.id = c.booking_id WHERE c.kind = 'confirmation' AND c.channel = 'email' "
            f"AND c.booking_id IN ({ours})"
        )
        all_comms = dict(rows(
            "SELECT kind || ':' || channel, count(*) FROM communications "
            f"WHERE booking_id IN ({ours}) GROUP BY 1"
        ))  # fmt: skip
        invoices = rows(
            "SELECT booking_id, number FROM documents WHERE type = 'invoice' "
            f"AND booking_id IN ({ours})"
        )
        docs = dict(rows(f"SELECT type, count(*) FROM documents WHERE booking_id IN ({ours}) "
                         "GROUP BY type"))  # fmt: skip
        org_numbers = [
            int(n.rsplit("-", 1)[1])
            for (n,) in rows(
                "SELECT number FROM documents WHERE type = 'invoice' AND number IS NOT NULL "
                f"AND organization_id = (SELECT organization_id FROM bookings WHERE id IN "
                f"({ours}) LIMIT 1)"
            )
        ]
        jobs = {
            f"{h} {s}": c
            for h, s, c in rows(
                "SELECT handler, status, count(*) FROM outbox WHERE created_at >= :t0 "
                "GROUP BY handler, status ORDER BY handler, status"
            )
        }
        path = rows(
            "SELECT b.reference, extract(epoch FROM w.processed_at), "
            "extract(epoch FROM a.done_at), extract(epoch FROM d.done_at) "
            "FROM bookings b JOIN payments p ON p.booking_id = b.id "
            "JOIN webhook_events w ON w.event_id = ANY(:evts) "
            "AND w.payload->'data'->>'payment_id' = p.id "
            "LEFT JOIN outbox a ON a.handler = 'automations.after_payment_confirmed' "
            "AND a.payload->>'booking_id' = b.id "
            "LEFT JOIN communications c ON c.booking_id = b.id AND c.kind = 'confirmation' "
            "AND c.channel = 'email' "
            "LEFT JOIN outbox d ON d.handler = 'messaging.deliver' "
            "AND d.payload->>'communication_id' = c.id "
            "WHERE b.reference = ANY(:refs)"
        )
    stages: dict[str, list[float]] = {"ack_to_payment_confirmed": [],
                                      "payment_confirmed_to_documents_and_message_queued": [],
                                      "message_queued_to_in_sink": []}  # fmt: skip
    for ref, processed, documented, _sent in path:
        if None in (processed, documented) or ref not in ack_at or ref not in arrived:
            continue
        stages["ack_to_payment_confirmed"].append((float(processed) - ack_at[ref]) * 1000)
        stages["payment_confirmed_to_documents_and_message_queued"].append(
            (float(documented) - float(processed)) * 1000
        )
        stages["message_queued_to_in_sink"].append((arrived[ref][1] - float(documented)) * 1000)
    # The documents jobs (invoice + voucher + itinerary + the message, one transaction each)
    # run one after another (they queue on the invoice number's row): the spacing of their
    # completions is a booking's service time. And the job queue is first in, first out: a
    # confirmation's delivery job queues behind every documents job handed over before it.
    documented_at = sorted(float(d) for _, _, d, _ in path if d is not None)
    spacing = [(b - a) * 1000 for a, b in zip(documented_at, documented_at[1:], strict=False)]
    last_documents = documented_at[-1] if documented_at else 0.0
    queue = {
        "documents_job_spacing_ms": percentiles(spacing, (50, 95, 99)),
        "confirmations_in_sink_before_last_documents_job": sum(
            1 for _, written in arrived.values() if written < last_documents
        ),
    }
    # The confirmation files themselves: each with the invoice, voucher and itinerary.
    attachments: Counter[int] = Counter()
    sink_dir = watcher.directory
    for comm_id, _ in arrived.values():
        msg = email.message_from_bytes((sink_dir / f"{comm_id}.eml").read_bytes())
        attachments[
            sum(1 for part in msg.walk() if part.get_content_type() == "application/pdf")
        ] += 1
    sink_subjects = Counter(
        "confirmation"
        if CONFIRMED.match(subj)
        else "payment_receipt"
        if subj.startswith("Payment received")
        else "other"
        for _, subj in watcher.seen.values()
    )
    n, ref_set = len(items), set(refs)
    confirmation_files = Counter(
        m["ref"]
        for _, subject in watcher.seen.values()
        if (m := CONFIRMED.match(subject)) and m["ref"] in ref_set
    )
    comm_refs = Counter(ref for _, ref, _ in comms)
    numbers = [num for _, num in invoices]
    checks = {
        f"exactly {n} confirmation e-mails in the sink, one per booking": set(confirmation_files)
        == ref_set
        and all(v == 1 for v in confirmation_files.values()),
        "each confirmation e-mail carries 3 PDFs": attachments == Counter({3: n}),
        "one confirmation communication per booking, sent": len(comm_refs) == n
        and all(v == 1 for v in comm_refs.values())
        and all(status == "sent" for _, _, status in comms),
        "sink files are the confirmation communications": {c for c, _ in arrived.values()}
        == {c for c, _, _ in comms},
        f"{n} invoices, one per booking": len(invoices) == n and len({b for b, _ in invoices}) == n,
        "invoice numbers distinct": len(set(numbers)) == len(numbers) == n,
        "organization's invoice numbers gapless from 1": sorted(org_numbers)
        == list(range(1, len(org_numbers) + 1)),
        "every booking documents_generated": statuses == {"documents_generated": n},
        "no outbox row dead": not any(k.endswith(" dead") for k in jobs),
    }
    return {
        "bookings_by_status": statuses,
        "documents_by_type": docs,
        "communications": all_comms,
        "invoice_numbers": f"{min(numbers, default='')}..{max(numbers, default='')}",
        "sink_files_with_warmup": dict(sink_subjects),
        "pdfs_per_confirmation": {str(k): v for k, v in attachments.items()},
        "jobs_since_burst": jobs,
        "stages_ms": {k: percentiles(v, (50, 95, 99)) for k, v in stages.items()},
        "job_queue": queue,
        "checks": checks,
    }


class JobQueueProcess:
    """For PySpy: the process to record is `tos serve` itself, which runs the embedded job
    queue's consumer threads."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def worker_pids(self) -> list[int]:
        assert self.server.proc is not None
        return [self.server.proc.pid]


def measure_confirmations(
    db_url: str,
    engine: Engine,
    seeded: dict[str, list[Seeded]],
    args: Any,
    tmp: Path,
    server_env: dict[str, str],
) -> dict[str, Any]:
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    mail_dir, huey_file = tmp / "mail", tmp / "huey.db"
    env = {
        "TOS_SANDBOX_WEBHOOK_SECRET": secret,
        "TOS_MAIL_DIR": str(mail_dir),
        "TOS_DOCUMENTS_DIR": str(tmp / "server-documents"),
        # The embedded job queue (huey on SQLite, consumed by 2 threads in the serve process),
        # in a file of its own, not the checkout's var/huey.db. An empty TOS_REDIS_URL keeps
        # it embedded even when the shell exports one: `tos serve` runs no consumer for Redis.
        "TOS_HUEY_SQLITE_PATH": str(huey_file),
        "TOS_REDIS_URL": "",
        "TOS_SMTP_HOST": "",  # the file sink, whatever the shell says
        **server_env,
    }
    tag = uuid.uuid4().hex[:6]
    with (
        Server(db_url, workers=args.workers, name=args.name, env=env) as server,
        MailWatcher(mail_dir) as watcher,
    ):
        if seeded.get("W"):
            log(f"confirmations: warm-up burst of {len(seeded['W'])}")
            burst(server, engine, watcher, seeded["W"], secret, args, f"{tag}w",
                  measured=False, huey_file=huey_file)  # fmt: skip
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        busy_before = wait_for_quiet_machine(args.wait_quiet)
        if busy_before > 0.25:
            log(f"warning: {busy_before} cores busy before the burst")
        log(f"confirmations: burst of {len(seeded['M'])} webhooks, {args.senders} senders")
        profiler = None
        if args.profile:
            # The job queue runs in the serve process, not in the HTTP workers.
            profiler = PySpy(JobQueueProcess(server), RESULTS_DIR / f"{args.name}-jobqueue-pyspy")
        result = burst(server, engine, watcher, seeded["M"], secret, args, f"{tag}m",
                       measured=True, huey_file=huey_file, profiler=profiler)  # fmt: skip
        result["profiled"] = bool(profiler)
        result["machine"]["busy_cores_before_load"] = busy_before
        if not all(result["database"]["checks"].values()):
            result["server_log_tail"] = server.log_tail(15)
    return result


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_cleanly_on_signals()
    server_env = dict(item.split("=", 1) for item in args.server_env)
    results: dict[str, Any] = {"benchmark": "documents"}
    with (
        bench_database("documents") as db_url,
        tempfile.TemporaryDirectory(prefix="tos-bench-documents-") as tmp_name,
    ):
        tmp = Path(tmp_name)
        # Part 1 runs in this process: its documents go to the temporary directory too.
        os.environ["TOS_DOCUMENTS_DIR"] = str(tmp / "documents")
        engine = create_engine(db_url, poolclass=NullPool)
        try:
            if "invoices" in args.part_set:
                org = seed_org(db_url)
                phases = {"W": args.warmup_invoices, "M": args.invoices}
                log(f"seeding {sum(phases.values())} paid bookings")
                seeded = seed_bookings(
                    db_url, engine, org, {k: v for k, v in phases.items() if v}, paid=True
                )
                results["invoices_per_s_one_worker"] = measure_invoices(
                    db_url, engine, org, seeded, args
                )
            if "confirmations" in args.part_set:
                org = seed_org(db_url)
                phases = {"W": args.warmup_bookings, "M": args.bookings}
                log(f"seeding {sum(phases.values())} bookings with sandbox payments")
                seeded = seed_bookings(
                    db_url, engine, org, {k: v for k, v in phases.items() if v}, paid=False
                )
                results["webhook_to_confirmation"] = measure_confirmations(
                    db_url, engine, seeded, args, tmp, server_env
                )
        finally:
            engine.dispose()
    inv = results.get("invoices_per_s_one_worker", {})
    conf = results.get("webhook_to_confirmation", {})
    if inv:
        log(
            f"invoices: {inv['invoices_per_s']}/s on one thread, p50 {inv['invoice_ms']['p50']} "
            f"ms, {inv['cpu_ms_per_invoice']} ms CPU each"
        )
    if conf:
        lat = conf["latency_ms"]
        log(
            f"webhook -> confirmation: p50 {lat['p50']} / p99 {lat['p99']} ms, all "
            f"{conf['bookings']} in {conf['all_confirmations_in_sink_s']} s, "
            f"{conf['server_cpu_ms_per_booking']['total']} ms server CPU per booking"
        )
    results["parameters"] = {
        "invoices": args.invoices,
        "warmup_invoices": args.warmup_invoices,
        "other_documents": args.other_documents,
        "bookings": args.bookings,
        "warmup_bookings": args.warmup_bookings,
        "senders": args.senders,
        "server_workers": args.workers,
        "server_env": server_env,
        "booking": "2 adults + 1 child, early-bird discount, VAT 22 % + city tax 1 %, "
        f"EUR {TOTAL / 100:.2f}; departures {DAYS_AHEAD} days out",
        "job_queue": "embedded: huey on SQLite, 2 threads in the `tos serve` process",
        "mail": "file sink (TOS_MAIL_DIR), one .eml per message",
        "database": "postgresql",
    }
    results["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["git"] = git_revision()
    emit(args.name, results)
    checks = {
        **inv.get("database", {}).get("checks", {}),
        **conf.get("database", {}).get("checks", {}),
    }
    if not checks or not all(checks.values()):
        log(f"FAILED: {[k for k, v in checks.items() if not v]}")
        return 1
    return 0


if __name__ == "__main__":
    run(main)
