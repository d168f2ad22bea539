"""POST /api/v1/pricing/quote: the breakdown a booking would store, without booking."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import EmailStr, Field

from tos.bookings.schemas import LineItemIn, Strict
from tos.bookings.service import bookable_schedule
from tos.core.clock import utcnow
from tos.core.errors import ValidationFailed
from tos.crm.service import customer_id_by_email
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.pricing.cart import price_cart

router = APIRouter(prefix="/api/v1", tags=["pricing"])


class QuoteIn(Strict):
    schedule_id: str | None = Field(None, max_length=36)
    line_items: list[LineItemIn] = Field(min_length=1, max_length=100)
    promotional_code: str | None = Field(None, min_length=1, max_length=64)
    customer_email: EmailStr | None = Field(
        None, description="checks the code's per-customer limit for this customer"
    )


@router.post("/pricing/quote")
def quote(body: QuoteIn, ctx: Context = Depends(require(Perm.BOOKINGS_WRITE))) -> dict[str, Any]:
    now = utcnow()
    schedule = bookable_schedule(ctx.session, body.schedule_id, now) if body.schedule_id else None
    if schedule is None and any(li.pricing_tier_id for li in body.line_items):
        raise ValidationFailed("tier lines need a schedule_id", path=["schedule_id"])
    cart = price_cart(
        ctx.session, org_currency=ctx.organization.currency,
        org_settings=ctx.organization.settings or {}, schedule=schedule,
        line_items=body.line_items, now=now, promotional_code=body.promotional_code,
        customer_id=customer_id_by_email(ctx.session, body.customer_email),
    )  # fmt: skip
    snap = cart.snapshot
    out = snap.as_dict()
    out["schedule_id"] = schedule.id if schedule else None
    out["seats"] = snap.seats
    out["deposit_required"] = snap.money(cart.deposit_required)
    out["promotional_code_id"] = cart.promo.id if cart.promo else None
    return out
