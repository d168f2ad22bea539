"""Seed 000 §3, exactly: POST /api/core/booking-lifecycle, camelCase, {ok, data|error, requestId}.
An adapter over the same lifecycle engine as /api/v1."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tos.bookings.access import visible_booking
from tos.bookings.lifecycle import Status
from tos.bookings.transitions import transition
from tos.core import requestctx
from tos.core.errors import Forbidden
from tos.core.http import register_error_renderer
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm, perm_for_transition
from tos.payments import ledger
from tos.payments.queries import ledger_totals

router = APIRouter(prefix="/api/core", tags=["seed 000"])


class LifecycleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bookingId: str = Field(max_length=36)
    toStatus: Status
    actorType: str = Field(description="must match the caller: user, or the service user's type")
    actorId: str | None = Field(None, max_length=36)
    note: str | None = Field(None, max_length=5000)
    idempotencyKey: str | None = Field(None, min_length=1, max_length=255)
    metadata: dict[str, Any] = Field(default_factory=dict)


def seed_envelope(request: Request, status: int, code: str, message: str, details: dict[str, Any]):
    body = {
        "ok": False,
        "error": {"code": code, "message": message, "details": details},
        "requestId": requestctx.request_id.get(),
    }
    return JSONResponse(body, status_code=status)


register_error_renderer("/api/core/", seed_envelope)


@router.post("/booking-lifecycle")
def booking_lifecycle(body: LifecycleRequest, ctx: Context = Depends(require(Perm.BOOKINGS_READ))):
    if body.actorType != ctx.actor.type or body.actorId not in (None, ctx.actor.id):
        raise Forbidden(
            "the claimed actor is not the authenticated caller",
            details={
                "claimed": {"actorType": body.actorType, "actorId": body.actorId},
                "caller": {"actorType": ctx.actor.type, "actorId": ctx.actor.id},
            },
        )
    booking = visible_booking(
        ctx, body.bookingId, perm=perm_for_transition(body.toStatus.value), lock=True
    )
    result = transition(
        ctx.session,
        ctx.actor,
        booking,
        body.toStatus,
        note=body.note,
        metadata=body.metadata,
        idempotency_key=body.idempotencyKey,
    )
    ctx.session.commit()
    totals = ledger_totals(ctx.session, booking.id)
    ev = result.event
    data = {
        "booking": {
            "id": booking.id,
            "reference": booking.reference,
            "status": booking.status,
            "paymentStatus": ledger.payment_status(
                totals, booking.total, disputed="disputed" in booking.flags
            ).value,
        },
        "event": {
            "id": ev.id,
            "bookingId": ev.booking_id,
            "fromStatus": ev.from_status,
            "toStatus": ev.to_status,
            "actorType": ev.actor_type,
            "actorId": ev.actor_id,
            "note": ev.note,
            "idempotencyKey": ev.idempotency_key,
            "metadata": ev.meta,
            "createdAt": ev.created_at.isoformat(),
        },
        "replayed": result.replayed,
    }
    return {"ok": True, "data": data, "requestId": requestctx.request_id.get()}
