from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from tos.inventory.availability import available_spots, derived_status
from tos.inventory.generation import format_hhmm, parse_closing, parse_hhmm
from tos.inventory.models import Schedule


def _hhmm(value: Any) -> Any:
    return parse_hhmm(value) if isinstance(value, str) else value


HHMM = Annotated[
    dt.time,
    BeforeValidator(_hhmm),
    WithJsonSchema({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
                    "examples": ["09:00"]}),
]  # fmt: skip
CloseHHMM = Annotated[
    dt.time,
    BeforeValidator(lambda v: parse_closing(v) if isinstance(v, str) else v),
    WithJsonSchema({"type": "string", "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
                    "examples": ["18:00", "24:00"]}),
]  # fmt: skip
# PostgreSQL refuses NUL bytes in text; refusing them here makes that a 422, not a 500.
Text = Annotated[str, Field(max_length=5000, pattern=r"^[^\x00]*$")]
ID_PATTERN = r"^[^\x00]+$"
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(2199, 12, 31)


def _bounded(value: dt.date) -> dt.date:
    # Far dates overflow datetime arithmetic once shifted to UTC and by a duration.
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return value


Day = Annotated[dt.date, AfterValidator(_bounded)]
ScheduleStatus = Literal["open", "full", "closed", "cancelled", "completed"]
MAX_BULK_DATES = 400


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    variant_id: Id
    date: Day | None = None
    dates: list[Day] | None = Field(None, min_length=1, max_length=MAX_BULK_DATES)
    start_time: HHMM | None = Field(None, description="local HH:MM; start-time tours")
    end_time: HHMM | None = Field(None, description="local HH:MM; default start + duration")
    open_time: HHMM | None = Field(None, description="local HH:MM; opening-hours tours")
    close_time: CloseHHMM | None = Field(None, description="local HH:MM or 24:00")
    capacity: int | None = Field(
        None, ge=1, le=100_000, description="omitted: the variant's or tour's; null: freesale"
    )
    assigned_guide_id: Id | None = None
    notes: Text | None = None
    special_instructions: Text | None = None


class SchedulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    capacity: int | None = Field(None, ge=1, le=100_000, description="null: freesale")
    status: Literal["open", "closed"] | None = None
    assigned_guide_id: Id | None = Field(None, description="null unassigns")
    notes: Text | None = None
    special_instructions: Text | None = None


class ScheduleOut(BaseModel):
    id: str
    tour_id: str
    variant_id: str
    date: dt.date
    start_time: str
    end_time: str
    timezone: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int | None
    seats_taken: int
    seats_overbooked: int
    available_spots: int | None
    status: ScheduleStatus
    assigned_guide_id: str | None
    notes: str | None
    special_instructions: str | None
    generated_from_pattern: bool


class GenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date_from: Day
    date_to: Day


class GenerateOut(BaseModel):
    created: int
    skipped: int
    schedule_ids: list[str]


class Price(BaseModel):
    amount: int = Field(description="minor units")
    currency: str


class TierPrice(BaseModel):
    tier_id: str
    name: str
    unit_type: str
    price: Price


class AvailableSchedule(BaseModel):
    id: str
    variant_id: str
    variant_name: str
    date: dt.date
    start_time: str
    end_time: str
    starts_at: dt.datetime
    available_spots: int | None = Field(description="null: freesale, no limit")
    capacity: int | None
    status: ScheduleStatus
    pricing: list[TierPrice]


class AvailabilityOut(BaseModel):
    tour_id: str
    timezone: str
    availability_type: str
    schedules: list[AvailableSchedule]


def schedule_out(s: Schedule) -> dict[str, Any]:
    return {
        "id": s.id,
        "tour_id": s.tour_id,
        "variant_id": s.variant_id,
        "date": s.date,
        "start_time": format_hhmm(s.start_time),
        "end_time": format_hhmm(s.end_time),
        "timezone": s.timezone,
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "capacity": s.capacity,
        "seats_taken": s.seats_taken,
        "seats_overbooked": s.seats_overbooked,
        "available_spots": available_spots(s.capacity, s.seats_taken),
        "status": derived_status(s.status, s.capacity, s.seats_taken),
        "assigned_guide_id": s.assigned_guide_id,
        "notes": s.notes,
        "special_instructions": s.special_instructions,
        "generated_from_pattern": s.generated_from_pattern,
    }
