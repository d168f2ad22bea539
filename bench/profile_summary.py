"""Summarise py-spy raw profiles (collapsed stacks: "frame;frame;...;leaf count" per line,
frames as "function (path:line)"), e.g. those `--profile` writes to bench/results/.

    .venv/bin/python bench/profile_summary.py bench/results/booking_rush-c16-pyspy-*.txt \\
        [--top 10] [--drill create_booking] [--drill service.create_booking] [--json]

Several files are added up (one per worker). py-spy records only threads that are running,
not waiting on a socket or a lock, so a sample is roughly CPU time. Prints:
- the top functions by own time (the leaf frame: where the CPU actually is);
- the split between the event loop thread and the worker threads;
- own time by layer (the leaf frame's package: TOS, SQLAlchemy ORM / core, psycopg,
  pydantic, FastAPI/Starlette, uvicorn/asyncio/anyio, json, other stdlib);
- the request by phase: each sample is put in the first phase whose pattern is on its stack,
  checked in order (auth, idempotency, response, ORM flush, commit, ORM queries, ...), so a
  flush inside the audit call counts as "ORM flush" and a query of the idempotency claim as
  "idempotency";
- the top TOS functions by inclusive time (on the stack at all);
- for each --drill FUNC: the functions it calls directly, by inclusive time (FUNC is a
  function name as py-spy writes it, `Session.flush`, optionally prefixed by the end of its
  module path: `api.create_booking`, `orm.session.Session.flush`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")

# Own time by the leaf frame's module path (py-spy writes it relative to sys.path; first match).
LAYERS: list[tuple[str, str]] = [
    ("tos", r"\(tos/"),
    ("sqlalchemy orm", r"\(sqlalchemy/orm/"),
    ("sqlalchemy core/engine", r"\(sqlalchemy/"),
    ("psycopg (driver)", r"\(psycopg"),
    ("pydantic", r"\(pydantic"),
    ("fastapi/starlette", r"\((fastapi|starlette)/"),
    (
        "uvicorn/asyncio/anyio/threads",
        r"\((uvicorn|asyncio|anyio|httptools|h11|concurrent)/|\((threading|selectors|socket)\.py",
    ),
    ("json", r"\(json/"),
    ("email/idna validation", r"\((email_validator|idna)/"),
]

THREADS = {
    False: "main thread: the event loop (uvicorn, middleware, routing, async parts)",
    True: "worker threads (sync endpoints and dependencies, run by anyio)",
}

# Phases of a request: (name, pattern on "function (module path)", where), checked in this
# order; `where` is "stack" (any frame) or "leaf" (the running function only).
PHASES: list[tuple[str, str, str]] = [
    ("auth (API key -> user, org)", r"\(tos/identity/(auth|tokens)\.", "stack"),
    ("idempotency claim/complete", r"\(tos/idempotency/", "stack"),
    (
        "response: re-read + serialization",
        r"^_detail \(tos/|^serialize_response \(fastapi/|\.render \(starlette/responses",
        "stack",
    ),
    ("ORM flush (INSERT/UPDATE)", r"^Session\._?flush \(sqlalchemy/orm/session", "stack"),
    ("commit", r"^Session\.commit \(sqlalchemy/orm/session", "stack"),
    (
        "ORM queries (SELECT, guarded UPDATE)",
        r"^Session\.(scalar|scalars|execute|get) \(sqlalchemy/orm/session",
        "stack",
    ),
    (
        "request parsing + validation",
        r"^(request_body_to_args|solve_dependencies) \(fastapi/",
        "stack",
    ),
    ("building SQL statements (sqlalchemy.sql)", r"\(sqlalchemy/sql/", "leaf"),
    ("other TOS code", r"\(tos/(?!core/http)", "stack"),
    ("framework (fastapi/starlette/uvicorn/anyio)", r".", "stack"),
]


def parse(paths: list[Path]) -> list[tuple[list[str], int]]:
    stacks: list[tuple[list[str], int]] = []
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks.append((stack.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    """ "function (module/path.py)" without the line number and the site-packages prefix."""
    match = FRAME.match(frame)
    if not match:
        return frame
    path = re.sub(r"^.*?(site-packages|lib/python3\.\d+|src)/", "", match["path"])
    return f"{match['func']} ({path})"


def _matches(pattern: str, frame: str) -> bool:
    match = FRAME.match(frame)
    if not match:
        return False
    func, path = match["func"], match["path"].removesuffix(".py").replace("/", ".")
    return func == pattern or f"{path}.{func}".endswith(f".{pattern}")


def summarize(stacks: list[tuple[list[str], int]], top: int, drills: list[str]) -> dict[str, Any]:
    total = sum(n for _, n in stacks) or 1
    own: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    children: dict[str, Counter[str]] = {d: Counter() for d in drills}
    for frames, n in stacks:
        leaf = frames[-1]
        own[short(leaf)] += n
        worker_thread = frames[0].startswith("Thread._bootstrap")
        threads[THREADS[worker_thread]] += n
        layer = next((name for name, rx in LAYERS if re.search(rx, short(leaf))), "other")
        layers[layer] += n
        names = [short(f) for f in frames]
        phase = next(
            name
            for name, rx, where in PHASES
            if any(re.search(rx, f) for f in (names if where == "stack" else names[-1:]))
        )
        phases[phase] += n
        for name in set(names):
            if "(tos/" in name:
                inclusive[name] += n
        for drill in drills:
            for i, frame in enumerate(frames[:-1]):
                if _matches(drill, frame):
                    children[drill][short(frames[i + 1])] += n
                    break
            else:
                if frames and _matches(drill, frames[-1]):
                    children[drill]["(own time)"] += n

    def table(counter: Counter[str], limit: int | None = None) -> list[dict[str, Any]]:
        return [
            {"pct": round(100 * n / total, 1), "samples": n, "name": name}
            for name, n in counter.most_common(limit)
        ]

    return {
        "samples": total,
        "top_own": table(own, top),
        "threads": table(threads),
        "layers_own": table(layers),
        "phases": table(phases),
        "top_tos_inclusive": table(inclusive, top),
        "drill": {d: table(c, top) for d, c in children.items()},
    }


def print_text(summary: dict[str, Any]) -> None:
    def section(title: str, rows: list[dict[str, Any]]) -> None:
        print(f"\n{title}")
        for row in rows:
            print(f"  {row['pct']:5.1f}%  {row['name']}")

    print(f"{summary['samples']} samples (running threads only)")
    section("Top functions by own time", summary["top_own"])
    section("By thread", summary["threads"])
    section("Own time by layer", summary["layers_own"])
    section("Request phases (first matching phase on the stack)", summary["phases"])
    section("TOS functions by inclusive time", summary["top_tos_inclusive"])
    for drill, rows in summary["drill"].items():
        section(f"Called directly by {drill} (inclusive)", rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", type=Path, help="py-spy --format raw outputs")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--drill", action="append", default=[], metavar="FUNC")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = p.parse_args(argv)
    summary = summarize(parse(args.files), args.top, args.drill)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_text(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
