"""A durable queue of failed syncs (seed 002 §Failed Sync Queue), in one SQLite file.

One row per payload that could not be delivered: `pending` rows are retried by
`OneBookingClient.retry_queued()` oldest first; a row the hub refused for good (a 4xx such as
INVALID_PAYLOAD) becomes `failed` and waits for someone to look at it (`requeue()` after the
fix, or `remove()`). Nothing is ever dropped silently.

The file is in WAL mode and every operation opens its own short connection, so one queue may be
shared by several threads and survives process restarts; several processes may use the same
file (SQLite serialises the writers; `timeout` is how long one waits for another).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PENDING = "pending"
FAILED = "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS failed_syncs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payload TEXT NOT NULL,
    event TEXT,
    source_booking_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'failed')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_failed_syncs_status_id ON failed_syncs (status, id);
CREATE INDEX IF NOT EXISTS ix_failed_syncs_booking ON failed_syncs (source_booking_id, status);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class QueuedSync:
    """One row of the queue."""

    id: int
    payload: dict[str, Any]
    event: str | None
    source_booking_id: str | None
    attempts: int
    last_error: str | None
    status: str  # "pending" | "failed"
    created_at: str
    updated_at: str


class FailedSyncQueue:
    """`FailedSyncQueue("var/onebooking-queue.sqlite3")`: the file and its table are created
    if missing. Safe for several threads and across restarts."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._init_lock = threading.Lock()
        with self._init_lock, closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    # -- plumbing -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=FULL")  # a queued payload survives a power cut
        conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so writers queue up instead of
        failing half-way."""
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with closing(self._connect()) as conn:
            return list(conn.execute(sql, params))

    @staticmethod
    def _row(row: sqlite3.Row) -> QueuedSync:
        return QueuedSync(
            id=row["id"],
            payload=json.loads(row["payload"]),
            event=row["event"],
            source_booking_id=row["source_booking_id"],
            attempts=row["attempts"],
            last_error=row["last_error"],
            status=row["status"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    # -- the queue ------------------------------------------------------------------------

    def put(self, payload: dict[str, Any], *, error: str | None = None, attempts: int = 0) -> int:
        """Queue `payload` (pending) behind everything already queued; its row id."""
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        now = _now()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO failed_syncs (payload, event, source_booking_id, attempts, "
                "last_error, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    text,
                    payload.get("event"),
                    _str_or_none(payload.get("source_booking_id")),
                    attempts,
                    error,
                    PENDING,
                    now,
                    now,
                ),
            )
            return int(cursor.lastrowid or 0)

    def get(self, item_id: int) -> QueuedSync | None:
        rows = self._read("SELECT * FROM failed_syncs WHERE id = ?", (item_id,))
        return self._row(rows[0]) if rows else None

    def pending(self, limit: int | None = None) -> list[QueuedSync]:
        """Pending rows, oldest first."""
        sql = "SELECT * FROM failed_syncs WHERE status = ? ORDER BY id"
        params: tuple[Any, ...] = (PENDING,)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        return [self._row(r) for r in self._read(sql, params)]

    def failed(self) -> list[QueuedSync]:
        """Rows the hub refused for good, oldest first: they need a person."""
        rows = self._read("SELECT * FROM failed_syncs WHERE status = ? ORDER BY id", (FAILED,))
        return [self._row(r) for r in rows]

    def has_pending(self, source_booking_id: str) -> bool:
        """Whether an earlier sync of this booking is still waiting: a newer event for it must
        queue behind it, not overtake it."""
        rows = self._read(
            "SELECT 1 FROM failed_syncs WHERE source_booking_id = ? AND status = ? LIMIT 1",
            (str(source_booking_id), PENDING),
        )
        return bool(rows)

    def record_attempt(self, item_id: int, error: str) -> None:
        """A retry that failed again (transiently): still pending, one attempt more."""
        with self._write() as conn:
            conn.execute(
                "UPDATE failed_syncs SET attempts = attempts + 1, last_error = ?, updated_at = ? "
                "WHERE id = ?",
                (error, _now(), item_id),
            )

    def mark_failed(self, item_id: int, error: str) -> None:
        """Refused for good: kept as `failed` for manual intervention."""
        with self._write() as conn:
            conn.execute(
                "UPDATE failed_syncs SET status = ?, attempts = attempts + 1, last_error = ?, "
                "updated_at = ? WHERE id = ?",
                (FAILED, error, _now(), item_id),
            )

    def requeue(self, item_id: int, payload: dict[str, Any] | None = None) -> None:
        """Back to pending (after fixing the cause, or the payload: `payload` replaces it)."""
        with self._write() as conn:
            if payload is None:
                conn.execute(
                    "UPDATE failed_syncs SET status = ?, updated_at = ? WHERE id = ?",
                    (PENDING, _now(), item_id),
                )
            else:
                conn.execute(
                    "UPDATE failed_syncs SET status = ?, payload = ?, updated_at = ? WHERE id = ?",
                    (PENDING, json.dumps(payload, separators=(",", ":")), _now(), item_id),
                )

    def remove(self, item_id: int) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM failed_syncs WHERE id = ?", (item_id,))

    def counts(self) -> dict[str, int]:
        """{"pending": n, "failed": m}"""
        out = {PENDING: 0, FAILED: 0}
        for row in self._read("SELECT status, count(*) AS n FROM failed_syncs GROUP BY status"):
            out[row["status"]] = row["n"]
        return out

    def __len__(self) -> int:
        """How many rows are pending."""
        return self.counts()[PENDING]

    def __repr__(self) -> str:
        return f"FailedSyncQueue({str(self.path)!r})"


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
