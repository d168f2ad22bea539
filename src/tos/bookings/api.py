from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tos.bookings import departure_cancellation, queries, service
from tos.bookings.access import rule_for, visible_booking
from tos.bookings.models import Booking
from tos.bookings.rebook import rebook
from tos.bookings.schemas import (
    BookingIn,
    BookingOut,
    BookingPatch,
    CancelIn,
    LedgerEntryOut,
    LifecycleEventOut,
    OwnerIn,
    RebookIn,
    StageIn,
    Strict,
    TransitionIn,
)
from tos.bookings.transitions import transition
from tos.channels.websites import website_ref_to_id
from tos.core.errors import ValidationFailed
from tos.core.pagination import Page, PageParams, page_params, paginate
from tos.idempotency import service as idempotency
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm, perm_for_transition, scope_for
from tos.inventory.schemas import ScheduleOut, schedule_out
from tos.payments.cancellation import cancel_with_refund

router = APIRouter(prefix="/api/v1", tags=["bookings"])


def _detail(ctx: Context, booking: Booking) -> dict:
    return BookingOut.model_validate(queries.booking_detail(ctx.session, booking)).model_dump(
        mode="json"
    )


def _claim(ctx: Context, route: str, key: str | None, body: Any) -> str | JSONResponse | None:
    """The Idempotency-Key claim for this caller and route, or the first use's response."""
    if key is None:
        return None
    claim = idempotency.claim(
        ctx.session, scope=f"{route} {ctx.user.id}", key=key, body=body.model_dump(mode="json")
    )
    if isinstance(claim, idempotency.Replay):
        ctx.session.rollback()
        return JSONResponse(
            claim.body, status_code=claim.status_code, headers={"Idempotent-Replayed": "true"}
        )
    return claim


@router.post("/bookings", response_model=BookingOut, status_code=status.HTTP_201_CREATED)
def create_booking(
    body: BookingIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
    ctx: Context = Depends(require(Perm.BOOKINGS_WRITE)),
):
    claim = _claim(ctx, "POST /api/v1/bookings", idempotency_key, body)
    if isinstance(claim, JSONResponse):
        return claim
    out: dict = {}

    def respond(booking: Booking) -> None:
        out.update(_detail(ctx, booking))
        if claim is not None:
            idempotency.complete(ctx.session, claim, 201, out)

    service.create_booking(
        ctx.session, ctx.actor, ctx.organization, body, scope=ctx.scope, before_seats=respond
    )
    ctx.session.commit()
    return JSONResponse(out, status_code=201)


class DifferenceOut(BaseModel):
    amount: int = Field(description="new total - previous total, in minor units")
    currency: str
    direction: str = Field(description="due | credit | none")


class RebookOut(BaseModel):
    booking: BookingOut
    from_schedule_id: str | None
    difference: DifferenceOut


@router.post("/bookings/{booking_id}/rebook", response_model=RebookOut)
def rebook_booking(
    booking_id: str,
    body: RebookIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
    ctx: Context = Depends(require(Perm.BOOKINGS_WRITE)),
):
    """Move the booking to another departure, or change its line items, in one step."""
    claim = _claim(ctx, f"POST /api/v1/bookings/{booking_id}/rebook", idempotency_key, body)
    if isinstance(claim, JSONResponse):
        return claim
    booking = visible_booking(ctx, booking_id, lock=True)
    result = rebook(
        ctx.session, ctx.actor, ctx.organization.currency, ctx.organization.settings or {},
        booking, schedule_id=body.schedule_id, line_items=body.line_items,
    )  # fmt: skip
    diff = result.difference
    out = {
        "booking": _detail(ctx, result.booking),
        "from_schedule_id": result.from_schedule_id,
        "difference": {
            "amount": diff,
            "currency": result.booking.currency,
            "direction": "due" if diff > 0 else "credit" if diff < 0 else "none",
        },
    }
    if claim is not None:
        idempotency.complete(ctx.session, claim, 200, out)
    ctx.session.commit()
    return JSONResponse(out)


@router.get("/bookings", response_model=Page[BookingOut])
def list_bookings(
    status_: list[str] | None = Query(None, alias="status"),
    stage: list[str] | None = Query(None, description="seed 004: a lifecycle status"),
    schedule_id: str | None = None,
    customer_id: str | None = None,
    owner_id: str | None = None,
    tour_id: str | None = None,
    source: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    search: str | None = Query(None, max_length=200),
    website: str | None = Query(None, max_length=64, description="a source website's id"),
    sort: str = Query("-created_at", description="created_at, -created_at, reference, -reference"),
    params: PageParams = Depends(page_params),
    ctx: Context = Depends(require(Perm.BOOKINGS_READ)),
):
    if sort not in queries.SORTS:
        raise ValidationFailed(
            f"sort must be one of {sorted(queries.SORTS)}", path=["query", "sort"]
        )
    statuses = [s for v in (status_ or []) + (stage or []) for s in v.split(",") if s]
    stmt = queries.list_query(
        rule=rule_for(ctx),
        status=statuses,
        schedule_id=schedule_id,
        customer_id=customer_id,
        owner_id=owner_id,
        tour_id=tour_id,
        source=source,
        date_from=date_from,
        date_to=date_to,
        search=search,
        website_ids=[website_ref_to_id(ctx.session, website)] if website else None,
    )
    columns, descending = queries.SORTS[sort]
    return paginate(
        ctx.session,
        stmt,
        columns,
        params,
        descending=descending,
        transform_page=lambda rows: queries.page_out(ctx.session, rows),
    )


