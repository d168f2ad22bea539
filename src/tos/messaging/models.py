"""Messages to customers: templates (per organization and language, over the defaults shipped
with TOS) and the communication log — every message once, with its channel and fate."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tos.core.clock import utcnow
from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin

MESSAGE_KINDS = (
    "confirmation", "payment_receipt", "reminder", "modification", "cancellation", "refund",
)  # fmt: skip
CHANNELS = ("email", "sms")


class MessageTemplate(IdMixin, TimestampMixin, TenantOwned, Base):
    """An organization's override of a default template for one kind, channel and language.
    Bodies are Jinja templates (sandboxed) over the booking's facts."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("organization_id", "kind", "channel", "language"),)

    kind: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(String(300))  # e-mail only
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)  # e-mail only


class Communication(IdMixin, TenantOwned, Base):
    """One message, logged once: `dedupe_key` (e.g. "confirmation:<booking>") makes a second
    attempt to send the same message find the first. Its id is the stable Message-ID / provider
    idempotency key across retries."""

    __tablename__ = "communications"
    __table_args__ = (
        UniqueConstraint("organization_id", "dedupe_key"),
        Index("ix_communications_booking", "booking_id", "created_at"),
        Index("ix_communications_provider_id", "provider_id"),
    )

    booking_id: Mapped[str | None] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(8), default="en")
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text, default="")
    # queued -> sent -> delivered | failed (SMS delivery reports move sent -> delivered/failed)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    provider: Mapped[str | None] = mapped_column(String(20))  # smtp | file | twilio
    provider_id: Mapped[str | None] = mapped_column(String(200))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0)
    attachments: Mapped[list[str]] = mapped_column(default=list)  # document ids
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
