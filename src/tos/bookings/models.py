from __future__ import annotations

import datetime as dt
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tos.core.clock import utcnow
from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin

SOURCES = ("website", "admin", "phone", "partner", "ota", "sync")


class Booking(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("organization_id", "reference"),
        Index("ix_bookings_org_status", "organization_id", "status"),
        Index("ix_bookings_schedule", "schedule_id"),
        Index("ix_bookings_customer", "customer_id"),
        Index("ix_bookings_expiry", "status", "expires_at"),
        CheckConstraint("held_seats >= 0 AND overbooked_seats >= 0", name="seats_not_negative"),
        # A channel's own reference is unique per channel (NULLs are distinct: direct bookings).
        UniqueConstraint("website_id", "external_ref"),
        Index("ix_bookings_website", "website_id"),
    )

    reference: Mapped[str] = mapped_column(String(20))  # BK-YYYY-XXXXXX
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    # Optional: a booking may carry only unscheduled lines (packages, transport, custom quotes).
    schedule_id: Mapped[str | None] = mapped_column(ForeignKey("schedules.id", ondelete="RESTRICT"))
    tour_id: Mapped[str | None] = mapped_column(ForeignKey("tours.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(16))
    assigned_to: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount_total: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_total: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)  # the amount due
    # What payment_confirmed needs the ledger to cover (the deposit rule; the total by default).
    deposit_required: Mapped[int] = mapped_column(BigInteger)
    price_snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Seats this booking holds in schedules.seats_taken right now (0 once they are returned):
    # the schedule's counter always equals the sum of these over its bookings.
    held_seats: Mapped[int] = mapped_column(default=0)
    overbooked_seats: Mapped[int] = mapped_column(default=0)
    participants_count: Mapped[int] = mapped_column(default=0)
    special_requests: Mapped[str | None] = mapped_column(Text)
    dietary_restrictions: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    utm: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    promotional_code_id: Mapped[str | None] = mapped_column(
        ForeignKey("promotional_codes.id", ondelete="RESTRICT")
    )
    flags: Mapped[list[str]] = mapped_column(default=list)
    # The source website of a `sync` booking, and its id for the booking there.
    website_id: Mapped[str | None] = mapped_column(ForeignKey("websites.id", ondelete="RESTRICT"))
    external_ref: Mapped[str | None] = mapped_column(String(100))
    created_by_type: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[str | None] = mapped_column(String(36))

    # Never loaded implicitly: set when a booking is created, loaded explicitly in queries.
    lines: Mapped[list[BookingLine]] = relationship(lazy="raise", order_by="BookingLine.created_at")


class BookingLine(IdMixin, TenantOwned, Base):
    __tablename__ = "booking_lines"
    __table_args__ = (
        CheckConstraint("kind IN ('scheduled', 'item', 'adjustment')", name="kind"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    booking_id: Mapped[str] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    schedule_id: Mapped[str | None] = mapped_column(ForeignKey("schedules.id"))
    pricing_tier_id: Mapped[str | None] = mapped_column(ForeignKey("pricing_tiers.id"))
    name: Mapped[str] = mapped_column(String(300))  # the tier's name at booking time, or text
    unit_type: Mapped[str | None] = mapped_column(String(16))
    quantity: Mapped[int]
    unit_amount: Mapped[int] = mapped_column(BigInteger)  # negative on a credit adjustment
    amount: Mapped[int] = mapped_column(BigInteger)
    participants: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LifecycleEvent(IdMixin, TenantOwned, Base):
    __tablename__ = "booking_lifecycle_events"
    # The same lifecycle idempotency key replays the first result: one event per key per booking.
    __table_args__ = (UniqueConstraint("booking_id", "idempotency_key"),)

    booking_id: Mapped[str] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
