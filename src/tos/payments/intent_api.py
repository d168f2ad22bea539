"""Taking and giving back money through providers: seed 000's create-intent (its envelope), and
the /api/v1 routes for payments and refunds of a booking."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Header, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from tos.bookings.access import visible_booking
from tos.bookings.schemas import LedgerEntryOut
from tos.bookings.seed_api import seed_envelope
from tos.core import requestctx
from tos.core.http import register_error_renderer
from tos.core.money import MAX_AMOUNT
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.payments import intents, refunds
from tos.payments.models import Payment

router = APIRouter(tags=["payments"])
register_error_renderer("/api/payments/", seed_envelope)


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    booking_id: str
    provider: str
    provider_ref: str | None
    amount: int
    currency: str
    status: str
    client_payload: dict[str, Any]
    failure_reason: str | None
    created_at: dt.datetime
    succeeded_at: dt.datetime | None


class CreateIntentIn(BaseModel):
    """Seed 000 §5, camelCase as the seed sends it."""

    model_config = ConfigDict(extra="forbid")
    bookingId: str = Field(max_length=36)
    provider: str = Field(max_length=20)
    idempotencyKey: str | None = Field(None, min_length=1, max_length=255)
    amount: int | None = Field(None, gt=0, le=MAX_AMOUNT, description="minor units")


@router.post("/api/payments/create-intent")
def create_intent_seed(
    body: CreateIntentIn, ctx: Context = Depends(require(Perm.BOOKINGS_WRITE))
) -> dict[str, Any]:
    booking = visible_booking(ctx, body.bookingId, lock=True)
    payment, _ = intents.create_intent(
        ctx.session, ctx.actor, booking, provider=body.provider, amount=body.amount,
        idempotency_key=body.idempotencyKey,
    )  # fmt: skip
    ctx.session.commit()
    return {
        "ok": True,
        "data": {
            "payment": {"id": payment.id, "booking_id": payment.booking_id,
                        "provider": payment.provider, "status": payment.status,
                        "amount": payment.amount, "currency": payment.currency},
            "providerPayload": payment.client_payload,
        },
        "requestId": requestctx.request_id.get(),
    }  # fmt: skip


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str = Field(max_length=20, description="stripe | razorpay | sandbox")
    amount: int | None = Field(
        None, gt=0, le=MAX_AMOUNT, description="minor units; default the balance due"
    )


@router.post("/api/v1/bookings/{booking_id}/payments", response_model=PaymentOut,
             status_code=status.HTTP_201_CREATED)  # fmt: skip
def create_payment(
    booking_id: str,
    body: PaymentIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=255),
    ctx: Context = Depends(require(Perm.BOOKINGS_WRITE)),
):
    booking = visible_booking(ctx, booking_id, lock=True)
    payment, created = intents.create_intent(
        ctx.session, ctx.actor, booking, provider=body.provider, amount=body.amount,
        idempotency_key=idempotency_key,
    )  # fmt: skip
    ctx.session.commit()
    out = PaymentOut.model_validate(payment).model_dump(mode="json")
    return JSONResponse(out, status_code=201 if created else 200)


@router.get("/api/v1/bookings/{booking_id}/payments", response_model=list[PaymentOut])
def list_payments(booking_id: str, ctx: Context = Depends(require(Perm.BOOKINGS_READ))):
    booking = visible_booking(ctx, booking_id)
    return ctx.session.scalars(
        select(Payment).where(Payment.booking_id == booking.id).order_by(Payment.created_at)
    ).all()


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int | None = Field(
        None, gt=0, le=MAX_AMOUNT, description="default: all that was taken through providers"
    )
    reason: str = Field(min_length=1, max_length=500)


@router.post("/api/v1/bookings/{booking_id}/refunds", response_model=list[LedgerEntryOut],
             status_code=status.HTTP_202_ACCEPTED)  # fmt: skip
def refund(booking_id: str, body: RefundIn, ctx: Context = Depends(require(Perm.MONEY_WRITE))):
    """Reserved at once as pending refunds; the provider calls follow through the outbox."""
    booking = visible_booking(ctx, booking_id, lock=True)
    entries = refunds.request_refund(
        ctx.session, ctx.actor, booking, amount=body.amount, reason=body.reason
    )
    ctx.session.commit()
    return entries
