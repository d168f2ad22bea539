"""Schedules: creating departures by hand or from a variant's pattern, and changing them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.catalog.models import Tour, Variant
from tos.core.errors import Conflict, NotFound, ValidationFailed
from tos.identity.actors import Actor
from tos.inventory import generation
from tos.inventory.generation import Occurrence, PatternError
from tos.inventory.models import Schedule
from tos.operations.service import check_assignable

MAX_GENERATE_DAYS = 400
UNSET: Any = object()  # "not in the request", as opposed to an explicit null
_TERMINAL = ("cancelled", "completed")


class ScheduleExists(Conflict):
    code = "SCHEDULE_EXISTS"


class CapacityBelowBooked(Conflict):
    code = "CAPACITY_BELOW_BOOKED"


class InvalidTransition(Conflict):
    code = "INVALID_TRANSITION"


def _variant_and_tour(session: Session, variant_id: str) -> tuple[Variant, Tour] | None:
    row = session.execute(
        select(Variant, Tour).join(Tour, Tour.id == Variant.tour_id).where(Variant.id == variant_id)
    ).first()
    return None if row is None else (row[0], row[1])


def _duration(variant: Variant, tour: Tour) -> dt.timedelta:
    return dt.timedelta(minutes=variant.duration_minutes or tour.duration_minutes or 0)


def _new_schedule(
    variant: Variant, tour: Tour, occ: Occurrence, capacity: int | None, **extra: Any
) -> Schedule:
    return Schedule(
        tour_id=tour.id, variant_id=variant.id, date=occ.date, start_time=occ.start_time,
        end_time=occ.end_time, timezone=tour.timezone, starts_at=occ.starts_at,
        ends_at=occ.ends_at, capacity=capacity, seats_taken=0, seats_overbooked=0,
        status="open", **extra,
    )  # fmt: skip


def _existing(
    session: Session, variant_id: str, occs: Sequence[Occurrence]
) -> dict[dt.datetime, str]:
    """starts_at -> id of the variant's schedules among `occs`, in one SELECT."""
    if not occs:
        return {}
    rows = session.execute(
        select(Schedule.starts_at, Schedule.id).where(
            Schedule.variant_id == variant_id,
            Schedule.starts_at >= min(o.starts_at for o in occs),
            Schedule.starts_at <= max(o.starts_at for o in occs),
        )
    )
    wanted = {o.starts_at for o in occs}
    return {starts_at: sid for starts_at, sid in rows if starts_at in wanted}


def _insert(session: Session, actor: Actor, schedules: list[Schedule]) -> None:
    session.add_all(schedules)
    try:
        session.flush()
    except IntegrityError:
        # The unique (variant_id, starts_at) caught a concurrent insert of the same departure.
        raise ScheduleExists("a schedule was created concurrently at the same time; retry")
    for schedule in schedules:
        record(session, actor, "schedule.created", schedule)


def create_schedules(
    session: Session,
    actor: Actor,
    *,
    variant_id: str,
    date: dt.date | None = None,
    dates: list[dt.date] | None = None,
    start_time: dt.time | None = None,
    end_time: dt.time | None = None,
    open_time: dt.time | None = None,
    close_time: dt.time | None = None,
    capacity: int | None = UNSET,
    assigned_guide_id: str | None = None,
    notes: str | None = None,
    special_instructions: str | None = None,
) -> list[Schedule]:
    """One departure per date, at the same local times. `capacity` omitted: the variant's,
    else the tour's; None: freesale."""
    if (date is None) == (dates is None):
        raise ValidationFailed("give either date or dates", path=["date"])
    days = [date] if date is not None else list(dates or [])
    for i, day in enumerate(days):
        if day in days[:i]:
            raise ValidationFailed("this date is listed twice", path=["dates", i])
    found = _variant_and_tour(session, variant_id)
    if found is None:
        raise ValidationFailed("no such variant in this organization", path=["variant_id"])
    variant, tour = found
    start, end = _times(tour, start_time, end_time, open_time, close_time)
    if assigned_guide_id is not None:
        check_assignable(session, assigned_guide_id, path=["assigned_guide_id"])
    if capacity is UNSET:
        capacity = variant.capacity if variant.capacity is not None else tour.capacity
    tz = ZoneInfo(tour.timezone)
    duration = _duration(variant, tour)
    occs = [generation.occurrence(d, start, tz, duration=duration, end=end) for d in days]
    taken = _existing(session, variant.id, occs)
    if taken:
        raise ScheduleExists(
            "a schedule of this variant already starts at this time",
            details={
                "variant_id": variant.id,
                "starts_at": [t.isoformat() for t in sorted(taken)],
                "schedule_ids": [taken[t] for t in sorted(taken)],
            },
        )
    schedules = [
        _new_schedule(
            variant, tour, occ, capacity, assigned_guide_id=assigned_guide_id, notes=notes,
            special_instructions=special_instructions, generated_from_pattern=False,
        )
        for occ in occs
    ]  # fmt: skip
    _insert(session, actor, schedules)
    return schedules


