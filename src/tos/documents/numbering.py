"""Gapless document numbers per organization, series and year (INV-2026-000042).

The next number is taken by `UPDATE … SET last_number = last_number + 1 … RETURNING` in the
caller's transaction, the one that stores the document: a rollback gives the number back, and
concurrent issuers queue on the sequence row's lock (PostgreSQL) or on the write lock (SQLite's
BEGIN IMMEDIATE), so every committed number is the previous one plus one. The row is held until
the caller commits: keep the work after `next_number` short."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tos.db import tenancy
from tos.documents.models import NumberSequence

INVOICE_SERIES = "INV"
CREDIT_NOTE_SERIES = "CN"


def next_number(
    session: Session, series: str, year: int, *, organization_id: str | None = None
) -> int:
    """The next number of `series` in `year` for the session's organization (or the given one)."""
    org_id = organization_id or tenancy.current_org(session)
    _ensure_row(session, org_id, series, year)
    number = session.execute(
        update(NumberSequence)
        .where(
            NumberSequence.organization_id == org_id,
            NumberSequence.series == series,
            NumberSequence.year == year,
        )
        .values(last_number=NumberSequence.last_number + 1)
        .returning(NumberSequence.last_number)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return int(number)


def _ensure_row(session: Session, org_id: str, series: str, year: int) -> None:
    # INSERT … ON CONFLICT DO NOTHING: on PostgreSQL a concurrent first issuer's uncommitted row
    # makes this wait, then do nothing. (tos.db.upsert.insert_if_absent returns the `id` column,
    # which this composite-key table does not have.)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(NumberSequence)
        .values(organization_id=org_id, series=series, year=year, last_number=0)
        .on_conflict_do_nothing(index_elements=["organization_id", "series", "year"])
    )


def format_number(series: str, year: int, number: int) -> str:
    return f"{series}-{year}-{number:06d}"
