"""Seed 003's AvailabilityPattern (snake_case), and which patterns fit a tour's availability type.

Stored on the variant as JSON with dates as ISO strings; schedule generation reads it back
through `AvailabilityPattern.model_validate`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from tos.catalog.fields import InModel

PATTERN_TYPES = ("recurring", "specific_dates", "on_request")

HHMM = Annotated[
    str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local wall-clock time, HH:MM")
]
# Opening hours may run to midnight.
ClosingTime = Annotated[
    str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", description="HH:MM, up to 24:00")
]
Weekday = Annotated[int, Field(strict=True, ge=0, le=6, description="0 = Sunday … 6 = Saturday")]


class OpeningHours(InModel):
    open: HHMM
    close: ClosingTime

    @field_validator("close")
    @classmethod
    def _after_open(cls, close: str, info: ValidationInfo) -> str:
        opens = info.data.get("open")
        if opens is not None and close <= opens:
            raise ValueError("close must be later than open")
        return close


class AvailabilityPattern(InModel):
    type: Literal["recurring", "specific_dates", "on_request"] = "recurring"
    days_of_week: list[Weekday] | None = Field(
        default=None,
        max_length=7,
        description="recurring: 0 = Sunday … 6 = Saturday; none = every day",
    )
    start_times: list[HHMM] | None = Field(
        default=None, max_length=96, description="start_time tours"
    )
    opening_hours: list[OpeningHours] | None = Field(
        default=None, max_length=12, description="opening_hours tours"
    )
    dates: list[date] | None = Field(
        default=None,
        max_length=1000,
        validate_default=True,
        description="specific_dates: the dates",
    )
    valid_from: date | None = None
    valid_until: date | None = None
    excluded_dates: list[date] = Field(default_factory=list, max_length=1000)

    @field_validator("days_of_week")
    @classmethod
    def _days(cls, days: list[int] | None, info: ValidationInfo) -> list[int] | None:
        if days is not None and info.data.get("type") == "specific_dates":
            raise ValueError("a specific_dates pattern lists dates, not days_of_week")
        return sorted(set(days)) if days is not None else None

    @field_validator("start_times")
    @classmethod
    def _times(cls, times: list[str] | None) -> list[str] | None:
        return sorted(set(times)) if times is not None else None

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, hours: list[OpeningHours] | None) -> list[OpeningHours] | None:
        if hours is None:
            return None
        hours = sorted(hours, key=lambda h: h.open)
        for earlier, later in zip(hours, hours[1:], strict=False):
            if later.open < earlier.close:
                raise ValueError(
                    f"opening hours overlap: {earlier.open}-{earlier.close} and "
                    f"{later.open}-{later.close}"
                )
        return hours

    @field_validator("dates")
    @classmethod
    def _dates(cls, dates: list[date] | None, info: ValidationInfo) -> list[date] | None:
        kind = info.data.get("type")
        if kind == "specific_dates" and not dates:
            raise ValueError("a specific_dates pattern needs at least one date")
        if kind != "specific_dates" and dates:
            raise ValueError("dates belong to specific_dates patterns only")
        return sorted(set(dates)) if dates else None

    @field_validator("valid_until")
    @classmethod
    def _until(cls, until: date | None, info: ValidationInfo) -> date | None:
        since = info.data.get("valid_from")
        if until is not None and since is not None and until < since:
            raise ValueError("valid_until must not be before valid_from")
        return until

    @field_validator("excluded_dates")
    @classmethod
    def _excluded(cls, dates: list[date]) -> list[date]:
        return sorted(set(dates))

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def misfit(pattern: dict[str, Any], availability_type: str) -> tuple[str, str] | None:
    """The pattern field a tour of `availability_type` cannot use, with the reason; or None."""
    if availability_type == "opening_hours" and pattern.get("start_times"):
        return "start_times", "an opening_hours tour has opening_hours, not start_times"
    if availability_type == "start_time" and pattern.get("opening_hours"):
        return "opening_hours", "a start_time tour has start_times, not opening_hours"
    return None
