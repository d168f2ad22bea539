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

from tos.core.clock import utcnow
from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin


class LedgerEntry(IdMixin, TenantOwned, Base):
    """Money only: what came in and what went out, by kind (tos.payments.ledger.Kind)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
    )

    booking_id: Mapped[str] = mapped_column(
        ForeignKey("bookings.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str | None] = mapped_column(String(40))  # cash, bank_transfer, card, ...
    reference: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    # The provider payment a captured entry came from, or a refund goes back to.
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"), index=True)
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[dt.datetime | None]


class Payment(IdMixin, TimestampMixin, TenantOwned, Base):
    """One attempt to take money through a provider (seed 000's payment): an intent, order or
    sandbox checkout. Money lands on the ledger only when the provider says it succeeded."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("organization_id", "idempotency_key"),
        Index("ix_payments_provider_ref", "provider", "provider_ref"),
        Index("ix_payments_status_created", "status", "created_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    booking_id: Mapped[str] = mapped_column(
        ForeignKey("bookings.id", ondelete="RESTRICT"), index=True
    )
    provider: Mapped[str] = mapped_column(String(20))  # stripe | razorpay | sandbox
    provider_ref: Mapped[str | None] = mapped_column(String(200))  # pi_…, order_…, sbx_…
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # requires_action -> succeeded | failed | cancelled
    status: Mapped[str] = mapped_column(String(20), default="requires_action")
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    client_payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    succeeded_at: Mapped[dt.datetime | None]


class WebhookEvent(IdMixin, Base):
    """Each provider event once: stored before it is acted on, unique by provider and event id,
    so a replay is recognised and changes nothing. Not tenant-owned: the organization is known
    only once the event's payment is found (install-wide accounts serve every organization)."""

    __tablename__ = "webhook_events"
    # Per account endpoint: a provider account shared by two organizations delivers the same
    # event to both endpoints; each stores it, and the payment's owner processes it.
    __table_args__ = (UniqueConstraint("provider", "account", "event_id"),)

    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(80))
    account: Mapped[str] = mapped_column(String(64))  # org slug whose secret verified it, or "*"
    organization_id: Mapped[str | None] = mapped_column(String(36), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(200))


class PaymentAccount(IdMixin, TimestampMixin, TenantOwned, Base):
    """An organization's own credentials for one provider, encrypted at rest
    (tos.payments.secrets). Without one, the install-wide account from TOS_* settings is used."""

    __tablename__ = "payment_accounts"
    __table_args__ = (UniqueConstraint("organization_id", "provider"),)

    provider: Mapped[str] = mapped_column(String(20))
    credentials: Mapped[str] = mapped_column(Text)  # Fernet token of a JSON object
    # Shown so staff can recognise the account (e.g. the key's first characters); not secret.
    label: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)


class SandboxCharge(IdMixin, Base):
    """The sandbox provider's own records (it is a provider, not TOS's ledger): what its
    hosted checkout charged and refunded. Reconciliation and tests compare the ledger with it
    exactly as with a real provider's records."""

    __tablename__ = "sandbox_charges"

    payment_id: Mapped[str] = mapped_column(String(36), unique=True)  # TOS's id, as metadata
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # requires_action -> succeeded | failed | cancelled
    status: Mapped[str] = mapped_column(String(20), default="requires_action")
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    refund_ids: Mapped[list[str]] = mapped_column(default=list)  # its idempotency memory
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
