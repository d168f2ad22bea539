"""INSERT … ON CONFLICT DO NOTHING on PostgreSQL and SQLite: one round trip that either claims a
unique key or learns that someone already has (on PostgreSQL it waits for a concurrent claimer
to commit or roll back first, so the loser can then read the winner's row)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached

from tos.db.base import Base


def insert_if_absent(
    session: Session, model: type[Base], values: dict[str, Any], *, conflict: list[str]
) -> bool:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = model.__table__
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict)
        .returning(table.c.id)  # the row count is not reported for this statement everywhere
    )
    return session.execute(stmt).first() is not None


def adopt(session: Session, obj: Base) -> Base:
    """Put an object whose row was just inserted with Core into the session as persistent, so
    later changes to it flush as UPDATEs and nothing is inserted twice."""
    make_transient_to_detached(obj)
    session.add(obj)
    return obj
