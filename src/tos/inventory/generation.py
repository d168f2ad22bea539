"""Occurrences of a variant's availability pattern: pure, no database.

Weekdays are seed 003's 0 = Sunday ... 6 = Saturday (Python's `weekday()` has Monday = 0).

Wall-clock times are resolved in the tour's IANA zone with PEP 495's `fold=0`, which gives the
two DST rules TOS uses:
- a local time that does not exist (the spring-forward gap, e.g. 02:30 on 2026-03-08 in
  America/New_York) is SHIFTED forward by the gap length: it becomes the instant 02:30 would be
  in the offset before the change, i.e. 03:30 local. The schedule then stores 03:30, the time it
  really starts, so its date/start_time and starts_at always agree; only its start differs from
  the pattern's.
- a local time that happens twice (the fall-back overlap) takes the FIRST occurrence.
A start_time occurrence ends `duration` of real time after it starts (a 3-hour tour is 3 hours
even across a change); an opening-hours occurrence ends at its closing wall-clock time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

UTC = dt.UTC
PATTERN_TYPES = ("recurring", "specific_dates", "on_request")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class PatternError(ValueError):
    """A stored pattern that cannot be read; `path` points inside the pattern."""

    def __init__(self, message: str, path: Sequence[str | int] = ()):
        super().__init__(message)
        self.path = list(path)


@dataclass(frozen=True, slots=True)
class Slot:
    start: dt.time
    close: dt.time | None = None  # opening hours only


@dataclass(frozen=True, slots=True)
class Pattern:
    type: str
    days_of_week: frozenset[int] | None  # None: every day
    slots: tuple[Slot, ...]
    valid_from: dt.date | None
    valid_until: dt.date | None
    excluded_dates: frozenset[dt.date]
    dates: tuple[dt.date, ...]  # specific_dates only


@dataclass(frozen=True, slots=True)
class Occurrence:
    date: dt.date
    start_time: dt.time
    end_time: dt.time
    starts_at: dt.datetime
    ends_at: dt.datetime


def weekday_sun0(day: dt.date) -> int:
    """0 = Sunday ... 6 = Saturday."""
    return day.isoweekday() % 7


def parse_hhmm(value: Any) -> dt.time:
    match = _HHMM.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"expected a time as HH:MM, got {value!r}")
    return dt.time(int(match[1]), int(match[2]))


def parse_closing(value: Any) -> dt.time:
    """Like parse_hhmm, plus "24:00" for closing at midnight, which is 00:00 of the next day
    (occurrence() ends an end time that is not after the start on the next day)."""
    return dt.time(0, 0) if value == "24:00" else parse_hhmm(value)


def format_hhmm(value: dt.time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def local_to_utc(day: dt.date, wall: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of a wall-clock time, by the module's DST rules (fold=0)."""
    return dt.datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def parse_pattern(raw: Mapping[str, Any] | None, *, availability_type: str) -> Pattern:
    """Read seed 003's snake_case pattern. Opening-hours tours take their slots from
    `opening_hours`, start-time tours from `start_times`."""
    if not isinstance(raw, Mapping):
        raise PatternError("the variant has no availability pattern")
    kind = raw.get("type", "recurring")
    if kind not in PATTERN_TYPES:
        raise PatternError(f"type must be one of {', '.join(PATTERN_TYPES)}", ["type"])
    empty = Pattern(kind, None, (), None, None, frozenset(), ())
    if kind == "on_request":
        return empty
    days = raw.get("days_of_week")
    if days is not None:
        if not isinstance(days, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days
        ):
            raise PatternError("days_of_week: integers 0 (Sunday) to 6 (Saturday)",
                               ["days_of_week"])  # fmt: skip
        days = frozenset(days)
    return Pattern(
        type=kind,
        days_of_week=days,
        slots=_slots(raw, availability_type),
        valid_from=_date(raw.get("valid_from"), ["valid_from"]),
        valid_until=_date(raw.get("valid_until"), ["valid_until"]),
        excluded_dates=frozenset(_dates(raw.get("excluded_dates"), "excluded_dates")),
        dates=tuple(sorted(set(_dates(raw.get("dates"), "dates")))),
    )


