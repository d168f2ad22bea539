"""Resellers (OCTO's side of the operator's channels), their users, net rates, and the OCTO view
of a booking: the reseller's uuid and references next to the one TOS booking."""

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
from sqlalchemy.orm import Mapped, mapped_column

from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin


class Reseller(IdMixin, TimestampMixin, TenantOwned, Base):
    """An OTA, another operator or another TOS that books this organization's inventory. The
    net price it pays: its net rate for a tier when one is set, else retail less commission."""

    __tablename__ = "resellers"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        CheckConstraint(
            "commission_bps IS NULL OR (commission_bps >= 0 AND commission_bps <= 10000)",
            name="commission_range",
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(2000))
    commission_bps: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)


class ResellerUser(IdMixin, TimestampMixin, TenantOwned, Base):
    """A `reseller` user acting for a reseller: its API keys reach /octo as that reseller."""

    __tablename__ = "reseller_users"
    __table_args__ = (UniqueConstraint("user_id"),)

    reseller_id: Mapped[str] = mapped_column(
        ForeignKey("resellers.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class ResellerNetRate(IdMixin, TimestampMixin, TenantOwned, Base):
    """What the reseller pays per unit of one pricing tier (minor units, the tier's currency)."""

    __tablename__ = "reseller_net_rates"
    __table_args__ = (
        UniqueConstraint("reseller_id", "pricing_tier_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    reseller_id: Mapped[str] = mapped_column(
        ForeignKey("resellers.id", ondelete="CASCADE"), index=True
    )
    pricing_tier_id: Mapped[str] = mapped_column(ForeignKey("pricing_tiers.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(BigInteger)


class OctoBooking(IdMixin, TimestampMixin, TenantOwned, Base):
    """One TOS booking as a reseller booked it over OCTO. (reseller_id, uuid) is unique: the
    reseller's uuid is its idempotency key, and concurrent identical reservations meet here."""

    __tablename__ = "octo_bookings"
    __table_args__ = (
        UniqueConstraint("reseller_id", "uuid"),
        UniqueConstraint("booking_id"),
        Index("ix_octo_bookings_reseller_ref", "reseller_id", "reseller_reference"),
    )

    booking_id: Mapped[str] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id", ondelete="RESTRICT"))
    uuid: Mapped[str] = mapped_column(String(36))
    reseller_reference: Mapped[str | None] = mapped_column(String(200))
    # OCTO's contact and unit items as the reseller sent them ([{uuid, unitId,
    # resellerReference, contact}]); the TOS booking's lines say what was priced and seated.
    contact: Mapped[dict[str, Any]] = mapped_column(default=dict)
    unit_items: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    # What the reseller pays for the booking (net), beside the booking's retail total.
    net_total: Mapped[int | None] = mapped_column(BigInteger)
    confirmed_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    refund: Mapped[str | None] = mapped_column(String(8))  # FULL | PARTIAL | NONE
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
