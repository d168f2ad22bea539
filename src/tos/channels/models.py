from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tos.core.clock import utcnow
from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin


class Website(IdMixin, TimestampMixin, TenantOwned, Base):
    """A source website (seed 002's `websites`). The seed's text id is `slug`; the API key is
    stored as its SHA-256 only (shown once), the webhook secret sealed (Fernet)."""

    __tablename__ = "websites"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        Index("ix_websites_key_hash", "key_hash", unique=True),
        Index("ix_websites_previous_key_hash", "previous_key_hash"),
    )

    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(253))
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    # After a rotation the old key keeps working until this instant (seed 002 §Security).
    previous_key_hash: Mapped[str | None] = mapped_column(String(64))
    previous_key_expires_at: Mapped[dt.datetime | None]
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret_sealed: Mapped[str | None] = mapped_column(Text)
    logo_url: Mapped[str | None] = mapped_column(String(2000))
    active: Mapped[bool] = mapped_column(default=True)
    # Deleted websites stay as rows: their bookings and logs keep pointing at them, and their
    # key answers WEBSITE_NOT_FOUND rather than AUTH_FAILED.
    deleted_at: Mapped[dt.datetime | None]
    # PRODUCT.md channel rules: by default the source site keeps its customer (no TOS messages
    # or documents); an operator may let TOS message them.
    messages_customers: Mapped[bool] = mapped_column(default=False)


class PackageMapping(IdMixin, TimestampMixin, TenantOwned, Base):
    """A website's package name -> the TOS variant and tier whose departures it takes seats on."""

    __tablename__ = "website_packages"
    __table_args__ = (UniqueConstraint("website_id", "package_name"),)

    website_id: Mapped[str] = mapped_column(ForeignKey("websites.id", ondelete="CASCADE"))
    package_name: Mapped[str] = mapped_column(String(300))
    variant_id: Mapped[str] = mapped_column(ForeignKey("tour_variants.id", ondelete="CASCADE"))
    pricing_tier_id: Mapped[str] = mapped_column(ForeignKey("pricing_tiers.id", ondelete="CASCADE"))


class SyncedBooking(TenantOwned, Base):
    """The source website's view of one TOS booking, kept faithfully in the seed's own units
    (whole currency units), and the hash of the payload that created it (a retried create)."""

    __tablename__ = "synced_bookings"
    __table_args__ = (UniqueConstraint("website_id", "source_booking_id"),)

    booking_id: Mapped[str] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True
    )
    website_id: Mapped[str] = mapped_column(ForeignKey("websites.id", ondelete="RESTRICT"))
    source_booking_id: Mapped[str] = mapped_column(String(100))
    booking_ref: Mapped[str | None] = mapped_column(String(100), index=True)
    # The seed's activity date (filters: GET /api/bookings) and time slot, as the source says.
    activity_date: Mapped[dt.date | None] = mapped_column(index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_hash: Mapped[str] = mapped_column(String(64))
    source_created_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SyncLog(IdMixin, TenantOwned, Base):
    """Seed 002's `sync_logs`, both directions; outbound rows are one per delivery attempt."""

    __tablename__ = "sync_logs"
    __table_args__ = (
        Index("ix_sync_logs_website_created", "website_id", "created_at"),
        Index("ix_sync_logs_booking", "booking_id"),
        Index("ix_sync_logs_message", "outbox_message_id"),
    )

    booking_id: Mapped[str | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"))
    website_id: Mapped[str | None] = mapped_column(ForeignKey("websites.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(10), default="success")  # success|failed|pending
    error_message: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None]
    latency_ms: Mapped[int | None]
    attempt: Mapped[int | None]
    outbox_message_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
