"""The tour's inventory version: bumped in the same transaction as every change that alters what
its availability shows, so a cache keyed by it can never serve a stale answer — in any process,
since the version is read from the database on every request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from tos.catalog.models import PricingTier, Tour, Variant
from tos.inventory.models import Schedule
from tos.pricing.models import SeasonalPricing

# A season changes the prices availability shows, so it bumps the version like a tier.
_TOUR_PARTS = (Schedule, Variant, PricingTier, SeasonalPricing)


def bump(session: Session, tour_ids: set[str]) -> None:
    if tour_ids:
        session.execute(
            update(Tour)
            .where(Tour.id.in_(tour_ids))
            .values(inventory_version=Tour.inventory_version + 1)
            .execution_options(synchronize_session=False)
        )


def bump_for_schedule(session: Session, schedule_id: str) -> None:
    """For the seat counter's Core statements, which the ORM hook below does not see."""
    session.execute(
        update(Tour)
        .where(Tour.id == select(Schedule.tour_id).where(Schedule.id == schedule_id)
               .scalar_subquery())
        .values(inventory_version=Tour.inventory_version + 1)
        .execution_options(synchronize_session=False)
    )  # fmt: skip


@event.listens_for(Session, "before_flush")
def _bump_on_orm_changes(session: Session, _ctx: Any, _instances: Any) -> None:
    tour_ids: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _TOUR_PARTS):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            tour_ids.add(obj.tour_id)
        elif isinstance(obj, Tour) and obj in session.dirty and session.is_modified(obj):
            obj.inventory_version = (obj.inventory_version or 0) + 1
    tour_ids.discard(None)  # type: ignore[arg-type]
    bump(session, tour_ids)
