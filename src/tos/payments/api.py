from __future__ import annotations

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from tos.bookings.access import visible_booking
from tos.bookings.schemas import LedgerEntryOut
from tos.core.money import MAX_AMOUNT
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.payments import service

router = APIRouter(prefix="/api/v1", tags=["payments"])


class ManualPaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(gt=0, le=MAX_AMOUNT, description="minor units, in the booking's currency")
    method: str = Field("cash", min_length=1, max_length=40, description="cash, bank_transfer…")
    reference: str | None = Field(None, max_length=200)


class ManualRefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(gt=0, le=MAX_AMOUNT)
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/bookings/{booking_id}/payments/manual",
    response_model=LedgerEntryOut,
    status_code=status.HTTP_201_CREATED,
)
def record_manual_payment(
    booking_id: str, body: ManualPaymentIn, ctx: Context = Depends(require(Perm.MONEY_WRITE))
):
    booking = visible_booking(ctx, booking_id, lock=True)
    entry = service.record_manual_payment(
        ctx.session,
        ctx.actor,
        booking,
        amount=body.amount,
        method=body.method,
        reference=body.reference,
    )
    ctx.session.commit()
    return entry


@router.post(
    "/bookings/{booking_id}/refunds/manual",
    response_model=LedgerEntryOut,
    status_code=status.HTTP_201_CREATED,
)
def record_manual_refund(
    booking_id: str, body: ManualRefundIn, ctx: Context = Depends(require(Perm.MONEY_WRITE))
):
    booking = visible_booking(ctx, booking_id, lock=True)
    entry = service.record_manual_refund(
        ctx.session, ctx.actor, booking, amount=body.amount, reason=body.reason
    )
    ctx.session.commit()
    return entry
