"""A booking's documents over HTTP: the list, the authenticated download, the customer's download
by signed link, and seed 000's `POST /api/documents/generate {bookingId, type}` (its envelope).
The rules are in tos.documents.service; these handlers check who may see what."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.bookings.access import visible_booking
from tos.bookings.models import Booking
from tos.bookings.seed_api import seed_envelope
from tos.config import get_settings
from tos.core import requestctx
from tos.core.clock import utcnow
from tos.core.errors import NotFound
from tos.core.http import register_error_renderer
from tos.core.ratelimit import RateLimitedRoute, rate_limit
from tos.db import tenancy
from tos.db.deps import request_session
from tos.documents import service
from tos.documents.models import Document
from tos.documents.tokens import InvalidToken, document_link_token, verify_document_link_token
from tos.idempotency import service as idempotency
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm

router = APIRouter(tags=["documents"])
register_error_renderer("/api/documents/", seed_envelope)

# The customer's link is valid this long from when the list (or generate) answered.
SHARE_LINK_DAYS = 30
_GENERATE_ROUTE = "POST /api/documents/generate"


def document_out(
    doc: Document, *, number: str | None, now: dt.datetime | None = None
) -> dict[str, Any]:
    expires = (now or utcnow()) + dt.timedelta(days=SHARE_LINK_DAYS)
    token = document_link_token(doc.id, expires)
    public = get_settings().public_url.rstrip("/")
    return {
        "id": doc.id,
        "booking_id": doc.booking_id,
        "type": doc.type,
        "number": number,
        "version": doc.version,
        "ledger_entry_id": doc.ledger_entry_id,
        "language": doc.language,
        "checksum": doc.checksum,
        "size": doc.size,
        "content_type": doc.content_type,
        "amount": doc.amount,
        "currency": doc.currency,
        "created_at": doc.created_at.isoformat(),
        "download_url": f"/api/v1/documents/{doc.id}/download",
        "share_url": f"{public}/public/v1/documents/{doc.id}?token={token}",
        "share_expires_at": expires.isoformat(),
    }


@router.get("/api/v1/bookings/{booking_id}/documents")
def list_documents(booking_id: str, ctx: Context = Depends(require(Perm.BOOKINGS_READ))):
    booking = visible_booking(ctx, booking_id)
    docs = service.documents_of(ctx.session, booking.id)
    # A re-rendered invoice shows the number it was issued with (stored on the first version).
    invoice_number = next((d.number for d in docs if d.type == "invoice" and d.number), None)
    now = utcnow()
    items = [
        document_out(d, number=d.number or (invoice_number if d.type == "invoice" else None),
                     now=now)
        for d in docs
    ]  # fmt: skip
    return {"items": items, "next_cursor": None, "total_count": len(items)}


@router.get("/api/v1/documents/{document_id}/download")
def download_document(document_id: str, ctx: Context = Depends(require(Perm.BOOKINGS_READ))):
    doc = service.get_document(ctx.session, document_id)
    try:
        booking = visible_booking(ctx, doc.booking_id)
    except NotFound:  # row rules: a document of a booking the caller may not see is not there
        raise NotFound("document", document_id)
    return _pdf(ctx.session, doc, booking, cache="private, no-cache")


public_router = APIRouter(prefix="/public/v1", tags=["public"], route_class=RateLimitedRoute)


@public_router.get("/documents/{document_id}", dependencies=[Depends(rate_limit("lookup"))])
def download_shared_document(
    document_id: str,
    token: str = Query(""),
    session: Session = Depends(request_session),
):
    """A customer's download by signed link: no authentication; a missing, tampered or expired
    token is the same 404 as an unknown document."""
    try:
        linked = verify_document_link_token(token)
    except InvalidToken:
        linked = None
    if linked != document_id:
        raise NotFound("document", document_id)
    with tenancy.unscoped(session):
        doc = session.scalar(select(Document).where(Document.id == document_id))
        if doc is None:
            raise NotFound("document", document_id)
    tenancy.set_scope(session, doc.organization_id)
    booking = session.scalar(select(Booking).where(Booking.id == doc.booking_id))
    assert booking is not None
    return _pdf(session, doc, booking, cache="private, no-store")


router.include_router(public_router)


class GenerateRequest(BaseModel):
    """Seed 000 §1's document generation, camelCase as the seed sends it."""

    model_config = ConfigDict(extra="forbid")
    bookingId: str = Field(max_length=36)
    type: Literal["invoice", "voucher", "itinerary", "credit_note"] = Field(
        description="invoice | voucher | itinerary (credit notes are issued per refund)"
    )
    idempotencyKey: str | None = Field(None, min_length=1, max_length=255)


@router.post("/api/documents/generate", status_code=201)
def generate_document(
    body: GenerateRequest,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=255),
    ctx: Context = Depends(require(Perm.BOOKINGS_WRITE)),
):
    """A new version of the booking's document (the first if it has none), rendered now."""
    booking = visible_booking(ctx, body.bookingId)
    key = idempotency_key or body.idempotencyKey
    claim = None
    if key:
        found = idempotency.claim(
            ctx.session,
            scope=_GENERATE_ROUTE,
            key=key,
            body=body.model_dump(exclude={"idempotencyKey"}),
        )
        if isinstance(found, idempotency.Replay):
            ctx.session.rollback()
            return _envelope(found.body, found.status_code)
        claim = found
    doc = service.regenerate(ctx.session, ctx.actor, booking.id, body.type)
    data = {"document": document_out(doc, number=service.number_of(ctx.session, doc))}
    if claim is not None:
        idempotency.complete(ctx.session, claim, 201, data)
    ctx.session.commit()
    return _envelope(data, 201)


def _envelope(data: dict[str, Any], status_code: int) -> JSONResponse:
    body = {"ok": True, "data": data, "requestId": requestctx.request_id.get()}
    return JSONResponse(body, status_code=status_code)


def _pdf(session: Session, doc: Document, booking: Booking, *, cache: str) -> Response:
    data = service.read(doc)
    number = service.number_of(session, doc)
    if number:
        name = number if doc.version == 1 or doc.type != "invoice" else f"{number}-v{doc.version}"
    else:
        name = f"{doc.type.replace('_', '-')}-{booking.reference}-v{doc.version}"
    headers = {
        # Numbers and references are [A-Z0-9-]: safe in a quoted filename as they are.
        "Content-Disposition": f'attachment; filename="{name}.pdf"',
        "ETag": f'"{doc.checksum}"',
        "Cache-Control": cache,
        "X-Content-Type-Options": "nosniff",
    }
    return Response(data, media_type=doc.content_type, headers=headers)
