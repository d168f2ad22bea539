"""Reads: tours and their parts for staff, and the public feed of one organization's tours."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, exists, func, inspect, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute, Session

from tos.catalog.models import PricingTier, Tour, TourFaq, TourInclusion, Variant
from tos.core.clock import utcnow
from tos.core.errors import NotFound

M = TypeVar("M", Variant, PricingTier, TourFaq, TourInclusion)

# Ids are UUIDs; anything else cannot exist, and must not reach the database as a parameter
# (PostgreSQL refuses NUL characters outright).
_ID = re.compile(r"[0-9A-Za-z-]{1,36}")

ENTITY_NAMES: dict[type[Any], str] = {
    Variant: "variant",
    PricingTier: "pricing tier",
    TourFaq: "faq",
    TourInclusion: "inclusion",
}


def get_tour(session: Session, tour_id: str) -> Tour:
    tour = (
        session.scalar(select(Tour).where(Tour.id == tour_id)) if _ID.fullmatch(tour_id) else None
    )
    if tour is None:
        raise NotFound("tour", tour_id)
    return tour


def get_part(session: Session, model: type[M], tour_id: str, part_id: str) -> M:
    """A variant, tier, FAQ or inclusion of this tour (of another tour it does not exist)."""
    tour = get_tour(session, tour_id)
    part = None
    if _ID.fullmatch(part_id):
        part = session.scalar(select(model).where(model.id == part_id, model.tour_id == tour.id))
    if part is None:
        raise NotFound(ENTITY_NAMES[model], part_id)
    return part


def parts_of(session: Session, model: type[M], tour_id: str) -> Select[Any]:
    tour = get_tour(session, tour_id)
    return select(model).where(model.tour_id == tour.id)


def part_order(model: type[M]) -> list[InstrumentedAttribute[Any]]:
    return [model.sort_order, model.id]


def tours_query(
    session: Session,
    *,
    status: str | None = None,
    q: str | None = None,
    destination: str | None = None,
    style: str | None = None,
) -> Select[Any]:
    stmt = select(Tour)
    if status:
        stmt = stmt.where(Tour.status == status)
    if q:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", q) + "%"
        stmt = stmt.where(
            or_(Tour.name.ilike(pattern, escape="\\"), Tour.slug.ilike(pattern, escape="\\"))
        )
    if destination:
        stmt = stmt.where(json_array_has(session, Tour.destinations, destination.upper()))
    if style:
        stmt = stmt.where(json_array_has(session, Tour.styles, style.lower()))
    return stmt


def json_array_has(
    session: Session, column: InstrumentedAttribute[Any], value: str
) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(column, JSONB).contains([value])
    items = func.json_each(column).table_valued("value").alias()
    return exists(select(1).select_from(items).where(items.c.value == value))


def tour_detail(session: Session, tour_id: str) -> dict[str, Any]:
    tour = get_tour(session, tour_id)
    return {
        **columns_of(tour),
        "variants": _ordered(session, Variant, tour.id),
        "pricing_tiers": _ordered(session, PricingTier, tour.id),
        "faqs": _ordered(session, TourFaq, tour.id),
        "inclusions": _ordered(session, TourInclusion, tour.id),
    }


def columns_of(obj: Any) -> dict[str, Any]:
    return {col.key: getattr(obj, col.key) for col in inspect(obj).mapper.column_attrs}


def _ordered(session: Session, model: type[M], tour_id: str, *where: Any) -> list[M]:
    stmt = select(model).where(model.tour_id == tour_id, *where).order_by(*part_order(model))
    return list(session.scalars(stmt))


# --- the public feed; the caller has scoped the session to the organization named by slug


def public_tours(
    session: Session, *, dest: str | None, style: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    stmt = tours_query(session, status="active", destination=dest, style=style)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    tours = list(session.scalars(stmt.order_by(Tour.name, Tour.id).limit(limit).offset(offset)))
    prices = from_prices(session, [t.id for t in tours])
    return [{**columns_of(t), "from_price": prices.get(t.id)} for t in tours], total


def public_tour(session: Session, slug: str) -> dict[str, Any]:
    tour = None
    if len(slug) <= 120 and "\x00" not in slug:
        tour = session.scalar(select(Tour).where(Tour.slug == slug, Tour.status == "active"))
    if tour is None:
        raise NotFound("tour", slug)
    tiers = _current_tiers(session, [tour.id])
    return {
        **columns_of(tour),
        "from_price": _lowest(tiers),
        "variants": _ordered(session, Variant, tour.id, Variant.status == "active"),
        "pricing_tiers": tiers,
        "faqs": _ordered(session, TourFaq, tour.id, TourFaq.is_published.is_(True)),
        "inclusions": _ordered(session, TourInclusion, tour.id),
    }


def from_prices(session: Session, tour_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each tour's "from" price: its lowest default tier, or its lowest tier if none is
    default. Tiers that have expired do not count."""
    by_tour: dict[str, list[PricingTier]] = {}
    for tier in _current_tiers(session, tour_ids):
        by_tour.setdefault(tier.tour_id, []).append(tier)
    return {
        tour_id: price
        for tour_id, tiers in by_tour.items()
        if (price := _lowest(tiers)) is not None
    }


def _current_tiers(session: Session, tour_ids: Sequence[str]) -> list[PricingTier]:
    if not tour_ids:
        return []
    # UTC's date, not each tour's local one: a day's slack is harmless for an advertised price.
    today: date = utcnow().date()
    stmt = (
        select(PricingTier)
        .where(
            PricingTier.tour_id.in_(tour_ids),
            or_(PricingTier.valid_until.is_(None), PricingTier.valid_until >= today),
        )
        .order_by(*part_order(PricingTier))
    )
    return list(session.scalars(stmt))


def _lowest(tiers: Iterable[PricingTier]) -> dict[str, Any] | None:
    tiers = list(tiers)
    pool = [t for t in tiers if t.is_default] or tiers
    if not pool:
        return None
    best = min(pool, key=lambda t: (t.amount, t.sort_order))
    return {"amount": best.amount, "currency": best.currency}
