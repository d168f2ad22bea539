"""An organization's own provider accounts: PUT /api/v1/payment-accounts/{provider}. Secrets go
in and are never shown again: they are stored encrypted and answered only as a label."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Path, Response
from fastapi import status as http
from pydantic import BaseModel, ConfigDict, Field, HttpUrl
from sqlalchemy import select

from tos.audit.service import record
from tos.core.errors import NotFound
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.payments import secrets
from tos.payments.models import PaymentAccount

router = APIRouter(prefix="/api/v1", tags=["payments"])
Provider = Path(pattern="^(stripe|razorpay)$", description="stripe | razorpay")


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    secret_key: str = Field(min_length=8, max_length=300, description="Stripe secret key / "
                            "Razorpay key secret")  # fmt: skip
    key_id: str = Field("", max_length=300, description="Razorpay key id / Stripe publishable key")
    webhook_secret: str = Field(min_length=8, max_length=300)
    api_base: HttpUrl | None = Field(None, description="only to point at a test server")
    active: bool = True


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    provider: str
    label: str
    active: bool
    updated_at: dt.datetime
    webhook_url: str


def _out(ctx: Context, account: PaymentAccount) -> dict:
    return {
        "provider": account.provider, "label": account.label, "active": account.active,
        "updated_at": account.updated_at,
        "webhook_url": f"/api/payments/webhook?provider={account.provider}"
                       f"&org={ctx.organization.slug}",
    }  # fmt: skip


@router.get("/payment-accounts", response_model=list[AccountOut])
def list_accounts(ctx: Context = Depends(require(Perm.CHANNELS_MANAGE))):
    return [_out(ctx, a) for a in ctx.session.scalars(select(PaymentAccount))]


@router.put("/payment-accounts/{provider}", response_model=AccountOut)
def put_account(
    body: AccountIn,
    provider: str = Provider,
    ctx: Context = Depends(require(Perm.CHANNELS_MANAGE)),
):
    values = body.model_dump(mode="json", exclude={"active"})
    label = f"{(body.key_id or body.secret_key)[:8]}…"
    account = ctx.session.scalar(select(PaymentAccount).where(PaymentAccount.provider == provider))
    if account is None:
        account = PaymentAccount(provider=provider, credentials=secrets.seal(values),
                                 label=label, active=body.active)  # fmt: skip
        ctx.session.add(account)
        record(ctx.session, ctx.actor, "payment_account.created", account,
               after={"provider": provider, "label": label, "active": body.active})  # fmt: skip
    else:
        before = {"provider": provider, "label": account.label, "active": account.active}
        account.credentials, account.label, account.active = (
            secrets.seal(values),
            label,
            body.active,
        )
        record(ctx.session, ctx.actor, "payment_account.updated", account, before=before,
               after={"provider": provider, "label": label, "active": body.active})  # fmt: skip
    ctx.session.commit()
    return _out(ctx, account)


@router.delete("/payment-accounts/{provider}", status_code=http.HTTP_204_NO_CONTENT)
def delete_account(provider: str = Provider, ctx: Context = Depends(require(Perm.CHANNELS_MANAGE))):
    account = ctx.session.scalar(select(PaymentAccount).where(PaymentAccount.provider == provider))
    if account is None:
        raise NotFound("payment account", provider)
    record(ctx.session, ctx.actor, "payment_account.deleted", account,
           before={"provider": provider, "label": account.label}, after=None)  # fmt: skip
    ctx.session.delete(account)
    ctx.session.commit()
    return Response(status_code=http.HTTP_204_NO_CONTENT)
