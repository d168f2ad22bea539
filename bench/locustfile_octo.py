"""Locust user for the OCTO benchmark (bench/octo.py), recording like locustfile_get.py.

$BENCH_OCTO_MODE=availability: POST /octo/availability with a random body from
$BENCH_PATHS_FILE (one JSON document a line). reserve: POST /octo/bookings with a random body,
then POST /octo/bookings/{uuid}/confirm; the pair is recorded as one request (one booking), and
a refused reservation (sold out) as a success without a confirmation, since refusing is right.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, events, task

BODIES = [json.loads(line) for line in Path(os.environ["BENCH_PATHS_FILE"]).read_text().split("\n")
          if line.strip()]  # fmt: skip
HEADERS = {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}",
           "Content-Type": "application/json"}  # fmt: skip
OUT_DIR = Path(os.environ["BENCH_OUT_DIR"])
MODE = os.environ.get("BENCH_OCTO_MODE", "availability")

_requests: list[tuple[float, float, bool]] = []
_error_samples: set[str] = set()


def _note(started: float, ok: bool, error: str = "") -> None:
    if not _requests:
        (OUT_DIR / f"started-{os.getpid()}").touch()
    _requests.append((time.time(), (time.perf_counter() - started) * 1000, ok))
    if not ok and len(_error_samples) < 5:
        _error_samples.add(error[:300])


@events.quitting.add_listener
def _dump(**_: Any) -> None:
    document = {"requests": _requests, "error_samples": sorted(_error_samples)}
    (OUT_DIR / f"{os.getpid()}.json").write_text(json.dumps(document))


class Reseller(FastHttpUser):
    wait_time = constant(0)

    @task
    def book_or_read(self) -> None:
        started = time.perf_counter()
        body = json.dumps(random.choice(BODIES))
        if MODE == "availability":
            with self.client.post("/octo/availability", data=body, headers=HEADERS,
                                  catch_response=True) as r:  # fmt: skip
                ok = r.status_code == 200
                r.success()
                _note(started, ok, f"{r.status_code} {r.text}")
            return
        with self.client.post("/octo/bookings", data=body, headers=HEADERS,
                              catch_response=True) as r:  # fmt: skip
            r.success()
            if r.status_code != 200:
                ok = r.status_code == 400 and "UNPROCESSABLE_ENTITY" in r.text
                _note(started, ok, f"reserve {r.status_code} {r.text}")
                return
            uuid = r.json()["uuid"]
        confirm = json.dumps({"contact": {"fullName": "Bench Guest"}})
        with self.client.post(f"/octo/bookings/{uuid}/confirm", data=confirm, headers=HEADERS,
                              catch_response=True) as r:  # fmt: skip
            r.success()
            _note(started, r.status_code == 200, f"confirm {r.status_code} {r.text}")
