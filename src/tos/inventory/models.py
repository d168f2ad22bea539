from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin

# Stored statuses. "full" is derived (open and seats_taken >= capacity), never stored, so the
# seat guard is the one place that knows about capacity.
SCHEDULE_STATUSES = ("open", "closed", "cancelled", "completed")


class Schedule(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "schedules"
    __table_args__ = (
        # One departure per variant and start instant: what makes generation idempotent.
        UniqueConstraint("variant_id", "starts_at"),
        Index("ix_schedules_org_tour_date", "organization_id", "tour_id", "date"),
        Index("ix_schedules_org_guide_date", "organization_id", "assigned_guide_id", "date"),
        CheckConstraint(
            "capacity IS NULL OR (seats_taken >= 0 AND seats_taken <= capacity)",
            name="seats_within_capacity",
        ),
        CheckConstraint("seats_taken >= 0 AND seats_overbooked >= 0", name="seats_not_negative"),
        CheckConstraint("status IN ('open', 'closed', 'cancelled', 'completed')", name="status"),
    )

    tour_id: Mapped[str] = mapped_column(ForeignKey("tours.id", ondelete="RESTRICT"))
    variant_id: Mapped[str] = mapped_column(
        ForeignKey("tour_variants.id", ondelete="RESTRICT"), index=True
    )
    # Local calendar date and wall-clock times in the tour's IANA timezone...
    date: Mapped[dt.date]
    start_time: Mapped[dt.time]
    end_time: Mapped[dt.time]
    timezone: Mapped[str] = mapped_column(String(64))
    # ...and the same instants in UTC, which sorting and "is it over" use.
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    capacity: Mapped[int | None]  # None = freesale, no guard
    seats_taken: Mapped[int] = mapped_column(default=0)
    seats_overbooked: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    assigned_guide_id: Mapped[str | None] = mapped_column(
        ForeignKey("guides.id", ondelete="SET NULL")
    )
    notes: Mapped[str | None] = mapped_column(Text)
    special_instructions: Mapped[str | None] = mapped_column(Text)
    generated_from_pattern: Mapped[bool] = mapped_column(default=False)
