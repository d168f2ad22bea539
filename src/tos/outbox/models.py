from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tos.core.clock import utcnow
from tos.db.base import Base, IdMixin, TenantOwned

OUTBOX_STATUSES = ("pending", "done", "dead")


class OutboxMessage(IdMixin, TenantOwned, Base):
    """One promise made by a committed transaction: run `handler` for `event`. Its id is the
    idempotency key sent outward (Message-ID, webhook delivery id, provider idempotency key)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),)

    event: Mapped[str] = mapped_column(String(64))
    handler: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    # Not before this instant: retries back off, and a hold's expiry waits for the hold.
    due_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None]
