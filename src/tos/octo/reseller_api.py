"""`/api/v1/resellers`: owners and admins manage the resellers that book over OCTO, their users
and API keys (shown once), commission and net rates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from tos.core.money import MAX_AMOUNT
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.identity.schemas import ApiKeyCreated, ApiKeyOut, StaffOut
from tos.octo import resellers

router = APIRouter(prefix="/api/v1/resellers", tags=["resellers"])
MANAGE = require(Perm.CHANNELS_MANAGE)
Id = Annotated[str, Path(max_length=36)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResellerIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    contact_name: str | None = Field(None, max_length=200)
    contact_email: EmailStr | None = None
    contact_phone: str | None = Field(None, max_length=40)
    website: str | None = Field(None, max_length=2000)
    commission_bps: int | None = Field(
        None, ge=0, le=10_000, description="the reseller keeps this share of retail; net = rest"
    )
    notes: str | None = Field(None, max_length=5000)
    active: bool = True


class ResellerPatch(_Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    contact_name: str | None = Field(None, max_length=200)
    contact_email: EmailStr | None = None
    contact_phone: str | None = Field(None, max_length=40)
    website: str | None = Field(None, max_length=2000)
    commission_bps: int | None = Field(None, ge=0, le=10_000)
    notes: str | None = Field(None, max_length=5000)
    active: bool | None = None


class ResellerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None
    website: str | None
    commission_bps: int | None
    notes: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class ResellerUserIn(_Strict):
    name: str = Field("", max_length=200)


class ResellerUserCreated(BaseModel):
    user: StaffOut
    api_key: ApiKeyCreated


class KeyIn(_Strict):
    name: str = Field("", max_length=200)


class NetRateIn(_Strict):
    pricing_tier_id: str = Field(max_length=36)
    amount: int = Field(ge=0, le=MAX_AMOUNT, description="per unit, minor units of the tier")


class NetRateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    reseller_id: str
    pricing_tier_id: str
    amount: int
    updated_at: datetime


@router.get("", response_model=list[ResellerOut])
def list_resellers(ctx: Context = Depends(MANAGE)):
    return resellers.list_resellers(ctx.session)


@router.post("", response_model=ResellerOut, status_code=status.HTTP_201_CREATED)
def create_reseller(body: ResellerIn, ctx: Context = Depends(MANAGE)):
    reseller = resellers.create_reseller(ctx.session, ctx.actor, body.model_dump())
    ctx.session.commit()
    return reseller


@router.get("/{reseller_id}", response_model=ResellerOut)
def get_reseller(reseller_id: Id, ctx: Context = Depends(MANAGE)):
    return resellers.get_reseller(ctx.session, reseller_id)


@router.patch("/{reseller_id}", response_model=ResellerOut)
def update_reseller(reseller_id: Id, body: ResellerPatch, ctx: Context = Depends(MANAGE)):
    fields = body.model_dump(exclude_unset=True)
    for required in ("name", "active"):
        if fields.get(required, "") is None:
            fields.pop(required)  # null means "leave it" for the two that cannot be empty
    reseller = resellers.update_reseller(ctx.session, ctx.actor, reseller_id, fields)
    ctx.session.commit()
    return reseller


@router.get("/{reseller_id}/users", response_model=list[StaffOut])
def list_users(reseller_id: Id, ctx: Context = Depends(MANAGE)):
    return resellers.reseller_users(ctx.session, reseller_id)


@router.post(
    "/{reseller_id}/users", response_model=ResellerUserCreated,
    status_code=status.HTTP_201_CREATED,
)  # fmt: skip
def add_user(reseller_id: Id, body: ResellerUserIn, ctx: Context = Depends(MANAGE)):
    user, key, token = resellers.add_user_with_key(
        ctx.session, ctx.actor, reseller_id, name=body.name
    )
    ctx.session.commit()
    return {"user": StaffOut.model_validate(user),
            "api_key": _created(key, token)}  # fmt: skip


@router.get("/{reseller_id}/api-keys", response_model=list[ApiKeyOut])
def list_keys(reseller_id: Id, ctx: Context = Depends(MANAGE)):
    return resellers.reseller_keys(ctx.session, reseller_id)


@router.post(
    "/{reseller_id}/users/{user_id}/api-keys", response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
)  # fmt: skip
def add_key(reseller_id: Id, user_id: Id, body: KeyIn, ctx: Context = Depends(MANAGE)):
    key, token = resellers.add_key(ctx.session, ctx.actor, reseller_id, user_id, name=body.name)
    ctx.session.commit()
    return _created(key, token)


@router.delete("/{reseller_id}/api-keys/{key_id}", response_model=ApiKeyOut)
def revoke_key(reseller_id: Id, key_id: Id, ctx: Context = Depends(MANAGE)):
    key = resellers.revoke_key(ctx.session, ctx.actor, reseller_id, key_id)
    ctx.session.commit()
    return key


@router.get("/{reseller_id}/net-rates", response_model=list[NetRateOut])
def list_net_rates(reseller_id: Id, ctx: Context = Depends(MANAGE)):
    return resellers.net_rates(ctx.session, reseller_id)


@router.put("/{reseller_id}/net-rates", response_model=NetRateOut)
def set_net_rate(reseller_id: Id, body: NetRateIn, ctx: Context = Depends(MANAGE)):
    rate = resellers.set_net_rate(
        ctx.session, ctx.actor, reseller_id, pricing_tier_id=body.pricing_tier_id,
        amount=body.amount,
    )  # fmt: skip
    ctx.session.commit()
    return rate


@router.delete("/{reseller_id}/net-rates/{rate_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_net_rate(reseller_id: Id, rate_id: Id, ctx: Context = Depends(MANAGE)):
    resellers.delete_net_rate(ctx.session, ctx.actor, reseller_id, rate_id)
    ctx.session.commit()


def _created(key, token: str) -> ApiKeyCreated:
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(key).model_dump(),
                                         "token": token})  # fmt: skip
