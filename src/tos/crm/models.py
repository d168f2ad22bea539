from __future__ import annotations

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin


class Customer(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "customers"
    # Customers are de-duplicated by normalised email within an organization.
    __table_args__ = (UniqueConstraint("organization_id", "email"),)

    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    notes: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    marketing_consent: Mapped[bool] = mapped_column(default=False)
