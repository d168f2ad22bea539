from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin

TOUR_STATUSES = ("draft", "active", "archived")
AVAILABILITY_TYPES = ("start_time", "opening_hours")
UNIT_TYPES = ("ADULT", "CHILD", "YOUTH", "INFANT", "SENIOR", "STUDENT", "FAMILY", "OTHER")


class Tour(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "tours"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        Index("ix_tours_org_status", "organization_id", "status"),
        CheckConstraint("status IN ('draft', 'active', 'archived')", name="status"),
        CheckConstraint(
            "availability_type IN ('start_time', 'opening_hours')", name="availability_type"
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(120))
    short_description: Mapped[str] = mapped_column(Text, default="")
    full_description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int]
    capacity: Mapped[int | None]
    min_participants: Mapped[int] = mapped_column(default=1)
    meeting_point: Mapped[dict[str, Any] | None] = mapped_column()
    end_point: Mapped[dict[str, Any] | None] = mapped_column()
    category: Mapped[str] = mapped_column(String(40), default="custom")
    tags: Mapped[list[str]] = mapped_column(default=list)
    destinations: Mapped[list[str]] = mapped_column(default=list)
    styles: Mapped[list[str]] = mapped_column(default=list)
    highlights: Mapped[list[str]] = mapped_column(default=list)
    languages: Mapped[list[str]] = mapped_column(default=list)
    cover_image: Mapped[str | None] = mapped_column(String(1000))
    gallery: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    timezone: Mapped[str] = mapped_column(String(64))
    availability_type: Mapped[str] = mapped_column(String(16), default="start_time")
    meta_title: Mapped[str | None] = mapped_column(String(200))
    meta_description: Mapped[str | None] = mapped_column(String(500))
    # Bumped in the same transaction as anything that changes what availability shows (seats,
    # schedules, variants, tiers): cached availability answers are valid for one version only.
    # Seed 003: the policy a cancellation's refund follows; None = the organization's default.
    cancellation_policy_id: Mapped[str | None] = mapped_column(
        ForeignKey("cancellation_policies.id", ondelete="SET NULL")
    )
    inventory_version: Mapped[int] = mapped_column(default=0, server_default="0")


class Variant(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "tour_variants"

    tour_id: Mapped[str] = mapped_column(ForeignKey("tours.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    duration_minutes: Mapped[int | None]
    capacity: Mapped[int | None]
    min_participants: Mapped[int | None]
    # Seed 003's AvailabilityPattern, snake_case: type, days_of_week (0 = Sunday), start_times,
    # opening_hours [{open, close}], valid_from, valid_until, excluded_dates.
    availability_pattern: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")
    sort_order: Mapped[int] = mapped_column(default=0)


class PricingTier(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "pricing_tiers"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    tour_id: Mapped[str] = mapped_column(ForeignKey("tours.id", ondelete="CASCADE"), index=True)
    # None: the tier applies to every variant of the tour.
    variant_id: Mapped[str | None] = mapped_column(
        ForeignKey("tour_variants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    unit_type: Mapped[str] = mapped_column(String(16), default="ADULT")
    age_min: Mapped[int | None]
    age_max: Mapped[int | None]
    valid_from: Mapped[date | None]
    valid_until: Mapped[date | None]
    sort_order: Mapped[int] = mapped_column(default=0)
    is_default: Mapped[bool] = mapped_column(default=False)


class TourFaq(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "tour_faqs"

    tour_id: Mapped[str] = mapped_column(ForeignKey("tours.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(default=0)
    is_published: Mapped[bool] = mapped_column(default=True)


class TourInclusion(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "tour_inclusions"
    __table_args__ = (CheckConstraint("type IN ('inclusion', 'exclusion')", name="type"),)

    tour_id: Mapped[str] = mapped_column(ForeignKey("tours.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    icon: Mapped[str | None] = mapped_column(String(64))
    sort_order: Mapped[int] = mapped_column(default=0)


class CancellationPolicy(IdMixin, TimestampMixin, TenantOwned, Base):
    """Seed 003's named policy: rules [{hours_before_tour, refund_bps}]; the rule with the
    largest hours_before_tour that the cancellation still meets gives the refund rate."""

    __tablename__ = "cancellation_policies"

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    is_default: Mapped[bool] = mapped_column(default=False)