def _times(
    tour: Tour,
    start_time: dt.time | None,
    end_time: dt.time | None,
    open_time: dt.time | None,
    close_time: dt.time | None,
) -> tuple[dt.time, dt.time | None]:
    """The local start and (optional) end wall-clock times, by the tour's availability type."""
    if tour.availability_type == "opening_hours":
        for name, value in (("start_time", start_time), ("end_time", end_time)):
            if value is not None:
                raise ValidationFailed("opening-hours tours take open_time and close_time",
                                       path=[name])  # fmt: skip
        if open_time is None:
            raise ValidationFailed("required for an opening-hours tour", path=["open_time"])
        if close_time is None:
            raise ValidationFailed("required for an opening-hours tour", path=["close_time"])
        if dt.time(0) < close_time <= open_time:  # 00:00 / 24:00: at midnight
            raise ValidationFailed("must be after open_time", path=["close_time"])
        return open_time, close_time
    for name, value in (("open_time", open_time), ("close_time", close_time)):
        if value is not None:
            raise ValidationFailed("start-time tours take start_time", path=[name])
    if start_time is None:
        raise ValidationFailed("required for a start-time tour", path=["start_time"])
    if end_time is not None and end_time == start_time:
        raise ValidationFailed("must differ from start_time", path=["end_time"])
    return start_time, end_time


def generate_schedules(
    session: Session, actor: Actor, variant_id: str, *, date_from: dt.date, date_to: dt.date
) -> dict[str, Any]:
    """The pattern's departures in [date_from, date_to] that do not exist yet: running it twice
    creates nothing the second time."""
    if date_to < date_from:
        raise ValidationFailed("must not be before date_from", path=["date_to"])
    if (date_to - date_from).days + 1 > MAX_GENERATE_DAYS:
        raise ValidationFailed(f"at most {MAX_GENERATE_DAYS} days at a time", path=["date_to"])
    found = _variant_and_tour(session, variant_id)
    if found is None:
        raise NotFound("variant", variant_id)
    variant, tour = found
    try:
        pattern = generation.parse_pattern(
            variant.availability_pattern, availability_type=tour.availability_type
        )
    except PatternError as exc:
        raise ValidationFailed(str(exc), path=["availability_pattern", *exc.path])
    occs = list(
        generation.generate(
            pattern, date_from=date_from, date_to=date_to, timezone=tour.timezone,
            duration=_duration(variant, tour),
        )
    )  # fmt: skip
    existing = _existing(session, variant.id, occs)
    capacity = variant.capacity if variant.capacity is not None else tour.capacity
    schedules = [
        _new_schedule(variant, tour, occ, capacity, generated_from_pattern=True)
        for occ in occs
        if occ.starts_at not in existing
    ]
    if schedules:
        _insert(session, actor, schedules)
    return {
        "created": len(schedules),
        "skipped": len(occs) - len(schedules),
        "schedule_ids": [s.id for s in schedules],
    }


def update_schedule(session: Session, actor: Actor, schedule_id: str, **changes: Any) -> Schedule:
    """Capacity, open/closed, guide, notes. The row is locked first so a booking cannot take
    a seat between the capacity check and the write."""
    schedule = session.scalar(select(Schedule).where(Schedule.id == schedule_id).with_for_update())
    if schedule is None:
        raise NotFound("schedule", schedule_id)
    if "status" in changes:
        if changes["status"] is None:
            raise ValidationFailed("status cannot be null", path=["status"])
        if changes["status"] != schedule.status and schedule.status in _TERMINAL:
            raise InvalidTransition(
                f"a {schedule.status} schedule cannot be {changes['status']}",
                details={"from": schedule.status, "to": changes["status"]},
            )
    capacity = changes.get("capacity")
    if capacity is not None and capacity < schedule.seats_taken:
        raise CapacityBelowBooked(
            "capacity cannot drop below the seats already taken",
            details={"seats_taken": schedule.seats_taken, "requested_capacity": capacity},
        )
    guide_id = changes.pop("assigned_guide_id", UNSET)
    if guide_id is not UNSET and guide_id is not None and guide_id != schedule.assigned_guide_id:
        check_assignable(session, guide_id, path=["assigned_guide_id"])
    changed = {k: v for k, v in changes.items() if getattr(schedule, k) != v}
    if changed:
        before = snapshot(schedule)
        for name, value in changed.items():
            setattr(schedule, name, value)
        record(session, actor, "schedule.updated", schedule, before=before)
    # Assigning a guide is its own event (seed 003's schedule.guide_assigned), null included.
    if guide_id is not UNSET and guide_id != schedule.assigned_guide_id:
        before = snapshot(schedule)
        schedule.assigned_guide_id = guide_id
        record(session, actor, "schedule.guide_assigned", schedule, before=before)
    session.flush()
    return schedule
