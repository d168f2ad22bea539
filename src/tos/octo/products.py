"""OCTO products from the catalog: products are active tours, options their active variants,
units the pricing tiers that apply to a variant (by their unit_type). Loaded in one statement
per kind of row, whatever the number of tours."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tos.catalog.models import PricingTier, Tour, TourFaq, TourInclusion, Variant
from tos.octo.content import option_content, product_content, unit_content
from tos.octo.errors import InvalidOptionId, InvalidProductId
from tos.octo.pricing import NetTerms, price, unit_net
from tos.pricing.engine import Tax

ID = re.compile(r"[0-9A-Za-z-]{1,36}")


@dataclass
class ProductData:
    tour: Tour
    variants: list[Variant] = field(default_factory=list)
    tiers: list[PricingTier] = field(default_factory=list)
    faqs: list[TourFaq] = field(default_factory=list)
    inclusions: list[TourInclusion] = field(default_factory=list)

    def units_of(self, variant_id: str) -> list[PricingTier]:
        return [t for t in self.tiers if t.variant_id in (None, variant_id)]


def load_products(
    session: Session, *, product_id: str | None = None, content: bool = False,
    today: dt.date | None = None,
) -> list[ProductData]:  # fmt: skip
    """Active tours with their active variants and the tiers still valid from `today` on."""
    stmt = select(Tour).where(Tour.status == "active").order_by(Tour.name, Tour.id)
    if product_id is not None:
        if not ID.fullmatch(product_id):
            return []
        stmt = stmt.where(Tour.id == product_id)
    products = {t.id: ProductData(t) for t in session.scalars(stmt)}
    if not products:
        return []
    ids = list(products)
    for v in session.scalars(
        select(Variant)
        .where(Variant.tour_id.in_(ids), Variant.status == "active")
        .order_by(Variant.sort_order, Variant.name, Variant.id)
    ):
        products[v.tour_id].variants.append(v)
    tiers = select(PricingTier).where(PricingTier.tour_id.in_(ids))
    if today is not None:
        tiers = tiers.where(
            or_(PricingTier.valid_until.is_(None), PricingTier.valid_until >= today)
        )
    for t in session.scalars(tiers.order_by(PricingTier.sort_order, PricingTier.name)):
        products[t.tour_id].tiers.append(t)
    if content:
        by_tour: dict[str, list[Any]] = defaultdict(list)
        faqs = select(TourFaq).where(TourFaq.tour_id.in_(ids), TourFaq.is_published.is_(True))
        for f in session.scalars(faqs.order_by(TourFaq.sort_order, TourFaq.id)):
            products[f.tour_id].faqs.append(f)
        incl = select(TourInclusion).where(TourInclusion.tour_id.in_(ids))
        for i in session.scalars(incl.order_by(TourInclusion.sort_order, TourInclusion.id)):
            by_tour[i.tour_id].append(i)
        for tour_id, items in by_tour.items():
            products[tour_id].inclusions = items
    return list(products.values())


def get_product(session: Session, product_id: str, *, content: bool, today: dt.date) -> ProductData:
    found = load_products(session, product_id=product_id, content=content, today=today)
    if not found:
        raise InvalidProductId(value=product_id)
    return found[0]


def option_of(product: ProductData, option_id: str | None) -> Variant:
    for variant in product.variants:
        if variant.id == option_id:
            return variant
    raise InvalidOptionId(value=option_id)


# --- OCTO JSON


@dataclass(frozen=True, slots=True)
class Shape:
    """What a response carries besides Core: the request's capabilities, and for pricing the
    reseller's terms and the organization's taxes."""

    content: bool = False
    pricing: bool = False
    terms: NetTerms | None = None
    taxes: tuple[Tax, ...] = ()


def availability_type(tour: Tour) -> str:
    return "OPENING_HOURS" if tour.availability_type == "opening_hours" else "START_TIME"


def _start_times(tour: Tour, variant: Variant) -> list[str]:
    if tour.availability_type == "opening_hours":
        return ["00:00"]  # OCTO's convention: one availability per day
    return sorted(set((variant.availability_pattern or {}).get("start_times") or []))


def unit_json(tier: PricingTier, shape: Shape) -> dict[str, Any]:
    unit: dict[str, Any] = {
        "id": tier.id,
        "internalName": tier.name,
        "reference": None,
        "type": tier.unit_type,
        "restrictions": {
            "minAge": tier.age_min if tier.age_min is not None else 0,
            "maxAge": tier.age_max if tier.age_max is not None else 100,
            "idRequired": False,
            "minQuantity": None,
            "maxQuantity": None,
            "paxCount": 1,  # every unit takes one seat, as every TOS tier line does
            "accompaniedBy": [],
        },
        "requiredContactFields": [],
    }
    if shape.content:
        unit |= unit_content(tier)
    if shape.pricing and shape.terms is not None:
        tier_price = price(tier.amount, unit_net(tier.amount, tier.id, shape.terms),
                           tier.currency, shape.taxes)  # fmt: skip
        unit |= {"pricingFrom": [tier_price], "pricing": [tier_price]}
    return unit


def option_json(product: ProductData, variant: Variant, shape: Shape) -> dict[str, Any]:
    tour = product.tour
    option: dict[str, Any] = {
        "id": variant.id,
        "default": variant is product.variants[0],
        "internalName": variant.name,
        "reference": None,
        "availabilityLocalStartTimes": _start_times(tour, variant),
        # TOS takes cancellations up to the start; the tour's policy decides the refund.
        "cancellationCutoff": "0 hours",
        "cancellationCutoffAmount": 0,
        "cancellationCutoffUnit": "hour",
        "requiredContactFields": [],
        "restrictions": {"minUnits": None, "maxUnits": None},
        "units": [unit_json(t, shape) for t in product.units_of(variant.id)],
    }
    if shape.content:
        option |= option_content(tour, variant)
    return option


def product_json(product: ProductData, shape: Shape) -> dict[str, Any]:
    tour = product.tour
    body: dict[str, Any] = {
        "id": tour.id,
        "internalName": tour.name,
        "reference": tour.slug,
        "locale": "en",
        "timeZone": tour.timezone,
        "allowFreesale": tour.capacity is None,
        "instantConfirmation": True,
        "instantDelivery": True,
        "availabilityRequired": True,
        "availabilityType": availability_type(tour),
        "deliveryFormats": ["QRCODE"],
        "deliveryMethods": ["VOUCHER"],
        # Guests are checked in on the departure's manifest by their booking reference.
        "redemptionMethod": "MANIFEST",
        "options": [option_json(product, v, shape) for v in product.variants],
    }
    if shape.content:
        body |= product_content(tour, product.faqs, product.inclusions)
    if shape.pricing:
        currencies = sorted({t.currency for t in product.tiers})
        body |= {
            "defaultCurrency": currencies[0] if currencies else None,
            "availableCurrencies": currencies,
            "pricingPer": "UNIT",
        }
        if body["defaultCurrency"] is None:
            del body["defaultCurrency"]  # optional, and not nullable: a tour without tiers
    return body
