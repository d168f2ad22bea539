"""Tours: create, change, delete. Their parts (variants, tiers, FAQs, inclusions): parts.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.catalog.models import Tour, Variant
from tos.catalog.patterns import misfit
from tos.catalog.policies import ensure_policy
from tos.catalog.queries import get_tour
from tos.catalog.schemas import TourIn, TourPatch
from tos.core.errors import Conflict, ValidationFailed
from tos.core.validation import slugify
from tos.identity.actors import Actor
from tos.inventory.models import Schedule

SLUG_MAX = 120


def create_tour(session: Session, actor: Actor, *, data: TourIn, default_timezone: str) -> Tour:
    fields = data.model_dump(mode="json", exclude={"slug", "timezone"})
    if data.slug is not None:
        _ensure_slug_free(session, data.slug)
        slug = data.slug
    else:
        slug = _free_slug(session, slugify(data.name))
    ensure_policy(session, data.cancellation_policy_id)
    tour = Tour(**fields, slug=slug, timezone=data.timezone or default_timezone)
    session.add(tour)
    _flush_slug(session, slug)
    record(session, actor, "tour.created", tour)
    return tour


def update_tour(session: Session, actor: Actor, tour_id: str, *, changes: TourPatch) -> Tour:
    tour = get_tour(session, tour_id)
    fields = _changed(tour, changes.model_dump(mode="json", exclude_unset=True))
    if not fields:
        return tour
    if "slug" in fields:
        _ensure_slug_free(session, fields["slug"])
    capacity = fields.get("capacity", tour.capacity)
    minimum = fields.get("min_participants", tour.min_participants)
    if capacity is not None and minimum > capacity:
        raise ValidationFailed(
            f"min_participants ({minimum}) exceeds capacity ({capacity})",
            path=["min_participants" if "min_participants" in fields else "capacity"],
        )
    if "availability_type" in fields:
        _ensure_variants_fit(session, tour, fields["availability_type"])
    if "cancellation_policy_id" in fields:
        ensure_policy(session, fields["cancellation_policy_id"])
    before = snapshot(tour)
    for name, value in fields.items():
        setattr(tour, name, value)
    _flush_slug(session, tour.slug)
    record(session, actor, "tour.updated", tour, before=before)
    return tour


def delete_tour(session: Session, actor: Actor, tour_id: str) -> None:
    tour = get_tour(session, tour_id)
    schedules = session.scalar(select(func.count(Schedule.id)).where(Schedule.tour_id == tour.id))
    if schedules:
        raise Conflict(
            f"the tour has {schedules} schedule(s) and cannot be deleted; archive it instead "
            "(PATCH status=archived)",
            details={"schedules": schedules, "tour_id": tour.id},
        )
    before = snapshot(tour)
    session.delete(tour)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "the tour is referenced by other records; archive it instead",
            details={"tour_id": tour.id},
        ) from None
    record(session, actor, "tour.deleted", tour, before=before, after=None)


def _changed(obj: Any, fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if getattr(obj, name) != value}


def _ensure_slug_free(session: Session, slug: str) -> None:
    if session.scalar(select(Tour.id).where(Tour.slug == slug)):
        raise Conflict(f"a tour with slug {slug!r} exists", details={"slug": slug})


def _free_slug(session: Session, base: str) -> str:
    """`base`, or `base-2`, `base-3`… whichever is free in this organization."""
    base = base[: SLUG_MAX - 4].rstrip("-") or "tour"
    taken = set(
        session.scalars(
            select(Tour.slug).where(or_(Tour.slug == base, Tour.slug.like(f"{base}-%")))
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _flush_slug(session: Session, slug: str) -> None:
    # The unique constraint settles races between two writers choosing the same slug.
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a tour with slug {slug!r} exists", details={"slug": slug}) from None


def _ensure_variants_fit(session: Session, tour: Tour, availability_type: str) -> None:
    variants = session.scalars(select(Variant).where(Variant.tour_id == tour.id))
    misfits = [v.name for v in variants if misfit(v.availability_pattern or {}, availability_type)]
    if misfits:
        raise ValidationFailed(
            f"cannot become {availability_type}: the availability patterns of "
            f"{', '.join(misfits)} use the other kind of times; change them first",
            path=["availability_type"],
        )