def _slots(raw: Mapping[str, Any], availability_type: str) -> tuple[Slot, ...]:
    slots: list[Slot] = []
    if availability_type == "opening_hours":
        hours = raw.get("opening_hours") or []
        if not isinstance(hours, list) or not hours:
            raise PatternError("an opening-hours tour needs opening_hours", ["opening_hours"])
        for i, item in enumerate(hours):
            try:
                slot = Slot(parse_hhmm(item["open"]), parse_closing(item["close"]))
            except (TypeError, KeyError, ValueError):
                raise PatternError("expected {open: HH:MM, close: HH:MM}", ["opening_hours", i])
            if slot.close is not None and dt.time(0) < slot.close <= slot.start:
                raise PatternError("close must be after open", ["opening_hours", i, "close"])
            slots.append(slot)
    else:
        times = raw.get("start_times") or []
        if not isinstance(times, list) or not times:
            raise PatternError("a start-time tour needs start_times", ["start_times"])
        for i, value in enumerate(times):
            try:
                slots.append(Slot(parse_hhmm(value)))
            except ValueError as exc:
                raise PatternError(str(exc), ["start_times", i])
    return tuple(sorted(set(slots), key=lambda s: (s.start, s.close or s.start)))


def _date(value: Any, path: list[str | int]) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        # Seed 003 sends JavaScript Dates, which serialise with a time part.
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise PatternError(f"not a date: {value!r}", path)


def _dates(values: Any, name: str) -> list[dt.date]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise PatternError("expected a list of dates", [name])
    return [d for i, v in enumerate(values) if (d := _date(v, [name, i])) is not None]


def candidate_dates(pattern: Pattern, date_from: dt.date, date_to: dt.date) -> Iterator[dt.date]:
    """The local dates in [date_from, date_to] the pattern runs on."""
    if pattern.type == "on_request":
        return
    lo = max(date_from, pattern.valid_from or date_from)
    hi = min(date_to, pattern.valid_until or date_to)
    if pattern.type == "specific_dates":
        days: Iterator[dt.date] = (d for d in pattern.dates if lo <= d <= hi)
    else:
        days = (lo + dt.timedelta(days=n) for n in range((hi - lo).days + 1))
    weekdays = pattern.days_of_week if pattern.type == "recurring" else None
    for day in days:
        if day in pattern.excluded_dates:
            continue
        if weekdays is not None and weekday_sun0(day) not in weekdays:
            continue
        yield day


def occurrence(
    day: dt.date, start: dt.time, tz: ZoneInfo, *, duration: dt.timedelta | None = None,
    end: dt.time | None = None,
) -> Occurrence:  # fmt: skip
    """One departure: ends after `duration`, or at the wall-clock `end` (the next day when it
    is not after `start`)."""
    starts_at = local_to_utc(day, start, tz)
    if end is not None:
        end_day = day if end > start else day + dt.timedelta(days=1)
        ends_at = local_to_utc(end_day, end, tz)
    else:
        ends_at = starts_at + (duration or dt.timedelta(0))
    local_start = starts_at.astimezone(tz)
    return Occurrence(
        date=local_start.date(),
        start_time=local_start.time().replace(tzinfo=None),
        end_time=ends_at.astimezone(tz).time().replace(tzinfo=None),
        starts_at=starts_at,
        ends_at=ends_at,
    )


def generate(
    pattern: Pattern,
    *,
    date_from: dt.date,
    date_to: dt.date,
    timezone: str,
    duration: dt.timedelta,
) -> Iterator[Occurrence]:
    """Every occurrence of `pattern` in [date_from, date_to], in start order, each instant once
    (two pattern times can land on the same instant after a gap shift)."""
    tz = ZoneInfo(timezone)
    seen: set[dt.datetime] = set()
    for day in candidate_dates(pattern, date_from, date_to):
        # Sorted again by instant: a time shifted out of a gap can pass a later pattern time.
        day_occs = sorted(
            (occurrence(day, slot.start, tz, duration=duration, end=slot.close)
             for slot in pattern.slots),
            key=lambda o: o.starts_at,
        )  # fmt: skip
        for occ in day_occs:
            if occ.starts_at not in seen:
                seen.add(occ.starts_at)
                yield occ
