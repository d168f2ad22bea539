"""Outbound sync for admins: seed 002's test webhook, the failed-sync queue (dead webhook
deliveries, replayable) and the sync log."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

import tos.channels.envelope  # noqa: F401 - registers seed 002's error envelope for /api/admin/
from tos.channels import outbound, websites
from tos.channels.models import SyncLog, Website
from tos.core.errors import NotFound
from tos.core.pagination import Page, PageParams, page_params, paginate
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage

router = APIRouter(tags=["channels"])

Ref = Field(min_length=1, max_length=100)


class TestWebhookIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    website_id: str = Ref
    booking_id: str | None = Field(None, min_length=1, max_length=100)
    event: Literal["booking.updated", "booking.status_changed"] = "booking.updated"


class TestWebhookOut(BaseModel):
    success: bool
    message: str
    status_code: int | None
    latency_ms: int
    response: str


@router.post("/api/admin/test-webhook", response_model=TestWebhookOut)
def test_webhook(body: TestWebhookIn, ctx: Context = Depends(require(Perm.CHANNELS_MANAGE))):
    result = outbound.send_test_webhook(ctx.session, ctx.actor, website_ref=body.website_id,
                                        booking_ref=body.booking_id, event=body.event)  # fmt: skip
    return TestWebhookOut(success=result.success, message=result.message,
                          status_code=result.status_code, latency_ms=result.latency_ms,
                          response=result.response)  # fmt: skip


# --- failed-sync queue -----------------------------------------------------------------------


class WebsiteRef(BaseModel):
    id: str
    slug: str


class FailedSyncOut(BaseModel):
    id: str  # the outbox message id: also the webhook's X-Webhook-Id
    website: WebsiteRef | None
    booking_id: str | None
    source_booking_id: str | None
    event: str | None
    body: dict[str, Any]
    attempts: int
    last_error: str | None
    last_http_status: int | None
    last_latency_ms: int | None
    last_attempt_at: dt.datetime | None
    created_at: dt.datetime


def _website_ids(ctx: Context, ref: str | None) -> list[str] | None:
    """The websites a listing may show: the one asked for (404 if unknown), narrowed to the
    caller's website grants; None = all."""
    ids: list[str] | None = None
    if ref is not None:
        ids = [websites.get(ctx.session, ref, include_deleted=True).id]
    grants = ctx.user.website_grants  # website ids (channels.grants)
    if grants:
        ids = [i for i in (ids if ids is not None else grants) if i in grants]
    return ids


def _failed_page(ctx: Context, rows: list[OutboxMessage]) -> list[FailedSyncOut]:
    site_ids = {m.payload.get("website_id") for m in rows}
    sites = {w.id: w for w in ctx.session.scalars(select(Website).where(Website.id.in_(site_ids)))}
    last: dict[str, SyncLog] = {}
    logs = ctx.session.scalars(
        select(SyncLog)
        .where(SyncLog.outbox_message_id.in_([m.id for m in rows]))
        .order_by(SyncLog.created_at, SyncLog.id)
    )
    for log_row in logs:  # oldest first: the last one written per message wins
        last[log_row.outbox_message_id or ""] = log_row
    out = []
    for m in rows:
        body = m.payload.get("body") or {}
        site = sites.get(str(m.payload.get("website_id")))
        entry = last.get(m.id)
        out.append(FailedSyncOut(
            id=m.id, website=WebsiteRef(id=site.id, slug=site.slug) if site else None,
            booking_id=m.payload.get("booking_id"),
            source_booking_id=body.get("source_booking_id"), event=body.get("event"), body=body,
            attempts=m.attempts, last_error=m.last_error,
            last_http_status=entry.http_status if entry else None,
            last_latency_ms=entry.latency_ms if entry else None,
            last_attempt_at=entry.created_at if entry else None, created_at=m.created_at,
        ))  # fmt: skip
    return out


def _failed_syncs():
    return select(OutboxMessage).where(
        OutboxMessage.handler == outbound.HANDLER, OutboxMessage.status == "dead"
    )


@router.get("/api/v1/failed-syncs", response_model=Page[FailedSyncOut])
def list_failed_syncs(
    website: str | None = Query(None, max_length=100, description="website id or slug"),
    params: PageParams = Depends(page_params),
    ctx: Context = Depends(require(Perm.OUTBOX_MANAGE)),
):
    stmt = _failed_syncs()
    ids = _website_ids(ctx, website)
    if ids is not None:
        stmt = stmt.where(OutboxMessage.payload["website_id"].as_string().in_(ids))
    return paginate(ctx.session, stmt, [OutboxMessage.created_at, OutboxMessage.id], params,
                    transform_page=lambda rows: _failed_page(ctx, rows),
                    descending=True)  # fmt: skip


@router.post("/api/v1/failed-syncs/{message_id}/replay", response_model=FailedSyncOut)
def replay_failed_sync(message_id: str, ctx: Context = Depends(require(Perm.OUTBOX_MANAGE))):
    stmt = select(OutboxMessage).where(
        OutboxMessage.id == message_id, OutboxMessage.handler == outbound.HANDLER
    )
    ids = _website_ids(ctx, None)
    if ids is not None:
        stmt = stmt.where(OutboxMessage.payload["website_id"].as_string().in_(ids))
    if ctx.session.scalar(stmt) is None:
        raise NotFound("failed sync", message_id)
    msg = outbox.replay(ctx.session, ctx.actor, message_id)
    ctx.session.commit()
    return _failed_page(ctx, [msg])[0]


# --- sync log --------------------------------------------------------------------------------


class SyncLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    booking_id: str | None
    website_id: str | None
    direction: str
    event_type: str
    payload: dict[str, Any]
    status: str
    error_message: str | None
    http_status: int | None
    latency_ms: int | None
    attempt: int | None
    outbox_message_id: str | None
    created_at: dt.datetime


@router.get("/api/v1/sync-logs", response_model=Page[SyncLogOut])
def list_sync_logs(
    website: str | None = Query(None, max_length=100, description="website id or slug"),
    direction: Literal["inbound", "outbound"] | None = Query(None),
    status: Literal["success", "failed", "pending"] | None = Query(None),
    booking_id: str | None = Query(None, max_length=36),
    params: PageParams = Depends(page_params),
    ctx: Context = Depends(require(Perm.CHANNELS_MANAGE)),
):
    stmt = select(SyncLog)
    if website is not None:
        stmt = stmt.where(
            SyncLog.website_id == websites.get(ctx.session, website, include_deleted=True).id
        )
    if direction:
        stmt = stmt.where(SyncLog.direction == direction)
    if status:
        stmt = stmt.where(SyncLog.status == status)
    if booking_id:
        stmt = stmt.where(SyncLog.booking_id == booking_id)
    return paginate(ctx.session, stmt, [SyncLog.created_at, SyncLog.id], params, descending=True)
