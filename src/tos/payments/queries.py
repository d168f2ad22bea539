from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tos.payments import ledger
from tos.payments.models import LedgerEntry


def ledger_totals(session: Session, booking_id: str) -> ledger.Totals:
    return totals_by_booking(session, [booking_id]).get(booking_id, ledger.totals([]))


def totals_by_booking(session: Session, booking_ids: Iterable[str]) -> dict[str, ledger.Totals]:
    """One grouped query for a whole page of bookings."""
    ids = list(booking_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(
            LedgerEntry.booking_id,
            LedgerEntry.kind,
            LedgerEntry.status,
            func.sum(LedgerEntry.amount),
        )
        .where(LedgerEntry.booking_id.in_(ids))
        .group_by(LedgerEntry.booking_id, LedgerEntry.kind, LedgerEntry.status)
    ).all()
    entries: dict[str, list[ledger.Entry]] = {i: [] for i in ids}
    for booking_id, kind, status, amount in rows:
        entries[booking_id].append(
            ledger.Entry(ledger.Kind(kind), ledger.EntryStatus(status), int(amount))
        )
    return {i: ledger.totals(e) for i, e in entries.items()}


def entries_of(session: Session, booking_id: str) -> list[LedgerEntry]:
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.booking_id == booking_id)
            .order_by(LedgerEntry.created_at, LedgerEntry.id)
        )
    )
