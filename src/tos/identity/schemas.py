from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from tos.core.validation import check_currency, check_slug, check_timezone
from tos.identity.permissions import Role

Timezone = Annotated[str, AfterValidator(check_timezone)]
Currency = Annotated[str, AfterValidator(check_currency)]
Slug = Annotated[str, AfterValidator(check_slug)]
ServiceActorType = Literal["system", "webhook", "channel"]


class OrganizationIn(BaseModel):
    slug: Slug
    name: str = Field(min_length=1, max_length=200)
    timezone: Timezone
    currency: Currency


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    slug: str
    name: str
    timezone: str
    currency: str


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    role: Role


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    name: str
    role: str
    actor_type: str
    is_service: bool
    active: bool
    created_at: datetime


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str | None = None
    role: Role | None = Field(None, description="make a service user of this role for the key")
    name: str = Field("", max_length=200)
    actor_type: ServiceActorType | None = Field(
        None, description="fixed actor type of the service user (with role only)"
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    user_id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    token: str = Field(description="shown once; store it now")
