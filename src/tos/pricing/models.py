"""Seed 003's pricing rules: seasonal adjustments per tour, promotional codes with their
redemptions, and automatic group and early-bird rules. Percentages are basis points
(1250 = 12.5 %); fixed amounts are minor units of `currency`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tos.core.clock import utcnow
from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin


class SeasonalPricing(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "seasonal_pricing"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="date_range"),
        CheckConstraint("adjustment_type IN ('percentage', 'fixed')", name="adjustment_type"),
        Index("ix_seasonal_pricing_tour_dates", "tour_id", "start_date", "end_date"),
    )

    tour_id: Mapped[str] = mapped_column(ForeignKey("tours.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # Inclusive local dates in the tour's timezone.
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    adjustment_type: Mapped[str] = mapped_column(String(16))
    # Signed: +2000 is +20 % (percentage) or +20.00 per unit (fixed, in the tier's currency).
    adjustment_value: Mapped[int] = mapped_column(BigInteger)
    priority: Mapped[int] = mapped_column(default=0)  # higher wins


class PromotionalCode(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "promotional_codes"
    __table_args__ = (
        UniqueConstraint("organization_id", "code"),
        CheckConstraint("valid_until > valid_from", name="validity"),
        CheckConstraint("discount_type IN ('percentage', 'fixed')", name="discount_type"),
        CheckConstraint("status IN ('active', 'inactive', 'expired')", name="status"),
        # The redemption guard's backstop: a limited code is never used beyond its limit.
        CheckConstraint(
            "current_uses >= 0 AND (max_uses IS NULL OR current_uses <= max_uses)",
            name="uses_within_limit",
        ),
    )

    code: Mapped[str] = mapped_column(String(64))  # stored upper-case; matched case-insensitively
    description: Mapped[str | None] = mapped_column(String(300))
    discount_type: Mapped[str] = mapped_column(String(16))
    discount_value: Mapped[int] = mapped_column(BigInteger)
    # The currency of a fixed discount and of min_booking_amount; a booking in another
    # currency cannot use the code.
    currency: Mapped[str | None] = mapped_column(String(3))
    min_booking_amount: Mapped[int | None] = mapped_column(BigInteger)
    max_uses: Mapped[int | None]
    max_uses_per_customer: Mapped[int | None]
    valid_from: Mapped[dt.datetime]
    valid_until: Mapped[dt.datetime]
    applicable_tour_ids: Mapped[list[str]] = mapped_column(default=list)  # empty = all tours
    applicable_variant_ids: Mapped[list[str]] = mapped_column(default=list)
    current_uses: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")


class PromoRedemption(IdMixin, TenantOwned, Base):
    """One booking's use of a code. Released (given back) when the booking is cancelled before
    any money came in; the code's current_uses counts the unreleased ones."""

    __tablename__ = "promo_redemptions"
    __table_args__ = (
        UniqueConstraint("booking_id"),
        Index("ix_promo_redemptions_code_customer", "promotional_code_id", "customer_id"),
    )

    promotional_code_id: Mapped[str] = mapped_column(
        ForeignKey("promotional_codes.id", ondelete="RESTRICT")
    )
    booking_id: Mapped[str] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    released_at: Mapped[dt.datetime | None]


class PricingRule(IdMixin, TimestampMixin, TenantOwned, Base):
    """An automatic discount: `group` from min_participants seats, `early_bird` when booked at
    least min_days_before days ahead (the tour's local dates). Optional tour targeting."""

    __tablename__ = "pricing_rules"
    __table_args__ = (
        CheckConstraint("kind IN ('group', 'early_bird')", name="kind"),
        CheckConstraint("discount_type IN ('percentage', 'fixed')", name="discount_type"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    tour_id: Mapped[str | None] = mapped_column(
        ForeignKey("tours.id", ondelete="CASCADE"), index=True
    )
    discount_type: Mapped[str] = mapped_column(String(16))
    discount_value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    min_participants: Mapped[int | None]
    min_days_before: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
