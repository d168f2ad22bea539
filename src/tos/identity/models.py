from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tos.db.base import Base, IdMixin, TenantOwned, TimestampMixin


class Organization(IdMixin, TimestampMixin, Base):
    __tablename__ = "organizations"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)


class User(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)

    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # user for people; system | webhook | channel for service users made for integrations.
    actor_type: Mapped[str] = mapped_column(String(20), default="user")
    is_service: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Website grants (seed 002): ids of the websites this user is limited to; empty = no limit.
    website_grants: Mapped[list[str]] = mapped_column(default=list)


class ApiKey(IdMixin, TimestampMixin, TenantOwned, Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_key_hash", "key_hash", unique=True),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # First characters of the token, shown in lists so a key can be recognised; not secret.
    prefix: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the whole token: the token is 32 random bytes, so a fast hash is safe.
    key_hash: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[dt.datetime | None]
