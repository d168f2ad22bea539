"""Locust user for read benchmarks: GET the paths in $BENCH_PATHS_FILE (one per line) in random
order with `Authorization: Bearer $BENCH_TOKEN`, back to back (no think time).

Each locust process records every request as [end time, latency ms, ok] and writes them to
$BENCH_OUT_DIR/<pid>.json when it quits (locust's own histogram rounds latencies and cannot be
cut to a time window); it touches $BENCH_OUT_DIR/started-<pid> at its first request.
bench/common.py (class Locust) merges the files. Run it through a benchmark script, which
seeds the data and starts the server.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, events, task

PATHS = Path(os.environ["BENCH_PATHS_FILE"]).read_text().split()
HEADERS = {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}"}
OUT_DIR = Path(os.environ["BENCH_OUT_DIR"])

_requests: list[tuple[float, float, bool]] = []
_error_samples: set[str] = set()


@events.request.add_listener
def _record(response_time: float, exception: BaseException | None, **_: Any) -> None:
    if not _requests:
        (OUT_DIR / f"started-{os.getpid()}").touch()
    _requests.append((time.time(), response_time, exception is None))
    if exception is not None and len(_error_samples) < 5:
        _error_samples.add(repr(exception)[:300])


@events.quitting.add_listener
def _dump(**_: Any) -> None:
    document = {"requests": _requests, "error_samples": sorted(_error_samples)}
    (OUT_DIR / f"{os.getpid()}.json").write_text(json.dumps(document))


class Reader(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get(random.choice(PATHS), headers=HEADERS, name="GET")
