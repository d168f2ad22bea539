"""OCTO benchmark: a reseller's availability reads and reserve+confirm throughput.

The real server (`tos serve --workers 2`) on a fresh PostgreSQL database with the tour of
bench/availability.py (~1,000 departures) and a reseller with a key; 16 closed-loop locust
clients. `--mode availability` (default): POST /octo/availability for a random 30-day window
(with `Octo-Capabilities` unset: Core). `--mode reserve`: POST /octo/bookings (2 adults on a
random departure) then its /confirm, one pair counted as one request. Prints one JSON document
(also bench/results/octo-<mode>.json): req/s, latency percentiles, errors, server CPU.

    .venv/bin/python bench/octo.py [--mode availability|reserve] [--clients 16] [--duration 20]
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import timedelta

import common
from common import (
    BENCH_DIR,
    CpuMeter,
    Locust,
    Server,
    bench_database,
    emit,
    exit_cleanly_on_signals,
    log,
    run,
    seed_organization,
    seed_tour,
    standard_groups,
    summarize,
    write_paths,
)

TARGET_AVAILABILITY_RPS = 300


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("availability", "reserve"), default="availability")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--window-days", type=int, default=30)
    p.add_argument("--days", type=int, default=334)
    p.add_argument("--capacity", type=int, default=20)
    return p.parse_args(argv)


def seed_reseller(db_url: str, org_id: str) -> str:
    from tos.db.session import use_database
    from tos.identity.actors import Actor
    from tos.octo import resellers

    actor = Actor.system(org_id)
    with use_database(db_url)(write=True, organization_id=org_id) as session:
        reseller = resellers.create_reseller(session, actor, {"name": "Bench OTA",
                                                              "commission_bps": 2000})  # fmt: skip
        _, _, token = resellers.add_user_with_key(session, actor, reseller.id, name="bench")
        session.commit()
        return token


def schedule_ids(db_url: str, org_id: str, tour_id: str) -> list[str]:
    from sqlalchemy import select

    from tos.db.session import use_database
    from tos.inventory.models import Schedule

    with use_database(db_url)(write=False, organization_id=org_id) as session:
        return list(session.scalars(select(Schedule.id).where(
            Schedule.tour_id == tour_id, Schedule.status == "open")))  # fmt: skip


def bodies(args: argparse.Namespace, db_url: str, org_id: str, tour) -> list[dict]:
    base = {"productId": tour.id, "optionId": tour.variant_id}
    if args.mode == "reserve":
        adult = tour.tier_ids[0]
        return [base | {"availabilityId": sid, "unitItems": [{"unitId": adult}] * 2}
                for sid in schedule_ids(db_url, org_id, tour.id)]  # fmt: skip
    out, start = [], tour.first_date
    while start + timedelta(days=args.window_days - 1) <= tour.last_date:
        end = start + timedelta(days=args.window_days - 1)
        out.append(base | {"localDateStart": start.isoformat(), "localDateEnd": end.isoformat()})
        start += timedelta(days=1)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_cleanly_on_signals()
    name = f"octo-{args.mode}"
    # The shared Locust runner, with this benchmark's locustfile (it POSTs).
    common.LOCUST_GET = BENCH_DIR / "locustfile_octo.py"
    with bench_database(name) as db_url:
        org = seed_organization(db_url, timezone="Europe/Rome")
        tour = seed_tour(db_url, org, days=args.days, capacity=args.capacity)
        token = seed_reseller(db_url, org.id)
        docs = bodies(args, db_url, org.id, tour)
        paths_file = write_paths([json.dumps(d) for d in docs])
        try:
            env = {"BENCH_OCTO_MODE": args.mode}
            os.environ.update(env)  # read by the locustfile, which inherits this environment
            with Server(db_url, workers=args.workers, name=name, env={}) as server:
                gen = Locust(server.url, users=args.clients, paths_file=paths_file, token=token)
                log(f"{args.clients} clients, {args.mode}, warm-up {args.warmup:g}s, "
                    f"measured {args.duration:g}s")  # fmt: skip
                meter = CpuMeter(standard_groups(server, db_url, gen))
                load = gen.measure(args.warmup, args.duration, meter)
                server_log = server.log_tail(10)
        finally:
            paths_file.unlink(missing_ok=True)
    params = {
        "endpoint": "/octo/availability" if args.mode == "availability"
        else "/octo/bookings + /confirm",
        "mode": args.mode, "clients": args.clients, "duration_s": args.duration,
        "warmup_s": args.warmup, "server_workers": args.workers,
        "window_days": args.window_days, "seeded_schedules": tour.schedules,
        "distinct_bodies": len(docs), "database": "postgresql", "env": env,
    }  # fmt: skip
    results = summarize(params, load, meter.report())
    if args.mode == "availability":
        rps = results["req_per_s"]
        results["target"] = {"rps": TARGET_AVAILABILITY_RPS,
                             "met": rps is not None and rps >= TARGET_AVAILABILITY_RPS}  # fmt: skip
    if load.errors:
        results["server_log_tail"] = server_log
    emit(name, results)
    return 0


if __name__ == "__main__":
    run(main)
