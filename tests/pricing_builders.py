"""Pricing rows for booking tests, made straight with the ORM (their CRUD API has its own
tests); bookings and quotes always go through the API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from tos.db.session import SessionFactory
from tos.identity.models import Organization
from tos.pricing.models import PricingRule, PromotionalCode, SeasonalPricing


def make_promo(db: SessionFactory, org_id: str, **kw: Any) -> PromotionalCode:
    now = dt.datetime.now(dt.UTC)
    values = {
        "code": f"P{uuid.uuid4().hex[:8].upper()}", "discount_type": "percentage",
        "discount_value": 1000, "currency": "EUR", "valid_from": now - dt.timedelta(days=1),
        "valid_until": now + dt.timedelta(days=365), "status": "active",
    } | kw  # fmt: skip
    with db(write=True, organization_id=org_id) as session:
        promo = PromotionalCode(**values)
        session.add(promo)
        session.commit()
        session.refresh(promo)
        session.expunge(promo)
        return promo


def make_season(db: SessionFactory, org_id: str, tour_id: str, **kw: Any) -> str:
    today = dt.date.today()
    values = {
        "name": "Peak", "start_date": today, "end_date": today + dt.timedelta(days=400),
        "adjustment_type": "percentage", "adjustment_value": 2000, "priority": 0,
    } | kw  # fmt: skip
    with db(write=True, organization_id=org_id) as session:
        season = SeasonalPricing(tour_id=tour_id, **values)
        session.add(season)
        session.commit()
        return season.id


def make_rule(db: SessionFactory, org_id: str, kind: str, **kw: Any) -> str:
    values = {"name": kind, "discount_type": "percentage", "discount_value": 1000} | kw
    with db(write=True, organization_id=org_id) as session:
        rule = PricingRule(kind=kind, **values)
        session.add(rule)
        session.commit()
        return rule.id


def set_org_settings(db: SessionFactory, org_id: str, **settings: Any) -> None:
    with db(write=True, organization_id=org_id) as session:
        org = session.scalar(select(Organization).where(Organization.id == org_id))
        assert org is not None
        org.settings = {**(org.settings or {}), **settings}
        session.commit()


def promo_uses(db: SessionFactory, org_id: str, promo_id: str) -> int:
    with db(write=False, organization_id=org_id) as session:
        return session.scalar(
            select(PromotionalCode.current_uses).where(PromotionalCode.id == promo_id)
        )
