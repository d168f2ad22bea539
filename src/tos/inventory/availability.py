"""What a departure looks like to someone who wants to book it: pure, no database.

A schedule is available when it is open, has seats left (or is freesale) and has not started.
`include_unavailable` lists the others too, with their status; a departure that has started
is shown as "closed" there whatever its stored status says, because "open" on an availability
list promises that it can be booked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from tos.core.errors import ValidationFailed
from tos.pricing.engine import Season, adjusted_unit, winning_season
from tos.pricing.tiers import TierLike, tiers_for

MAX_RANGE_DAYS = 366


class PricedTier(TierLike, Protocol):
    @property
    def id(self) -> str: ...
    @property
    def unit_type(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...


class TourWithTiers(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def availability_type(self) -> str: ...
    @property
    def tiers(self) -> Sequence[PricedTier]: ...
    @property
    def seasons(self) -> Sequence[Season]: ...


def derived_status(status: str, capacity: int | None, seats_taken: int) -> str:
    """An open schedule whose seats are all taken is "full"; that status is never stored."""
    if status == "open" and capacity is not None and seats_taken >= capacity:
        return "full"
    return status


def available_spots(capacity: int | None, seats_taken: int) -> int | None:
    return None if capacity is None else max(capacity - seats_taken, 0)


def check_range(date_from: dt.date, date_to: dt.date) -> None:
    if date_to < date_from:
        raise ValidationFailed("must not be before date_from", path=["query", "date_to"])
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed(f"at most {MAX_RANGE_DAYS} days", path=["query", "date_to"])


def build_availability(
    tour: TourWithTiers, schedules: Iterable[Sequence[Any]], *, now: dt.datetime
) -> dict[str, Any]:
    """The response body as plain data. `schedules` are rows of (id, variant_id, variant_name,
    date, start_time, end_time, starts_at, capacity, seats_taken, status) that the query chose:
    the available ones, or all of them with include_unavailable. Unpacked as tuples and
    priced once per variant and day (with that day's winning season), because this runs for
    every departure of every request."""
    tiers, seasons = tour.tiers, tour.seasons
    priced: dict[tuple[str, dt.date], list[dict[str, Any]]] = {}
    items = []
    for (
        sid,
        variant_id,
        variant_name,
        day,
        start,
        end,
        starts_at,
        capacity,
        taken,
        status,
    ) in schedules:
        pricing = priced.get((variant_id, day))
        if pricing is None:
            season = winning_season(seasons, day)
            pricing = priced[(variant_id, day)] = [
                {"tier_id": t.id, "name": t.name, "unit_type": t.unit_type,
                 "price": {"amount": adjusted_unit(t.amount, season), "currency": t.currency}}
                for t in tiers_for(tiers, variant_id=variant_id, on=day)
            ]  # fmt: skip
        spots = None if capacity is None else max(capacity - taken, 0)
        if status == "open" and (spots == 0 or starts_at < now):
            status = "closed" if starts_at < now else "full"
        items.append({
            "id": sid, "variant_id": variant_id, "variant_name": variant_name, "date": day,
            "start_time": start.isoformat("minutes"), "end_time": end.isoformat("minutes"),
            "starts_at": starts_at, "available_spots": spots, "capacity": capacity,
            "status": status, "pricing": pricing,
        })  # fmt: skip
    return {
        "tour_id": tour.id,
        "timezone": tour.timezone,
        "availability_type": tour.availability_type,
        "schedules": items,
    }