@router.get("/bookings/{booking_id}", response_model=BookingOut)
def get_booking(booking_id: str, ctx: Context = Depends(require(Perm.BOOKINGS_READ))):
    return _detail(ctx, visible_booking(ctx, booking_id))


@router.patch("/bookings/{booking_id}", response_model=BookingOut)
def update_booking(
    booking_id: str, body: BookingPatch, ctx: Context = Depends(require(Perm.BOOKINGS_WRITE))
):
    booking = visible_booking(ctx, booking_id, lock=True)
    service.update_booking(ctx.session, ctx.actor, booking, body, scope=ctx.scope)
    ctx.session.commit()
    return _detail(ctx, booking)


class TransitionOut(BaseModel):
    booking: BookingOut
    event: LifecycleEventOut
    replayed: bool = Field(description="true when the idempotency key had been used")


def _transition(ctx: Context, booking_id: str, to_status: str, **kwargs) -> dict:
    booking = visible_booking(ctx, booking_id, perm=perm_for_transition(to_status), lock=True)
    result = transition(ctx.session, ctx.actor, booking, to_status, **kwargs)
    ctx.session.commit()
    return {
        "booking": _detail(ctx, result.booking),
        "event": LifecycleEventOut.model_validate(result.event),
        "replayed": result.replayed,
    }


@router.post("/bookings/{booking_id}/transitions", response_model=TransitionOut)
def transition_booking(
    booking_id: str, body: TransitionIn, ctx: Context = Depends(require(Perm.BOOKINGS_READ))
):
    return _transition(
        ctx,
        booking_id,
        body.to_status.value,
        note=body.note,
        metadata=body.metadata,
        idempotency_key=body.idempotency_key,
    )


@router.patch("/bookings/{booking_id}/stage", response_model=TransitionOut)
def change_stage(
    booking_id: str,
    body: StageIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
    ctx: Context = Depends(require(Perm.BOOKINGS_READ)),
):
    """Seed 004's stage is the lifecycle status: the same engine, table and guards."""
    return _transition(
        ctx, booking_id, body.stage.value, note=body.note, idempotency_key=idempotency_key
    )


@router.patch("/bookings/{booking_id}/owner", response_model=BookingOut)
def change_owner(
    booking_id: str, body: OwnerIn, ctx: Context = Depends(require(Perm.BOOKINGS_WRITE))
):
    booking = visible_booking(ctx, booking_id, lock=True)
    service.assign_owner(ctx.session, ctx.actor, booking, body.owner_id, scope=ctx.scope)
    ctx.session.commit()
    return _detail(ctx, booking)


class CancelOut(TransitionOut):
    refund: dict[str, Any] = Field(description="{amount, currency, entries}: pending refunds")


@router.post("/bookings/{booking_id}/cancel", response_model=CancelOut)
def cancel_booking(
    booking_id: str,
    body: CancelIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
    ctx: Context = Depends(require(Perm.BOOKINGS_READ)),
):
    """Cancel and refund in one step: the policy amount, or (money roles) a chosen amount."""
    may_choose = scope_for(ctx.user.role, Perm.MONEY_WRITE) is not None
    perm = Perm.MONEY_WRITE if may_choose else Perm.BOOKINGS_CANCEL
    booking = visible_booking(ctx, booking_id, perm=perm, lock=True)
    done = cancel_with_refund(
        ctx.session, ctx.actor, booking, reason=body.reason, refund_amount=body.refund_amount,
        may_choose=may_choose, idempotency_key=idempotency_key,
    )  # fmt: skip
    ctx.session.commit()
    return {
        "booking": _detail(ctx, booking),
        "event": LifecycleEventOut.model_validate(done.result.event),
        "replayed": done.result.replayed,
        "refund": {
            "amount": done.refund_amount,
            "currency": booking.currency,
            "entries": [LedgerEntryOut.model_validate(e).model_dump(mode="json")
                        for e in done.refunds],
        },
    }  # fmt: skip


@router.get("/bookings/{booking_id}/events", response_model=list[LifecycleEventOut])
def list_events(booking_id: str, ctx: Context = Depends(require(Perm.BOOKINGS_READ))):
    booking = visible_booking(ctx, booking_id)
    return queries.lifecycle_events(ctx.session, booking.id)


class DepartureCancelIn(Strict):
    reason: str = Field(min_length=1, max_length=500)
    notify_customers: bool = True


class DepartureCancelOut(BaseModel):
    schedule: ScheduleOut
    bookings_to_cancel: int = Field(description="live bookings the job cancels and refunds")


@router.post("/schedules/{schedule_id}/cancel", response_model=DepartureCancelOut,
             status_code=status.HTTP_202_ACCEPTED)  # fmt: skip
def cancel_departure(
    schedule_id: str,
    body: DepartureCancelIn,
    ctx: Context = Depends(require(Perm.SCHEDULES_CREATE)),
):
    """Seed 003 §3: the departure is cancelled now; its bookings are cancelled and refunded in
    full by a resumable job (watch them move, or GET the bookings with schedule_id)."""
    schedule, pending = departure_cancellation.cancel_departure(
        ctx.session, ctx.actor, schedule_id, reason=body.reason,
        notify_customers=body.notify_customers,
    )  # fmt: skip
    ctx.session.commit()
    return {"schedule": schedule_out(schedule), "bookings_to_cancel": pending}
