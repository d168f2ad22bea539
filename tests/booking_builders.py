"""A bookable departure for booking tests: a tour with Adult and Child tiers and one schedule,
made with the ORM; bookings themselves always go through the API or the services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tests.inventory_builders import make_tour
from tos.db.session import SessionFactory
from tos.inventory.models import Schedule


@dataclass
class Departure:
    tour_id: str
    variant_id: str
    schedule_id: str
    adult: str  # tier ids
    child: str


def make_departure(
    db: SessionFactory,
    org_id: str,
    *,
    capacity: int | None = 10,
    days_ahead: int = 10,
    adult_price: int = 5000,
    child_price: int = 2500,
    currency: str = "EUR",
) -> Departure:
    tour = make_tour(
        db,
        org_id,
        capacity=capacity,
        tiers=[
            {"name": "Adult", "amount": adult_price, "currency": currency, "unit_type": "ADULT"},
            {"name": "Child", "amount": child_price, "currency": currency, "unit_type": "CHILD"},
        ],
    )
    schedule_id = add_schedule(
        db, org_id, tour.id, tour.variant_id, capacity=capacity, days_ahead=days_ahead
    )
    return Departure(
        tour.id, tour.variant_id, schedule_id, tour.tier_ids["Adult"], tour.tier_ids["Child"]
    )


def add_schedule(
    db: SessionFactory,
    org_id: str,
    tour_id: str,
    variant_id: str,
    *,
    capacity: int | None = 10,
    days_ahead: int = 10,
    hour: int = 9,
    status: str = "open",
) -> str:
    zone = ZoneInfo("Europe/Lisbon")
    day = dt.date.today() + dt.timedelta(days=days_ahead)
    start = dt.datetime.combine(day, dt.time(hour, 0), zone)
    with db(write=True, organization_id=org_id) as session:
        schedule = Schedule(
            tour_id=tour_id,
            variant_id=variant_id,
            date=day,
            start_time=dt.time(hour, 0),
            end_time=dt.time(hour + 2, 0),
            timezone="Europe/Lisbon",
            starts_at=start.astimezone(dt.UTC),
            ends_at=(start + dt.timedelta(hours=2)).astimezone(dt.UTC),
            capacity=capacity,
            status=status,
        )
        session.add(schedule)
        session.commit()
        return schedule.id


def booking_body(
    dep: Departure, *, adults: int = 1, children: int = 0, email: str = "ana@example.com", **extra
) -> dict:
    lines = [{"pricing_tier_id": dep.adult, "quantity": adults}]
    if children:
        lines.append({"pricing_tier_id": dep.child, "quantity": children})
    return {
        "schedule_id": dep.schedule_id,
        "line_items": lines,
        "customer": {"email": email, "first_name": "Ana", "last_name": "Silva"},
        **extra,
    }
