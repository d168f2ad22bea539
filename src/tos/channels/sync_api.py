"""Seed 002 §API Specification, exactly: `POST /api/bookings/sync` with `X-API-Key`, answering
`{success, booking_id, message}` or `{success: false, error, code}` (tos.channels.envelope)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.channels import (
    envelope,  # noqa: F401 - registers seed 002's error envelope
    inbound,
    websites,
)
from tos.channels.models import SyncLog, Website
from tos.channels.schemas import SeedError, SyncEvent, SyncOk
from tos.core.errors import AppError
from tos.core.http import field_errors
from tos.core.ratelimit import limiter
from tos.db import tenancy
from tos.db.deps import open_request_session

log = logging.getLogger("tos.channels.sync")


class LoggedSyncRoute(APIRoute):
    """A payload the schema refuses never reaches the route function, yet the website wants to
    see it in its sync log (seed 002: "Track sync events for debugging"): logged here, then
    answered INVALID_PAYLOAD as usual."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Any:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raw = await request.body()
                try:
                    await run_in_threadpool(_log_refused, request, raw, exc)
                except Exception:  # noqa: BLE001 - the answer matters more than its log line
                    log.warning("could not log a refused sync payload", exc_info=True)
                raise

        return route_handler


router = APIRouter(tags=["seed 002: channels hub"], route_class=LoggedSyncRoute)

_ERRORS = {
    401: {"model": SeedError, "description": "AUTH_FAILED: invalid or missing API key"},
    404: {"model": SeedError, "description": "WEBSITE_NOT_FOUND: deactivated or deleted"},
    409: {"model": SeedError, "description": "DUPLICATE_BOOKING (use update event), or "
          "INVALID_TRANSITION (the status cannot be reached from where the booking is)"},
    422: {"model": SeedError, "description": "INVALID_PAYLOAD, field paths in details"},
    429: {"model": SeedError, "description": "RATE_LIMITED, with Retry-After"},
}  # fmt: skip


@dataclass(slots=True)
class WebsiteCall:
    session: Session
    website: Website


def require_website(request: Request) -> Iterator[WebsiteCall]:
    """`X-API-Key` -> the website, its organization's scope, and its rate limit (per key)."""
    with open_request_session(request) as session:
        website = websites.authenticate(session, request.headers.get("x-api-key"))
        tenancy.set_scope(session, website.organization_id)
        limiter.check("sync", website.id)
        call = WebsiteCall(session, website)
        request.state.sync_call = call  # a refused payload is logged in this session
        yield call


@router.post("/api/bookings/sync", response_model=SyncOk, responses=_ERRORS)  # type: ignore[arg-type]
def sync_booking(body: SyncEvent, call: WebsiteCall = Depends(require_website)) -> SyncOk:
    session, website = call.session, call.website
    website_id, org_id = website.id, website.organization_id
    for attempt in (1, 2):
        try:
            outcome = inbound.apply(session, website, body)
            _log(session, org_id, website_id, outcome.booking_id, body, "success", None)
            session.commit()
            return SyncOk(booking_id=outcome.booking_id, message=outcome.message)
        except IntegrityError:
            # A concurrent delivery of the same booking committed first: the second pass finds
            # it (a replay answers its booking; a different payload is a duplicate).
            session.rollback()
            if attempt == 2:
                raise
            website = session.get(Website, website_id)  # type: ignore[assignment]
        except AppError as exc:
            session.rollback()
            _log(session, org_id, website_id, None, body, "failed", f"{exc.code}: {exc.message}")
            session.commit()
            raise
    raise AssertionError("unreachable")


def _log_refused(request: Request, raw: bytes, exc: RequestValidationError) -> None:
    call: WebsiteCall | None = getattr(request.state, "sync_call", None)
    if call is None:
        return  # not authenticated: nobody to log it for
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        payload = {"unparsed": raw[:2000].decode("utf-8", "replace")}
    event = payload.get("event")
    fields = "; ".join(
        f"{'.'.join(str(p) for p in f['path'])}: {f['message']}" for f in field_errors(exc)
    )  # fmt: skip
    session, website = call.session, call.website
    row = SyncLog(
        organization_id=website.organization_id, website_id=website.id, direction="inbound",
        event_type=str(event)[:40] if event else "invalid", payload=payload, status="failed",
        error_message=f"INVALID_PAYLOAD: {fields}"[:4000],
    )  # fmt: skip
    session.add(row)
    session.commit()


def _log(session: Session, org_id: str, website_id: str, booking_id: str | None,
         body: SyncEvent, status: str, error: str | None) -> None:  # fmt: skip
    session.add(SyncLog(
        organization_id=org_id, website_id=website_id, booking_id=booking_id,
        direction="inbound", event_type=body.event, payload=body.given(), status=status,
        error_message=error,
    ))  # fmt: skip
