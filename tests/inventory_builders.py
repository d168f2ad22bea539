"""Catalog rows for inventory tests, made straight with the ORM (the catalog API is built
elsewhere), and small helpers to set facts the API does not expose."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from tos.catalog.models import PricingTier, Tour, Variant
from tos.db.session import SessionFactory
from tos.inventory import versions
from tos.inventory.models import Schedule
from tos.operations.models import Guide

DAILY = {"type": "recurring", "days_of_week": [0, 1, 2, 3, 4, 5, 6], "start_times": ["09:00"]}


@dataclass
class TourFixture:
    id: str
    variant_ids: list[str] = field(default_factory=list)
    tier_ids: dict[str, str] = field(default_factory=dict)  # name -> id

    @property
    def variant_id(self) -> str:
        return self.variant_ids[0]


def make_tour(
    db: SessionFactory,
    org_id: str,
    *,
    timezone: str = "Europe/Lisbon",
    availability_type: str = "start_time",
    duration_minutes: int = 120,
    capacity: int | None = 10,
    variants: list[dict[str, Any]] | None = None,
    tiers: list[dict[str, Any]] | None = None,
) -> TourFixture:
    """A tour with variants (default: one "Standard" variant with a daily 09:00 pattern) and
    pricing tiers; a tier's "variant" key is the index of the variant it belongs to."""
    with db(write=True, organization_id=org_id) as session:
        slug = f"tour-{uuid.uuid4().hex[:10]}"
        tour = Tour(name=f"Tour {slug}", slug=slug, duration_minutes=duration_minutes,
                    capacity=capacity, timezone=timezone, availability_type=availability_type,
                    status="active")  # fmt: skip
        session.add(tour)
        session.flush()
        fx = TourFixture(id=tour.id)
        for i, spec in enumerate(variants or [{}]):
            spec = {"name": "Standard", "availability_pattern": DAILY, "sort_order": i} | spec
            variant = Variant(tour_id=tour.id, **spec)
            session.add(variant)
            session.flush()
            fx.variant_ids.append(variant.id)
        for spec in tiers or []:
            spec = dict(spec)
            index = spec.pop("variant", None)
            tier = PricingTier(
                tour_id=tour.id,
                variant_id=None if index is None else fx.variant_ids[index],
                **({"currency": "EUR", "unit_type": "ADULT"} | spec),
            )
            session.add(tier)
            session.flush()
            fx.tier_ids[tier.name] = tier.id
        session.commit()
    return fx


def make_guide(db: SessionFactory, org_id: str, *, user_id: str | None = None, **kw: Any) -> str:
    with db(write=True, organization_id=org_id) as session:
        guide = Guide(
            first_name=kw.pop("first_name", "Ana"), last_name=kw.pop("last_name", "Silva"),
            email=kw.pop("email", f"g-{uuid.uuid4().hex[:8]}@example.com"), user_id=user_id,
            languages=kw.pop("languages", ["pt", "en"]), **kw,
        )  # fmt: skip
        session.add(guide)
        session.commit()
        return guide.id


def set_schedule(db: SessionFactory, org_id: str, schedule_id: str, **values: Any) -> None:
    """Set columns no endpoint writes yet (seats_taken comes from bookings, later)."""
    with db(write=True, organization_id=org_id) as session:
        session.execute(update(Schedule).where(Schedule.id == schedule_id).values(**values))
        # A Core UPDATE the ORM hook does not see: bump like the seat counter does.
        versions.bump_for_schedule(session, schedule_id)
        session.commit()


def future(days: int = 10) -> dt.date:
    return dt.date.today() + dt.timedelta(days=days)
