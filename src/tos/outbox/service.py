"""Effects after commit go through the outbox only.

`emit` writes one row per handler that wiring.py lists for the event, and `enqueue` one row for
one named job, both in the caller's transaction. After that transaction commits the rows are
handed to the job queue (huey); a periodic sweeper hands over any row still owed, e.g. after a
crash between commit and hand-over. Each row runs in its own transaction; a failure backs off
exponentially and after MAX_ATTEMPTS the row is parked as dead, where staff can replay it;
handlers with their own RETRY_SCHEDULES entry retry on that schedule instead. A handler that must
leave a trace of a failed attempt (the attempt's own transaction is rolled back) raises
HandlerFailed with a `record` callback, run in the transaction that counts the failure.
Handlers are idempotent: a row may run more than once, always with the same id.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.core.clock import utcnow
from tos.core.errors import Conflict, NotFound
from tos.db import tenancy
from tos.identity.actors import Actor
from tos.outbox.models import OutboxMessage

log = logging.getLogger("tos.outbox")

MAX_ATTEMPTS = 8
# handler -> delays in seconds before the 2nd, 3rd, … attempt; the attempt after the last delay
# is the last one. Seed 002 §Error Handling: webhooks back to source websites retry after
# 1 s, 5 s, 30 s and 5 min, then go to the failed-sync queue (dead rows).
RETRY_SCHEDULES: dict[str, tuple[int, ...]] = {
    "channels.deliver_webhook": (1, 5, 30, 300),
}
_NEW = "tos_outbox_new"
Handler = Callable[[Session, OutboxMessage], None]
# Set by the worker module: hands committed message ids to the job queue.
dispatcher: Callable[[list[tuple[str, dt.datetime]]], None] | None = None


class HandlerFailed(Exception):
    """A failed attempt whose trace must survive the rollback of the attempt's transaction:
    `record(session)` runs in the transaction that counts the failure (unscoped, so rows it
    adds must carry their organization_id)."""

    def __init__(self, message: str, record: Callable[[Session], None]):
        super().__init__(message)
        self.record = record


def backoff(attempts: int) -> dt.timedelta:
    """2 s, 4 s, 8 s … capped at 10 minutes."""
    return dt.timedelta(seconds=min(2**attempts, 600))


def next_delay(handler: str, attempts: int) -> dt.timedelta | None:
    """The wait before the next attempt after `attempts` failed ones; None = give up (dead)."""
    schedule = RETRY_SCHEDULES.get(handler)
    if schedule is None:
        return None if attempts >= MAX_ATTEMPTS else backoff(attempts)
    return dt.timedelta(seconds=schedule[attempts - 1]) if attempts <= len(schedule) else None


def emit(session: Session, event_name: str, payload: dict[str, Any]) -> list[OutboxMessage]:
    from tos import wiring

    rows = [
        OutboxMessage(event=event_name, handler=name, payload=payload)
        for name in wiring.handlers_for(event_name)
    ]
    _add(session, rows)
    return rows


def enqueue(
    session: Session, handler: str, payload: dict[str, Any], *, due_at: dt.datetime | None = None
) -> OutboxMessage:
    row = OutboxMessage(event=handler, handler=handler, payload=payload, due_at=due_at or utcnow())
    _add(session, [row])
    return row


def _add(session: Session, rows: list[OutboxMessage]) -> None:
    if rows:
        session.add_all(rows)
        session.info.setdefault(_NEW, []).extend(rows)


@event.listens_for(Session, "after_commit")
def _hand_over(session: Session) -> None:
    rows: list[OutboxMessage] = session.info.pop(_NEW, [])
    if rows and dispatcher is not None:
        try:
            dispatcher([(r.id, r.due_at) for r in rows])
        except Exception:  # noqa: BLE001 - the sweeper delivers whatever is not handed over
            log.warning("outbox hand-over failed; the sweeper will deliver", exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_NEW, None)


def run_message(session_factory: Callable[..., Session], message_id: str) -> str:
    """Run one message's handler in its own transaction. Returns the message's new status.
    A message already done, dead, not yet due, or being run by another worker is left alone."""
    from tos import wiring

    session = session_factory(write=True)
    try:
        with tenancy.unscoped(session):
            msg = session.scalar(_lock(session, message_id))
        if msg is None or msg.status != "pending" or msg.due_at > utcnow():
            session.rollback()
            return msg.status if msg else "missing"
        tenancy.set_scope(session, msg.organization_id)
        wiring.handler(msg.handler)(session, msg)
        msg.status, msg.done_at, msg.attempts = "done", utcnow(), msg.attempts + 1
        session.commit()
        return "done"
    except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then parked
        session.rollback()
        log.warning("outbox %s failed: %s", message_id, exc, exc_info=True)
        hook = exc.record if isinstance(exc, HandlerFailed) else None
        return _record_failure(
            session_factory, message_id, f"{type(exc).__name__}: {exc}", record=hook
        )
    finally:
        session.close()


def _lock(session: Session, message_id: str):
    stmt = select(OutboxMessage).where(OutboxMessage.id == message_id)
    if session.get_bind().dialect.name == "postgresql":
        # Another worker running the same row skips it instead of running it twice at once.
        stmt = stmt.with_for_update(skip_locked=True)
    return stmt


def _record_failure(
    session_factory: Callable[..., Session],
    message_id: str,
    error: str,
    *,
    record: Callable[[Session], None] | None = None,
) -> str:
    with session_factory(write=True) as session, tenancy.unscoped(session):
        msg = session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
        if msg is None or msg.status != "pending":
            return msg.status if msg else "missing"
        msg.attempts += 1
        msg.last_error = error[:2000]
        delay = next_delay(msg.handler, msg.attempts)
        if delay is None:
            msg.status = "dead"
        else:
            msg.due_at = utcnow() + delay
        if record is not None:
            try:
                # A savepoint: a trace that cannot be written must not lose the count.
                with session.begin_nested():
                    record(session)
            except Exception:  # noqa: BLE001
                log.exception("outbox %s: recording the failed attempt failed", message_id)
        status = msg.status
        session.commit()
        return status


def owed(
    session: Session, *, limit: int = 500, grace: dt.timedelta | None = None
) -> list[tuple[str, dt.datetime]]:
    """Pending messages that are due (older than `grace`, so fresh ones keep their hand-over)."""
    cutoff = utcnow() - (grace or dt.timedelta(0))
    with tenancy.unscoped(session):
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.due_at)
            .where(OutboxMessage.status == "pending", OutboxMessage.due_at <= cutoff)
            .order_by(OutboxMessage.due_at)
            .limit(limit)
        ).all()
    return [(r[0], r[1]) for r in rows]


def replay(session: Session, actor: Actor, message_id: str) -> OutboxMessage:
    """Staff put a dead message back in line, with the same id (receivers de-duplicate by it).
    Tenant-scoped: another organization's message is not found."""
    msg = session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
    if msg is None:
        raise NotFound("outbox message", message_id)
    if msg.status != "dead":
        raise Conflict("only dead messages can be replayed", details={"status": msg.status})
    before = snapshot(msg)
    msg.status, msg.attempts, msg.due_at, msg.last_error = "pending", 0, utcnow(), None
    record(session, actor, "outbox.replayed", msg, before=before)
    session.info.setdefault(_NEW, []).append(msg)
    return msg
