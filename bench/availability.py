"""Read benchmark: GET /api/v1/availability for a 30-day window on a tour with ~1,000 schedules.

The real server (`tos serve --workers 2`) on a fresh PostgreSQL database, 16 closed-loop
clients from an external load generator (locust FastHttpUser by default, or wrk), a warm-up,
then a measured run. Prints one JSON document (also written to bench/results/<name>.json):
req/s, latency percentiles, errors, and server CPU per request (TOS processes + PostgreSQL).

    .venv/bin/python bench/availability.py [--clients 16] [--duration 20] [--workers 2] ...

See bench/README.md for how to read the figures.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import timedelta
from urllib.parse import quote

from common import (
    RESULTS_DIR,
    ROOT,
    CpuMeter,
    Locust,
    PySpy,
    Server,
    Wrk,
    bench_database,
    emit,
    exit_cleanly_on_signals,
    http_get,
    log,
    run,
    seed_organization,
    seed_tour,
    standard_groups,
    summarize,
    wait_for_quiet_machine,
    write_paths,
)

DEFAULT_PATH = "/api/v1/availability?tour_id={tour_id}&date_from={date_from}&date_to={date_to}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--clients", type=int, default=16, help="concurrent closed-loop clients")
    p.add_argument("--duration", type=float, default=20, help="measured seconds")
    p.add_argument("--warmup", type=float, default=5, help="warm-up seconds (not measured)")
    p.add_argument("--workers", type=int, default=2, help="tos serve --workers")
    p.add_argument("--window-days", type=int, default=30, help="days per request (inclusive)")
    p.add_argument("--days", type=int, default=334, help="days of seeded departures")
    p.add_argument("--departures", default="09:00,13:00,17:00", help="start times per day")
    p.add_argument("--capacity", type=int, default=20)
    p.add_argument("--generator", choices=("locust", "wrk"), default="locust")
    p.add_argument("--generator-processes", type=int, default=1,
                   help="locust processes (>1: master + N workers) or wrk threads")  # fmt: skip
    p.add_argument("--path", default=DEFAULT_PATH,
                   help="request path template with {tour_id}, {date_from}, {date_to}; "
                        "e.g. /api/v1/staff to try the harness on another endpoint")  # fmt: skip
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the server, e.g. TOS_DB_POOL_SIZE=20")  # fmt: skip
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="wait up to this long for other work on the machine to stop")  # fmt: skip
    p.add_argument("--profile", action="store_true",
                   help="py-spy record the workers during the measured window (the figures "
                        "are then perturbed); raw stacks go to bench/results/")  # fmt: skip
    p.add_argument("--name", default=None, help="results name (default: from the options)")
    args = p.parse_args(argv)
    if any("=" not in item for item in args.server_env):
        p.error("--server-env takes KEY=VALUE")
    if not 1 <= args.window_days <= args.days:
        p.error("--window-days must be between 1 and --days")
    if args.duration <= 0 or args.duration > 600 or args.warmup < 0 or args.warmup > 120:
        p.error("--duration must be in (0, 600] and --warmup in [0, 120]")
    return args


def results_name(args: argparse.Namespace) -> str:
    if args.name:
        return args.name
    name = "availability"
    if args.path != DEFAULT_PATH:
        name += "-" + re.sub(r"[^a-z0-9]+", "-", args.path.split("?")[0].lower()).strip("-")
    if args.generator != "locust":
        name += f"-{args.generator}"
    return name


def request_paths(args: argparse.Namespace, tour_id: str, first_date, last_date) -> list[str]:
    """One path per possible window start, so requests spread over the whole season."""
    paths = []
    start = first_date
    while start + timedelta(days=args.window_days - 1) <= last_date:
        end = start + timedelta(days=args.window_days - 1)
        paths.append(args.path.format(tour_id=quote(tour_id), date_from=start, date_to=end))
        start += timedelta(days=1)
    return sorted(set(paths))


def check_response(url: str, headers: dict[str, str], is_availability: bool) -> dict[str, object]:
    """One request before the load: the benchmark must measure real answers, not 404s."""
    status, body = http_get(url, headers)
    if status != 200:
        hint = " (does the endpoint exist yet? try --path /api/v1/staff)" if status == 404 else ""
        raise SystemExit(f"GET {url} answered {status}{hint}: {body[:500]!r}")
    sample: dict[str, object] = {"status": status, "bytes": len(body)}
    if is_availability:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("schedules"), list):
            raise SystemExit(f"unexpected availability answer: {body[:500]!r}")
        sample["schedules"] = len(data["schedules"])
        if not data["schedules"]:
            raise SystemExit(f"the availability window is empty: {url}")
    return sample


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_cleanly_on_signals()
    name = results_name(args)
    departures = [t.strip() for t in args.departures.split(",") if t.strip()]
    with bench_database("availability") as db_url:
        org = seed_organization(db_url, timezone="Europe/Rome")
        tour = seed_tour(db_url, org, days=args.days, start_times=departures,
                         capacity=args.capacity)  # fmt: skip
        log(f"seeded tour {tour.id}: {tour.schedules} schedules "
            f"{tour.first_date}..{tour.last_date}")  # fmt: skip
        paths = request_paths(args, tour.id, tour.first_date, tour.last_date)
        paths_file = write_paths(paths)
        try:
            server_env = dict(item.split("=", 1) for item in args.server_env)
            with Server(db_url, workers=args.workers, name=name, env=server_env) as server:
                sample = check_response(server.url + paths[len(paths) // 2], org.headers,
                                        args.path == DEFAULT_PATH)  # fmt: skip
                log(f"sample answer: {sample}")
                busy_before = wait_for_quiet_machine(args.wait_quiet)
                if busy_before > 0.25:
                    log(f"warning: {busy_before} cores busy before the load started; "
                        "other work on this machine will make the figures noisy")  # fmt: skip
                gen_class = Locust if args.generator == "locust" else Wrk
                options = {"processes" if gen_class is Locust else "threads":
                           args.generator_processes}  # fmt: skip
                gen = gen_class(server.url, users=args.clients, paths_file=paths_file,
                                token=org.token, **options)  # fmt: skip
                log(f"{args.clients} clients, warm-up {args.warmup:g}s, "
                    f"measured {args.duration:g}s ({gen.name})")  # fmt: skip
                meter = CpuMeter(standard_groups(server, db_url, gen))
                profiler = PySpy(server, RESULTS_DIR / f"{name}-pyspy") if args.profile else None
                load = gen.measure(args.warmup, args.duration, meter, profiler)
                server_log = server.log_tail(10)
        finally:
            paths_file.unlink(missing_ok=True)
    params = {
        "endpoint": args.path.split("?")[0],
        "clients": args.clients,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "server_workers": args.workers,
        "server_env": server_env,
        "window_days": args.window_days,
        "seeded_schedules": tour.schedules,
        "distinct_paths": len(paths),
        "generator": args.generator,
        "generator_processes": args.generator_processes,
        "database": "postgresql",
        "sample_response": sample,
    }
    results = summarize(params, load, meter.report(), busy_before=busy_before)
    if args.profile:
        results["profiled"] = "py-spy was sampling the workers: figures perturbed"
        results["profiles"] = [str(path.relative_to(ROOT)) for path in profiler.outputs]
    if load.errors:
        results["server_log_tail"] = server_log
    emit(name, results)
    return 0


if __name__ == "__main__":
    run(main)
