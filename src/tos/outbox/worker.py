"""Delivery of outbox rows through huey.

After commit, rows are handed to huey (`deliver`, scheduled at their due time). huey runs them
in worker threads; a periodic sweeper hands over any row still owed. Exactly one process runs
the sweeper: `tos serve` in-process on the embedded default, or the `tos worker` started with
periodic jobs enabled in production.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from functools import lru_cache

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from tos.config import get_settings
from tos.core.clock import utcnow
from tos.db.session import get_session_factory
from tos.outbox import service

log = logging.getLogger("tos.worker")


@lru_cache
def get_huey() -> Huey:
    s = get_settings()
    if s.redis_url:
        return RedisHuey("tos", url=s.redis_url)
    from pathlib import Path

    Path(s.huey_sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("tos", filename=s.huey_sqlite_path)


def _deliver(message_id: str) -> None:
    service.run_message(get_session_factory(), message_id)


_deliver_task = None


def deliver_task():
    global _deliver_task
    if _deliver_task is None:
        _deliver_task = get_huey().task(name="tos.deliver")(_deliver)
    return _deliver_task


def hand_over(items: list[tuple[str, dt.datetime]]) -> None:
    task = deliver_task()
    now = utcnow()
    for message_id, due_at in items:
        if due_at > now + dt.timedelta(seconds=1):
            task.schedule((message_id,), eta=due_at.astimezone(dt.UTC).replace(tzinfo=None))
        else:
            task(message_id)


def install() -> None:
    """Hand committed outbox rows to the job queue from this process."""
    if get_settings().job_queue != "off":
        deliver_task()
        service.dispatcher = hand_over


# Rows the sweeper handed over, and when: a row still pending because the queue is busy is not
# handed over again for a while, or a backlog would fill the queue with copies of itself.
_handed: dict[str, float] = {}
REHAND_AFTER_S = 60.0


def sweep_once() -> int:
    """Hand over every due row still pending (not handed over by this sweeper within the last
    minute); returns how many."""
    with get_session_factory()(write=False) as session:
        rows = service.owed(session, grace=dt.timedelta(seconds=2))
    now = time.monotonic()
    for message_id, at in list(_handed.items()):
        if now - at > REHAND_AFTER_S:
            del _handed[message_id]
    fresh = [row for row in rows if row[0] not in _handed]
    if fresh:
        hand_over(fresh)
        _handed.update((row[0], now) for row in fresh)
    return len(fresh)


class Sweeper(threading.Thread):
    def __init__(self, interval: float):
        super().__init__(name="tos-outbox-sweeper", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        from tos import wiring

        last: dict[str, float] = {}
        while not self.stopped.wait(self.interval):
            try:
                count = sweep_once()
                if count:
                    log.info("outbox sweeper handed over %d owed messages", count)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("outbox sweep failed")
            # The periodic jobs (payment reconciliation, …) ride on the one sweeper thread, so
            # they run on exactly one worker.
            now = time.monotonic()
            for name, (every, job) in wiring.periodic_jobs().items():
                if now - last.get(name, 0.0) >= every:
                    last[name] = now
                    try:
                        job()
                    except Exception:  # noqa: BLE001 - the next round tries again
                        log.exception("periodic job %s failed", name)

    def stop(self) -> None:
        self.stopped.set()


def make_consumer(*, workers: int = 2, periodic: bool = True) -> tuple[Consumer, Sweeper | None]:
    install()
    # huey's SQLite storage polls; keep the idle poll short so work starts promptly.
    consumer = get_huey().create_consumer(
        workers=workers,
        worker_type="thread",
        periodic=periodic,
        max_delay=0.5,
        initial_delay=0.05,
        backoff=1.2,
    )
    sweeper = Sweeper(get_settings().outbox_sweep_seconds) if periodic else None
    return consumer, sweeper
