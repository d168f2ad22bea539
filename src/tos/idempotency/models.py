from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tos.core.clock import utcnow
from tos.db.base import Base, IdMixin, TenantOwned


class IdempotencyRecord(IdMixin, TenantOwned, Base):
    """An `Idempotency-Key` request and the response it got, written in the same transaction as
    its effects, so a replay returns exactly what the first call committed."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("organization_id", "scope", "key"),)

    scope: Mapped[str] = mapped_column(String(120))  # e.g. "POST /api/v1/bookings"
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
