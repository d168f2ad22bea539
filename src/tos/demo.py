"""`tos demo`: the demo organization, loaded idempotently through the same services as the API.

Two tours in different timezones — a start-time walking tour in Lisbon and an opening-hours
museum pass in Bangkok — with variants, tiers, FAQs, inclusions, a season of schedules from
their weekly patterns (generation skips what exists, so a re-run adds only new days), a guide on
the next departures, and a fresh owner API key printed on every run. The two tours are the two
OCTO availability types (START_TIME, OPENING_HOURS); a reseller, "Demo OTA" (15 % commission),
gets a fresh OCTO key on every run too, printed to stderr, so a reseller can try /octo at once.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from sqlalchemy import select

from tos.catalog import parts
from tos.catalog import service as catalog
from tos.catalog.models import PricingTier, Tour, Variant
from tos.catalog.schemas import FaqIn, InclusionIn, PricingTierIn, TourIn, VariantIn
from tos.core.clock import utcnow
from tos.db import tenancy
from tos.db.session import transaction
from tos.identity import service as identity
from tos.identity.actors import Actor
from tos.identity.models import Organization, User
from tos.inventory import service as inventory
from tos.inventory.models import Schedule
from tos.octo import resellers
from tos.octo.models import Reseller
from tos.operations import service as operations
from tos.operations.models import Guide
from tos.pricing import service as pricing
from tos.pricing.models import PromotionalCode
from tos.pricing.schemas import PromoIn

SLUG = "demo"
SEASON_DAYS = 120

TOURS: list[dict[str, Any]] = [
    {
        "tour": {
            "name": "Alfama & Fado Walking Tour",
            "slug": "alfama-fado-walk",
            "short_description": "Lisbon's oldest quarter, its viewpoints and its music.",
            "full_description": "Three hours through Alfama's alleys with a local guide, "
            "ending with a fado tasting.",
            "duration_minutes": 180,
            "capacity": 14,
            "min_participants": 2,
            "meeting_point": {
                "name": "Largo do Chafariz de Dentro",
                "address": "1100-139 Lisboa",
                "latitude": 38.7114,
                "longitude": -9.1283,
                "instructions": "Look for the yellow umbrella.",
            },
            "category": "walking",
            "tags": ["history", "music"],
            "destinations": ["PT"],
            "styles": ["culture", "small-group"],
            "languages": ["en", "pt"],
            "highlights": ["Miradouro de Santa Luzia", "Fado tasting"],
            "status": "active",
            "timezone": "Europe/Lisbon",
            "availability_type": "start_time",
        },
        "variants": [
            {
                "name": "Morning",
                "availability_pattern": {
                    "type": "recurring",
                    "days_of_week": [1, 2, 3, 4, 5, 6],
                    "start_times": ["09:30"],
                },
            },
            {
                "name": "Sunset",
                "availability_pattern": {
                    "type": "recurring",
                    "days_of_week": [0, 5, 6],
                    "start_times": ["18:00"],
                },
            },
        ],
        "tiers": [
            {
                "name": "Adult",
                "amount": 3500,
                "currency": "EUR",
                "unit_type": "ADULT",
                "is_default": True,
            },
            {
                "name": "Child (6-12)",
                "amount": 1800,
                "currency": "EUR",
                "unit_type": "CHILD",
                "age_min": 6,
                "age_max": 12,
                "sort_order": 1,
            },
        ],
        "faqs": [
            {
                "question": "Is it suitable for children?",
                "answer": "Yes, from 6 years; there are many steps.",
            }
        ],
        "inclusions": [
            {"type": "inclusion", "text": "Fado tasting with a glass of port"},
            {"type": "exclusion", "text": "Hotel pick-up"},
        ],
    },
    {
        "tour": {
            "name": "Bangkok Heritage Museum Pass",
            "slug": "bangkok-museum-pass",
            "short_description": "Skip-the-line entry to the heritage museum, any time it is open.",
            "duration_minutes": 480,
            "capacity": 200,
            "meeting_point": {
                "name": "Museum main gate",
                "address": "Na Phra That Alley, Bangkok",
                "latitude": 13.7576,
                "longitude": 100.4916,
            },
            "category": "cultural",
            "destinations": ["TH"],
            "styles": ["culture", "self-guided"],
            "languages": ["en", "th"],
            "status": "active",
            "timezone": "Asia/Bangkok",
            "availability_type": "opening_hours",
        },
        "variants": [
            {
                "name": "Day entry",
                "availability_pattern": {
                    "type": "recurring",
                    "days_of_week": [0, 2, 3, 4, 5, 6],
                    "opening_hours": [{"open": "09:00", "close": "17:00"}],
                },
            },
        ],
        "tiers": [
            {
                "name": "Adult",
                "amount": 50000,
                "currency": "THB",
                "unit_type": "ADULT",
                "is_default": True,
            },
            {
                "name": "Student",
                "amount": 25000,
                "currency": "THB",
                "unit_type": "STUDENT",
                "sort_order": 1,
            },
        ],
        "faqs": [{"question": "Can I re-enter?", "answer": "Yes, on the same day."}],
        "inclusions": [{"type": "inclusion", "text": "Audio guide"}],
    },
]


def load_demo() -> str:
    """Create or top up the demo organization; return a new owner API key."""
    with transaction(unscoped=True) as session:
        org = session.scalar(select(Organization).where(Organization.slug == SLUG))
        system = Actor(type="system", id=None, organization_id=None, name="demo")
        if org is None:
            org = identity.create_organization(
                session,
                system,
                slug=SLUG,
                name="Demo Tours",
                timezone="Europe/Lisbon",
                currency="EUR",
            )
        tenancy.set_scope(session, org.id)
        actor = Actor(type="system", id=None, organization_id=org.id, name="demo")
        owner = session.scalar(select(User).where(User.email == "owner@demo.tos.invalid"))
        if owner is None:
            owner = identity.create_user(
                session, actor, email="owner@demo.tos.invalid", name="Demo Owner", role="owner"
            )
        guide = _guide(session, actor)
        today = dt.date.today()
        for spec in TOURS:
            tour = _tour(session, actor, org, spec)
            variant_ids = session.scalars(select(Variant.id).where(Variant.tour_id == tour.id))
            for variant_id in variant_ids:
                inventory.generate_schedules(
                    session,
                    actor,
                    variant_id,
                    date_from=today,
                    date_to=today + dt.timedelta(days=SEASON_DAYS),
                )
        _assign_next_departures(session, actor, guide)
        _pricing(session, actor, org)
        _, token = identity.create_api_key(session, actor, user_id=owner.id, name="demo")
        reseller_token = _reseller_key(session, actor)
        website_key = _website_key(session, actor)
    print(
        "OCTO reseller 'Demo OTA': a new API key (Authorization: Bearer …, reaches /octo only):\n"
        f"{reseller_token}\n"
        "Seed 002 source website 'demo-site': a new X-API-Key for POST /api/bookings/sync "
        "(package 'Alfama Morning' takes seats on the Alfama walk's Morning departures):\n"
        f"{website_key}",
        file=sys.stderr,
    )
    return token


def _website_key(session, actor: Actor) -> str:
    """The demo source website (made once, its package mapped) and a new key for it; the old
    key stops working at once."""
    from tos.channels import websites
    from tos.channels.models import Website

    website = session.scalar(select(Website).where(Website.slug == "demo-site"))
    if website is None:
        website = websites.register(session, actor, slug="demo-site", name="Demo Site",
                                    domain="demo-site.example").website  # fmt: skip
        variant = session.scalar(select(Variant).join(Tour, Tour.id == Variant.tour_id).where(
            Tour.slug == "alfama-fado-walk", Variant.name == "Morning"))  # fmt: skip
        tier = session.scalar(select(PricingTier).where(
            PricingTier.tour_id == variant.tour_id, PricingTier.name == "Adult"))  # fmt: skip
        websites.set_package_mapping(session, actor, website, package_name="Alfama Morning",
                                     variant_id=variant.id, pricing_tier_id=tier.id)  # fmt: skip
    return websites.rotate_key(session, actor, website, grace_hours=0).api_key


def _reseller_key(session, actor: Actor) -> str:
    """The demo reseller (made once, with one `reseller` user) and a new key for its user."""
    reseller = session.scalar(select(Reseller).where(Reseller.name == "Demo OTA"))
    if reseller is None:
        reseller = resellers.create_reseller(session, actor, {
            "name": "Demo OTA", "contact_email": "partners@demo-ota.example",
            "commission_bps": 1500,
        })  # fmt: skip
    users = resellers.reseller_users(session, reseller.id)
    if not users:
        return resellers.add_user_with_key(session, actor, reseller.id, name="Demo OTA")[2]
    return resellers.add_key(session, actor, reseller.id, users[0].id, name="demo")[1]


def _pricing(session, actor: Actor, org: Organization) -> None:
    """Portuguese VAT inside the prices, a 30 % deposit, and a welcome code (once)."""
    if not (org.settings or {}).get("taxes"):
        org.settings = {
            **(org.settings or {}),
            "taxes": [{"name": "IVA", "rate_bp": 600, "inclusive": True}],
            "deposit": {"type": "percentage", "value": 3000},
        }
    if session.scalar(select(PromotionalCode.id).where(PromotionalCode.code == "WELCOME10")):
        return
    now = utcnow()
    pricing.create_promo(
        session, actor, default_currency=org.currency,
        data=PromoIn(code="WELCOME10", description="10 % off a first booking",
                     discount_type="percentage", discount_value=1000, max_uses_per_customer=1,
                     valid_from=now, valid_until=now + dt.timedelta(days=365)),
    )  # fmt: skip


def _tour(session, actor: Actor, org: Organization, spec: dict[str, Any]) -> Tour:
    existing = session.scalar(select(Tour).where(Tour.slug == spec["tour"]["slug"]))
    if existing is not None:
        return existing
    tour = catalog.create_tour(
        session, actor, data=TourIn(**spec["tour"]), default_timezone=org.timezone
    )
    for variant in spec["variants"]:
        parts.create_variant(session, actor, tour.id, data=VariantIn(**variant))
    for tier in spec["tiers"]:
        parts.create_tier(
            session, actor, tour.id, data=PricingTierIn(**tier), default_currency=org.currency
        )
    for faq in spec["faqs"]:
        parts.create_faq(session, actor, tour.id, data=FaqIn(**faq))
    for inclusion in spec["inclusions"]:
        parts.create_inclusion(session, actor, tour.id, data=InclusionIn(**inclusion))
    return tour


def _guide(session, actor: Actor) -> Guide:
    guide = session.scalar(select(Guide).where(Guide.email == "rita@demo.tos.invalid"))
    if guide is None:
        guide = operations.create_guide(
            session,
            actor,
            first_name="Rita",
            last_name="Moreira",
            email="rita@demo.tos.invalid",
            phone="+351912345678",
            languages=["pt", "en"],
        )
    return guide


def _assign_next_departures(session, actor: Actor, guide: Guide) -> None:
    walk = session.scalar(select(Tour.id).where(Tour.slug == "alfama-fado-walk"))
    upcoming = session.execute(
        select(Schedule.id, Schedule.assigned_guide_id)
        .where(Schedule.tour_id == walk, Schedule.starts_at > utcnow())
        .order_by(Schedule.starts_at)
        .limit(10)
    ).all()
    for schedule_id, assigned in upcoming:
        if assigned is None:
            inventory.update_schedule(session, actor, schedule_id, assigned_guide_id=guide.id)
