from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin


class Guide(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "guides"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)

    # A guide with a login is linked to a user of role `guide`; that link decides "own".
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    languages: Mapped[list[str]] = mapped_column(default=list)
    bio: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default="active")
