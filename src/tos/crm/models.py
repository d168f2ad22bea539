from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from tos.core.clock import utcnow
from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin


class Customer(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "customers"
    # Customers are de-duplicated by normalised email within an organization.
    __table_args__ = (
        UniqueConstraint("organization_id", "email"),
        Index("ix_customers_org_last_activity", "organization_id", "last_activity_at"),
    )

    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    notes: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    marketing_consent_date: Mapped[dt.datetime | None]
    # Seed 003's CustomerSource: direct, organic_search, paid_search, social, referral, ota,
    # repeat, walk_in, phone, other.
    source: Mapped[str] = mapped_column(String(20), default="direct", server_default="direct")
    source_detail: Mapped[str | None] = mapped_column(String(200))
    preferred_language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    preferred_currency: Mapped[str | None] = mapped_column(String(3))
    last_activity_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    # Set when this customer was merged into another: its email keeps resolving to the
    # survivor, so a later booking with it never re-creates the duplicate.
    merged_into_id: Mapped[str | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
