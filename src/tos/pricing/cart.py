"""Pricing a cart against the database: the departure's tiers, seasons and rules, the
organization's taxes and the promotional code, handed to the pure engine. Booking creation,
rebooking and POST /api/v1/pricing/quote all come through `price_cart`, so a quote is exactly
what the booking will store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tos.catalog.models import PricingTier
from tos.core.errors import ValidationFailed
from tos.core.money import MAX_AMOUNT
from tos.identity.organization import deposit_rule_of, taxes_of
from tos.inventory.models import Schedule
from tos.pricing import engine, promotions
from tos.pricing.models import PricingRule, PromotionalCode, SeasonalPricing
from tos.pricing.quote import Snapshot
from tos.pricing.tiers import applies


class LineItem(Protocol):
    """What a caller asks for: a tier line, or an unscheduled item with its own price."""

    @property
    def pricing_tier_id(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def quantity(self) -> int: ...
    @property
    def unit_amount(self) -> int | None: ...
    @property
    def participants(self) -> Sequence[Any]: ...


@dataclass(frozen=True, slots=True)
class PricedCart:
    snapshot: Snapshot
    promo: PromotionalCode | None  # to be redeemed with the booking
    deposit_required: int  # what confirming needs paid, by the organization's deposit rule


def price_cart(
    session: Session,
    *,
    org_currency: str,
    org_settings: Mapping[str, Any],
    schedule: Schedule | None,
    line_items: Sequence[LineItem],
    now: dt.datetime,
    promotional_code: str | None = None,
    customer_id: str | None = None,
    kept_promo: PromotionalCode | None = None,
    items_path: str = "line_items",
) -> PricedCart:
    """`kept_promo`: a code the booking already redeemed (rebooking): its terms apply again
    while it targets the departure, with no new use counted and no validity re-checked."""
    lines, currency = _lines(session, schedule, line_items, org_currency, items_path)
    tour_id = schedule.tour_id if schedule else None
    variant_id = schedule.variant_id if schedule else None
    promo: PromotionalCode | None = None
    if promotional_code is not None:
        promo = promotions.find_usable(
            session, promotional_code, tour_id=tour_id, variant_id=variant_id,
            customer_id=customer_id, now=now, path=["promotional_code"],
        )  # fmt: skip
    elif kept_promo is not None and promotions.targets(
        kept_promo, tour_id=tour_id, variant_id=variant_id
    ):
        promo = kept_promo
    departure, booked_on = None, None
    if schedule is not None:
        departure = schedule.date
        booked_on = now.astimezone(ZoneInfo(schedule.timezone)).date()
    try:
        snapshot = engine.price(
            currency=currency,
            lines=lines,
            departure_date=departure,
            booked_on=booked_on,
            tour_id=tour_id,
            seasons=_seasons(session, schedule) if schedule else (),
            rules=_rules(session, tour_id),
            promo=promotions.as_terms(promo) if promo is not None else None,
            taxes=[engine.Tax(t["name"], t["rate_bp"], t["inclusive"])
                   for t in taxes_of(org_settings)],
        )  # fmt: skip
    except engine.PromoNotApplicable as exc:
        if promotional_code is None:  # a kept code that no longer fits: simply not applied
            return price_cart(
                session, org_currency=org_currency, org_settings=org_settings,
                schedule=schedule, line_items=line_items, now=now, items_path=items_path,
            )  # fmt: skip
        raise promotions.invalid(exc.reason, str(exc), ["promotional_code"], **exc.details) from exc
    if snapshot.subtotal > MAX_AMOUNT:
        raise ValidationFailed(f"a booking may come to at most {MAX_AMOUNT}", path=[items_path])
    deposit = engine.deposit_for(snapshot.total, deposit_rule_of(org_settings))
    return PricedCart(snapshot, promo, deposit)


def _lines(
    session: Session,
    schedule: Schedule | None,
    items: Sequence[LineItem],
    org_currency: str,
    items_path: str,
) -> tuple[list[engine.LineIn], str]:
    tiers: dict[str, PricingTier] = {}
    if schedule is not None:
        tiers = {
            t.id: t
            for t in session.scalars(
                select(PricingTier).where(PricingTier.tour_id == schedule.tour_id)
            )
        }
    lines: list[engine.LineIn] = []
    currencies: set[str] = set()
    for i, li in enumerate(items):
        if li.pricing_tier_id is None:
            assert li.description is not None and li.unit_amount is not None
            lines.append(engine.LineIn("item", li.description, li.quantity, li.unit_amount))
            continue
        tier = tiers.get(li.pricing_tier_id)
        if (
            schedule is None
            or tier is None
            or not applies(tier, variant_id=schedule.variant_id, on=schedule.date)
        ):
            raise ValidationFailed(
                "this pricing tier does not apply to this departure",
                path=[items_path, i, "pricing_tier_id"],
            )
        currencies.add(tier.currency)
        lines.append(
            engine.LineIn(
                "scheduled", tier.name, li.quantity, tier.amount,
                pricing_tier_id=tier.id, unit_type=tier.unit_type,
                participants=[_plain(p) for p in li.participants],
            )
        )  # fmt: skip
    if len(currencies) > 1:
        raise ValidationFailed("all tiers of one booking must share a currency", path=[items_path])
    for i, line in enumerate(lines):
        if line.quantity * line.unit_amount > MAX_AMOUNT:
            raise ValidationFailed(f"a line may come to at most {MAX_AMOUNT}", path=[items_path, i])
    return lines, (currencies.pop() if currencies else org_currency)


def _plain(participant: Any) -> dict[str, Any]:
    return participant.model_dump() if hasattr(participant, "model_dump") else dict(participant)


def _seasons(session: Session, schedule: Schedule) -> list[engine.Season]:
    rows = session.scalars(
        select(SeasonalPricing).where(
            SeasonalPricing.tour_id == schedule.tour_id,
            SeasonalPricing.start_date <= schedule.date,
            SeasonalPricing.end_date >= schedule.date,
        )
    )
    return [season_terms(s) for s in rows]


def season_terms(s: SeasonalPricing) -> engine.Season:
    return engine.Season(
        s.name, s.start_date, s.end_date, s.adjustment_type, s.adjustment_value,
        priority=s.priority, order=(s.created_at, s.id), id=s.id,
    )  # fmt: skip


def _rules(session: Session, tour_id: str | None) -> list[engine.Rule]:
    stmt = select(PricingRule).where(PricingRule.active.is_(True))
    stmt = stmt.where(
        or_(PricingRule.tour_id.is_(None), PricingRule.tour_id == tour_id)
        if tour_id is not None
        else PricingRule.tour_id.is_(None)
    )
    return [
        engine.Rule(
            r.kind,
            r.name,
            r.discount_type,
            r.discount_value,
            currency=r.currency,
            min_participants=r.min_participants,
            min_days_before=r.min_days_before,
            tour_id=r.tour_id,
            id=r.id,
        )  # fmt: skip
        for r in session.scalars(stmt)
    ]
