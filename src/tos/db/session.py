"""Engines and sessions.

SQLite: WAL, busy_timeout, foreign keys, and `BEGIN IMMEDIATE` for every transaction that
writes (pysqlite otherwise opens no transaction before a SELECT, and a read-check-write
could oversell). Read-only sessions keep a deferred BEGIN so readers never queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tos.config import get_settings
from tos.db import tenancy

WRITE_OPTION = "tos_write"


def build_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={"options": "-c lock_timeout=5000"},
    )


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        from pathlib import Path

        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    busy_ms = get_settings().sqlite_busy_timeout_ms
    engine = create_engine(
        url, echo=echo, connect_args={"check_same_thread": False, "timeout": busy_ms / 1000}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite; we emit BEGIN ourselves below.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class SessionFactory:
    """Makes tenant-aware sessions; `write=True` takes SQLite's write lock at BEGIN."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._read = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        self._write = sessionmaker(
            bind=engine.execution_options(**{WRITE_OPTION: True}),
            expire_on_commit=False,
            autoflush=False,
        )

    def __call__(self, *, write: bool = True, organization_id: str | None = None) -> Session:
        session = (self._write if write else self._read)()
        if organization_id is not None:
            tenancy.set_scope(session, organization_id)
        return session


_factories: dict[str, SessionFactory] = {}
_current: SessionFactory | None = None


def use_database(url: str) -> SessionFactory:
    """Point this process at `url` (tests switch between SQLite and PostgreSQL this way)."""
    global _current
    import tos.db.models  # noqa: F401 - every table and session listener, before any session

    if url not in _factories:
        s = get_settings()
        _factories[url] = SessionFactory(
            build_engine(url, echo=s.sql_echo, pool_size=s.db_pool_size)
        )
    _current = _factories[url]
    return _current


def get_session_factory() -> SessionFactory:
    return _current or use_database(get_settings().database_url)


def get_engine() -> Engine:
    return get_session_factory().engine


@contextmanager
def transaction(
    *, organization_id: str | None = None, unscoped: bool = False, write: bool = True
) -> Iterator[Session]:
    """One unit of work for CLI commands and jobs: commit on success, roll back on error."""
    session = get_session_factory()(write=write, organization_id=organization_id)
    if unscoped:
        tenancy.allow_unscoped(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
