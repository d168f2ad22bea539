"""A tour's parts: variants, pricing tiers, FAQs and inclusions. Create, change, delete."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tos.audit import changes
from tos.catalog.models import PricingTier, Tour, TourFaq, TourInclusion, Variant
from tos.catalog.patterns import misfit
from tos.catalog.queries import ENTITY_NAMES, get_part, get_tour
from tos.catalog.schemas import (
    FaqIn,
    FaqPatch,
    InclusionIn,
    InclusionPatch,
    PricingTierIn,
    PricingTierPatch,
    VariantIn,
    VariantPatch,
)
from tos.core.errors import Conflict, ValidationFailed
from tos.identity.actors import Actor
from tos.inventory.models import Schedule

M = TypeVar("M", Variant, PricingTier, TourFaq, TourInclusion)

ACTIONS: dict[type[Any], str] = {
    Variant: "variant",
    PricingTier: "pricing_tier",
    TourFaq: "faq",
    TourInclusion: "inclusion",
}


# --- variants


def create_variant(session: Session, actor: Actor, tour_id: str, *, data: VariantIn) -> Variant:
    tour = get_tour(session, tour_id)
    pattern = data.availability_pattern.stored()
    _ensure_pattern_fits(tour, pattern)
    fields = data.model_dump(mode="json", exclude={"availability_pattern"})
    return _add(session, actor, Variant(tour_id=tour.id, availability_pattern=pattern, **fields))


def update_variant(
    session: Session, actor: Actor, tour_id: str, variant_id: str, *, changes: VariantPatch
) -> Variant:
    variant = get_part(session, Variant, tour_id, variant_id)
    fields = changes.model_dump(mode="json", exclude_unset=True, exclude={"availability_pattern"})
    if changes.availability_pattern is not None:
        pattern = changes.availability_pattern.stored()
        _ensure_pattern_fits(get_tour(session, tour_id), pattern)
        fields["availability_pattern"] = pattern
    capacity = fields.get("capacity", variant.capacity)
    minimum = fields.get("min_participants", variant.min_participants)
    if capacity is not None and minimum is not None and minimum > capacity:
        raise ValidationFailed(
            f"min_participants ({minimum}) exceeds capacity ({capacity})",
            path=["min_participants" if "min_participants" in fields else "capacity"],
        )
    return _apply(session, actor, variant, fields)


def delete_variant(session: Session, actor: Actor, tour_id: str, variant_id: str) -> None:
    variant = get_part(session, Variant, tour_id, variant_id)
    schedules = session.scalar(
        select(func.count(Schedule.id)).where(Schedule.variant_id == variant.id)
    )
    if schedules:
        raise Conflict(
            f"the variant has {schedules} schedule(s) and cannot be deleted; set its status "
            "to inactive instead",
            details={"schedules": schedules, "variant_id": variant.id},
        )
    # The database would cascade these silently; deleting them here puts them on the trail.
    tiers = session.scalars(select(PricingTier).where(PricingTier.variant_id == variant.id))
    for tier in list(tiers):
        _remove(session, actor, tier)
    _remove(session, actor, variant)


def _ensure_pattern_fits(tour: Tour, pattern: dict[str, Any]) -> None:
    problem = misfit(pattern, tour.availability_type)
    if problem:
        field, reason = problem
        raise ValidationFailed(reason, path=["availability_pattern", field])


# --- pricing tiers


def create_tier(
    session: Session, actor: Actor, tour_id: str, *, data: PricingTierIn, default_currency: str
) -> PricingTier:
    tour = get_tour(session, tour_id)
    if data.variant_id is not None:
        _ensure_variant_of(session, tour, data.variant_id)
    fields = data.model_dump(exclude={"currency"})
    tier = PricingTier(tour_id=tour.id, currency=data.currency or default_currency, **fields)
    return _add(session, actor, tier)


def update_tier(
    session: Session, actor: Actor, tour_id: str, tier_id: str, *, changes: PricingTierPatch
) -> PricingTier:
    tier = get_part(session, PricingTier, tour_id, tier_id)
    fields = changes.model_dump(exclude_unset=True)
    if fields.get("variant_id") is not None:
        _ensure_variant_of(session, get_tour(session, tour_id), fields["variant_id"])
    _ensure_ordered(fields, tier, "age_min", "age_max")
    _ensure_ordered(fields, tier, "valid_from", "valid_until")
    return _apply(session, actor, tier, fields)


def _ensure_variant_of(session: Session, tour: Tour, variant_id: str) -> None:
    found = session.scalar(
        select(Variant.id).where(Variant.id == variant_id, Variant.tour_id == tour.id)
    )
    if found is None:
        raise ValidationFailed("not a variant of this tour", path=["variant_id"])


def _ensure_ordered(fields: dict[str, Any], obj: Any, low_name: str, high_name: str) -> None:
    low = fields.get(low_name, getattr(obj, low_name))
    high = fields.get(high_name, getattr(obj, high_name))
    if low is not None and high is not None and high < low:
        raise ValidationFailed(
            f"{high_name} ({high}) must not be before {low_name} ({low})",
            path=[high_name if high_name in fields else low_name],
        )


# --- FAQs and inclusions


def create_faq(session: Session, actor: Actor, tour_id: str, *, data: FaqIn) -> TourFaq:
    tour = get_tour(session, tour_id)
    return _add(session, actor, TourFaq(tour_id=tour.id, **data.model_dump()))


def update_faq(
    session: Session, actor: Actor, tour_id: str, faq_id: str, *, changes: FaqPatch
) -> TourFaq:
    faq = get_part(session, TourFaq, tour_id, faq_id)
    return _apply(session, actor, faq, changes.model_dump(exclude_unset=True))


def create_inclusion(
    session: Session, actor: Actor, tour_id: str, *, data: InclusionIn
) -> TourInclusion:
    tour = get_tour(session, tour_id)
    return _add(session, actor, TourInclusion(tour_id=tour.id, **data.model_dump()))


def update_inclusion(
    session: Session, actor: Actor, tour_id: str, inclusion_id: str, *, changes: InclusionPatch
) -> TourInclusion:
    inclusion = get_part(session, TourInclusion, tour_id, inclusion_id)
    return _apply(session, actor, inclusion, changes.model_dump(exclude_unset=True))


def delete_part(session: Session, actor: Actor, model: type[M], tour_id: str, part_id: str) -> None:
    """Delete a tier, FAQ or inclusion (variants have their own rules: delete_variant)."""
    _remove(session, actor, get_part(session, model, tour_id, part_id))


# --- shared steps: every change is audited with its before-image


def _add(session: Session, actor: Actor, obj: M) -> M:
    return changes.add(session, actor, obj, entity=ACTIONS[type(obj)])


def _apply(session: Session, actor: Actor, obj: M, fields: dict[str, Any]) -> M:
    return changes.apply(session, actor, obj, fields, entity=ACTIONS[type(obj)])


def _remove(session: Session, actor: Actor, obj: M) -> None:
    changes.delete(session, actor, obj, entity=ACTIONS[type(obj)], wording=ENTITY_NAMES[type(obj)])
