"""Provider webhooks: seed 000's POST /api/payments/webhook?provider=…, and the Stripe paths of
seeds 003 and 004 (the same handler). `?org=<slug>` picks the organization's own account;
without it the install-wide one. Answers 200 for a new or replayed event; 400 for a bad
signature or body; 503 when the account is not configured. Nothing secret is echoed."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from tos.core import requestctx
from tos.db.session import get_session_factory
from tos.payments import webhooks

router = APIRouter(tags=["payments"])
MAX_BODY = 1_000_000  # providers' events are a few KB


async def _receive(request: Request, provider: str, org: str | None) -> dict:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise webhooks.BadEvent("the webhook body is too large")
    return await _in_thread(request, provider, org, body)


async def _in_thread(request: Request, provider: str, org: str | None, body: bytes) -> dict:
    def work() -> dict:
        session = get_session_factory()(write=True)
        try:
            receipt = webhooks.receive(session, provider, org, body, dict(request.headers))
            session.commit()
        finally:
            session.close()
        return {
            "ok": True,
            "data": {"received": True, "eventId": receipt.event_id,
                     "duplicate": receipt.duplicate, "outcome": receipt.outcome},
            "requestId": requestctx.request_id.get(),
        }  # fmt: skip

    return await run_in_threadpool(work)


@router.post("/api/payments/webhook")
async def payment_webhook(
    request: Request,
    provider: str = Query(max_length=20),
    org: str | None = Query(None, max_length=64),
) -> dict:
    return await _receive(request, provider, org)


@router.post("/api/webhooks/stripe")
async def stripe_webhook(request: Request, org: str | None = Query(None, max_length=64)) -> dict:
    return await _receive(request, "stripe", org)


@router.post("/webhooks/stripe")
async def stripe_webhook_004(
    request: Request, org: str | None = Query(None, max_length=64)
) -> dict:
    return await _receive(request, "stripe", org)
