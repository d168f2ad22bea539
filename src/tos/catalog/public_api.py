"""Seed 004 §6.2: the website's tour feed. No authentication; one organization by `?org=`;
only active tours; cacheable (strong ETag over the body, 304 on If-None-Match)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, BeforeValidator
from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.catalog import queries
from tos.catalog.schemas import PublicTourDetail, PublicTourPage
from tos.config import get_settings
from tos.core.errors import NotFound, ValidationFailed
from tos.db import tenancy
from tos.db.deps import request_session
from tos.identity.models import Organization

router = APIRouter(prefix="/public/v1", tags=["public"])


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


# Seed 004's front end sends every parameter, empty ones too (`?dest=&style=&limit=&offset=`).
Blankable = BeforeValidator(_blank_is_none)
_TEXT = r"^[^\x00]*$"
OrgSlug = Annotated[
    str, Query(min_length=1, max_length=64, pattern=_TEXT, description="organization slug")
]
Session_ = Annotated[Session, Depends(request_session)]


@router.get("/tours", response_model=PublicTourPage)
def list_public_tours(
    request: Request,
    session: Session_,
    org: OrgSlug,
    dest: str | None = Query(None, max_length=2, pattern=_TEXT, description="ISO 3166 code"),
    style: str | None = Query(None, max_length=60, pattern=_TEXT),
    limit: Annotated[int | None, Blankable, Query(description="1-100, default 20")] = None,
    offset: Annotated[int | None, Blankable, Query(description="default 0")] = None,
):
    limit = 20 if limit is None else limit
    offset = 0 if offset is None else offset
    if not 1 <= limit <= 100:
        raise ValidationFailed("limit must be between 1 and 100", path=["query", "limit"])
    if not 0 <= offset <= 100_000:
        raise ValidationFailed("offset must be between 0 and 100000", path=["query", "offset"])
    _scope_to(session, org)
    items, total = queries.public_tours(session, dest=dest, style=style, limit=limit, offset=offset)
    page = PublicTourPage.model_validate(
        {"items": items, "total": total, "limit": limit, "offset": offset}
    )
    return _cacheable(request, page)


@router.get("/tours/{slug}", response_model=PublicTourDetail)
def get_public_tour(request: Request, slug: str, session: Session_, org: OrgSlug):
    _scope_to(session, org)
    return _cacheable(request, PublicTourDetail.model_validate(queries.public_tour(session, slug)))


def _scope_to(session: Session, slug: str) -> None:
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise NotFound("organization", slug)
    tenancy.set_scope(session, org.id)


def _cacheable(request: Request, payload: BaseModel) -> Response:
    body = payload.model_dump_json().encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={get_settings().public_cache_seconds}",
    }
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _etag_matches(header: str | None, etag: str) -> bool:
    # If-None-Match compares weakly (RFC 9110 §13.1.2): a W/ prefix does not prevent a match.
    if not header:
        return False
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)
