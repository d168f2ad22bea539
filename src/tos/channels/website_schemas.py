from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

Slug = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Url = Annotated[str, Field(max_length=2000)]
_HTTP = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def _url(value: str | None) -> str | None:
    if value is not None and not _HTTP.match(value):
        raise ValueError("must be an http(s) URL")
    return value


class WebsiteIn(BaseModel):
    """Seed 002's `websites` row as a client sends it (`id` is the seed's text id)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: Slug
    name: Annotated[str, Field(min_length=1, max_length=200)]
    domain: Annotated[str, Field(min_length=1, max_length=253)]
    webhook_url: Url | None = None
    webhook_secret: Annotated[str, Field(min_length=16, max_length=200)] | None = Field(
        None, description="given: used as is; omitted: TOS makes one and shows it once"
    )
    logo_url: Url | None = None
    is_active: bool = True
    messages_customers: bool = Field(
        False, description="let TOS message this website's customers (default: the website does)"
    )

    _check_urls = field_validator("webhook_url", "logo_url")(_url)


class WebsitePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    domain: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    webhook_url: Url | None = None
    logo_url: Url | None = None
    is_active: bool | None = None
    messages_customers: bool | None = None

    _check_urls = field_validator("webhook_url", "logo_url")(_url)


class WebsiteOut(BaseModel):
    id: str = Field(description="the seed's text id (slug)")
    uuid: str = Field(description="TOS's own id")
    name: str
    domain: str
    api_key_prefix: str
    webhook_url: str | None
    has_webhook_secret: bool
    logo_url: str | None
    is_active: bool
    messages_customers: bool
    previous_key_expires_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class WebsiteCreated(BaseModel):
    success: bool = True
    website: WebsiteOut
    api_key: str = Field(description="shown once; TOS stores only its SHA-256")
    webhook_secret: str | None = Field(
        None, description="shown once when TOS made it; sign-checks outbound webhooks"
    )


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_hours: int = Field(24, ge=0, le=24 * 30, description="the old key works this long")


class RotatedKey(BaseModel):
    website: WebsiteOut
    api_key: str


class RotatedSecret(BaseModel):
    website: WebsiteOut
    webhook_secret: str


class PackageMappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    package_name: Annotated[str, Field(min_length=1, max_length=300)]
    variant_id: Annotated[str, Field(max_length=36)]
    pricing_tier_id: Annotated[str, Field(max_length=36)]


class PackageMappingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    package_name: str
    variant_id: str
    pricing_tier_id: str


class GrantsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    websites: list[Annotated[str, Field(max_length=64)]] = Field(
        max_length=200, description="website ids (slugs); empty = no limit"
    )


class GrantsOut(BaseModel):
    user_id: str
    websites: list[str]
