"""Scarce capacity: seats are taken and given back by one guarded statement each.

`seats_taken + n <= capacity` is checked by the UPDATE itself, so the hot schedule row is locked
only for that statement and the commit (PostgreSQL re-checks the condition after a concurrent
writer commits; SQLite writers are serialised by BEGIN IMMEDIATE). A CHECK constraint backs it.
Freesale schedules (no capacity) take no guard.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from tos.core.clock import utcnow
from tos.core.errors import Conflict
from tos.inventory import versions
from tos.inventory.models import Schedule


class CapacityExceeded(Conflict):
    code = "CAPACITY_EXCEEDED"
    message = "Not enough spots left on this departure"


class ScheduleNotOpen(Conflict):
    code = "SCHEDULE_NOT_OPEN"
    message = "This departure is not open for booking"


def take_seats(session: Session, schedule_id: str, seats: int) -> None:
    if seats <= 0:
        return
    result = session.execute(
        update(Schedule)
        .where(
            Schedule.id == schedule_id,
            Schedule.status == "open",
            or_(Schedule.capacity.is_(None), Schedule.seats_taken + seats <= Schedule.capacity),
        )
        .values(seats_taken=Schedule.seats_taken + seats, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        versions.bump_for_schedule(session, schedule_id)
        return
    row = session.execute(
        select(Schedule.status, Schedule.capacity, Schedule.seats_taken).where(
            Schedule.id == schedule_id
        )
    ).one()
    if row.status != "open":
        raise ScheduleNotOpen(details={"schedule_id": schedule_id, "status": row.status})
    available = max((row.capacity or 0) - row.seats_taken, 0)
    raise CapacityExceeded(
        f"only {available} spots left",
        details={"schedule_id": schedule_id, "available_spots": available, "requested": seats},
    )


def release_seats(session: Session, schedule_id: str, seats: int) -> None:
    _give_back(session, schedule_id, Schedule.seats_taken, seats)


def overbook(session: Session, schedule_id: str, seats: int) -> None:
    """Seats another channel already sold and charged, past capacity (PRODUCT.md invariant 1's
    one exception): counted apart, never in seats_taken."""
    if seats > 0:
        session.execute(
            update(Schedule)
            .where(Schedule.id == schedule_id)
            .values(seats_overbooked=Schedule.seats_overbooked + seats, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        versions.bump_for_schedule(session, schedule_id)


def release_overbooked(session: Session, schedule_id: str, seats: int) -> None:
    _give_back(session, schedule_id, Schedule.seats_overbooked, seats)


def _give_back(session: Session, schedule_id: str, counter, seats: int) -> None:
    if seats <= 0:
        return
    result = session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id, counter >= seats)
        .values({counter: counter - seats, Schedule.updated_at: utcnow()})
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        # The counter and the bookings disagree: never paper over it.
        raise RuntimeError(f"schedule {schedule_id} counts fewer than {seats} {counter.key}")
    versions.bump_for_schedule(session, schedule_id)
