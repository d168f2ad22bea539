"""Reads of schedules and availability. Availability selects only the columns it shows (no
ORM entities) in three statements whatever the window: the tour with its tiers, its seasons in
the window, and schedules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, null, or_, select
from sqlalchemy.orm import Session

from tos.catalog.models import PricingTier, Tour, Variant
from tos.core.errors import NotFound
from tos.db.types import UTCDateTime
from tos.inventory.models import Schedule
from tos.operations.models import Guide
from tos.pricing.cart import season_terms
from tos.pricing.engine import Season
from tos.pricing.models import SeasonalPricing

AnySelect = Select[*tuple[Any, ...]]


# List order: starts_at, then id.
SCHEDULE_ORDER: list[Any] = [Schedule.starts_at, Schedule.id]


def _own_schedules(user_id: str) -> Any:
    return Schedule.assigned_guide_id.in_(select(Guide.id).where(Guide.user_id == user_id))


def _is_full() -> Any:
    return and_(Schedule.capacity.is_not(None), Schedule.seats_taken >= Schedule.capacity)


def _has_seats() -> Any:
    return or_(Schedule.capacity.is_(None), Schedule.seats_taken < Schedule.capacity)


def get_schedule(session: Session, schedule_id: str, *, own_user_id: str | None = None) -> Schedule:
    """`own_user_id`: a guide-role caller sees only the departures it is assigned to."""
    stmt = select(Schedule).where(Schedule.id == schedule_id)
    if own_user_id is not None:
        stmt = stmt.where(_own_schedules(own_user_id))
    schedule = session.scalar(stmt)
    if schedule is None:
        raise NotFound("schedule", schedule_id)
    return schedule


def list_schedules_stmt(
    *,
    tour_id: str | None = None,
    variant_id: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    status: str | None = None,
    guide_id: str | None = None,
    own_user_id: str | None = None,
) -> AnySelect:
    stmt = select(Schedule)
    if tour_id is not None:
        stmt = stmt.where(Schedule.tour_id == tour_id)
    if variant_id is not None:
        stmt = stmt.where(Schedule.variant_id == variant_id)
    if date_from is not None:
        stmt = stmt.where(Schedule.date >= date_from)
    if date_to is not None:
        stmt = stmt.where(Schedule.date <= date_to)
    if guide_id is not None:
        stmt = stmt.where(Schedule.assigned_guide_id == guide_id)
    if status == "full":
        stmt = stmt.where(Schedule.status == "open", _is_full())
    elif status == "open":
        stmt = stmt.where(Schedule.status == "open", _has_seats())
    elif status is not None:
        stmt = stmt.where(Schedule.status == status)
    if own_user_id is not None:
        stmt = stmt.where(_own_schedules(own_user_id))
    return stmt


# Availability statements are built once per shape with bind parameters: building a select
# costs more CPU than running it, and this is the hottest read.
def _tour_and_tiers_stmt(with_variant: bool) -> AnySelect:
    on_tier = and_(
        PricingTier.tour_id == Tour.id,
        or_(PricingTier.valid_from.is_(None), PricingTier.valid_from <= bindparam("date_to")),
        or_(PricingTier.valid_until.is_(None), PricingTier.valid_until >= bindparam("date_from")),
    )
    variant_col: Any = null()
    if with_variant:
        variant_col = Variant.id
        on_tier = and_(on_tier, or_(PricingTier.variant_id.is_(None),
                                    PricingTier.variant_id == bindparam("variant_id")))  # fmt: skip
    stmt = select(
        Tour.id, Tour.timezone, Tour.availability_type, variant_col,
        PricingTier.id, PricingTier.variant_id, PricingTier.name, PricingTier.unit_type,
        PricingTier.amount, PricingTier.currency, PricingTier.valid_from,
        PricingTier.valid_until, PricingTier.sort_order,
    )  # fmt: skip
    if with_variant:
        stmt = stmt.outerjoin(
            Variant, and_(Variant.id == bindparam("variant_id"), Variant.tour_id == Tour.id)
        )
    return stmt.outerjoin(PricingTier, on_tier).where(Tour.id == bindparam("tour_id"))


def schedule_rows() -> AnySelect:
    """A departure's availability row (with its variant's name): what availability answers,
    here and over OCTO, are built from."""
    return select(
        Schedule.id, Schedule.variant_id, Variant.name, Schedule.date, Schedule.start_time,
        Schedule.end_time, Schedule.starts_at, Schedule.capacity, Schedule.seats_taken,
        Schedule.status,
    ).join(Variant, Variant.id == Schedule.variant_id)  # fmt: skip


def _schedules_stmt(with_variant: bool, include_unavailable: bool) -> AnySelect:
    stmt: AnySelect = (
        schedule_rows()
        .where(
            Schedule.tour_id == bindparam("tour_id"),
            Schedule.date >= bindparam("date_from"),
            Schedule.date <= bindparam("date_to"),
        )
        .order_by(Schedule.starts_at, Schedule.id)
    )
    if with_variant:
        stmt = stmt.where(Schedule.variant_id == bindparam("variant_id"))
    if not include_unavailable:
        stmt = stmt.where(
            Schedule.status == "open",
            _has_seats(),
            Schedule.starts_at >= bindparam("now", type_=UTCDateTime()),
            Variant.status == "active",
        )
    return stmt


_TOUR_AND_TIERS = {v: _tour_and_tiers_stmt(v) for v in (False, True)}
_SCHEDULES = {(v, u): _schedules_stmt(v, u) for v in (False, True) for u in (False, True)}


class Tier(NamedTuple):
    id: str
    variant_id: str | None
    name: str
    unit_type: str
    amount: int
    currency: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    sort_order: int


class AvailabilityTour(NamedTuple):
    id: str
    timezone: str
    availability_type: str
    tiers: list[Tier]
    seasons: list[Season]


def inventory_version(session: Session, tour_id: str) -> int:
    version = session.scalar(select(Tour.inventory_version).where(Tour.id == tour_id))
    if version is None:
        raise NotFound("tour", tour_id)
    return version


def availability_tour(
    session: Session, tour_id: str, *, date_from: dt.date, date_to: dt.date,
    variant_id: str | None,
) -> AvailabilityTour:  # fmt: skip
    """The tour and the tiers that can apply to some departure in the window (tiers.py picks
    per departure), in one statement. 404 for a missing tour, or a variant not of the tour."""
    params = {"tour_id": tour_id, "date_from": date_from, "date_to": date_to,
              "variant_id": variant_id}  # fmt: skip
    rows = session.execute(_TOUR_AND_TIERS[variant_id is not None], params).all()
    if not rows:
        raise NotFound("tour", tour_id)
    first = rows[0]
    if variant_id is not None and first[3] is None:
        raise NotFound("variant", variant_id)
    tiers = [Tier(*row[4:]) for row in rows if row[4] is not None]
    seasons = session.scalars(
        select(SeasonalPricing).where(
            SeasonalPricing.tour_id == tour_id,
            SeasonalPricing.start_date <= date_to,
            SeasonalPricing.end_date >= date_from,
        )
    )
    return AvailabilityTour(first[0], first[1], first[2], tiers, [season_terms(s) for s in seasons])


def availability_schedules(
    session: Session,
    tour_id: str,
    *,
    date_from: dt.date,
    date_to: dt.date,
    variant_id: str | None,
    include_unavailable: bool,
    now: dt.datetime,
) -> Sequence[Any]:
    """Rows of (id, variant_id, variant_name, date, start_time, end_time, starts_at, capacity,
    seats_taken, status) in start order: the bookable ones, or all with include_unavailable."""
    params = {"tour_id": tour_id, "date_from": date_from, "date_to": date_to,
              "variant_id": variant_id, "now": now}  # fmt: skip
    stmt = _SCHEDULES[(variant_id is not None, include_unavailable)]
    return session.execute(stmt, params).all()
