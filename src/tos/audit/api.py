from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from tos.audit.models import AuditEntry
from tos.core.pagination import Page, PageParams, page_params, paginate
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    actor_type: str
    actor_id: str | None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    created_at: datetime


@router.get("/audit", response_model=Page[AuditOut])
def list_audit(
    entity_type: str | None = Query(None),
    entity_id: str | None = Query(None),
    action: str | None = Query(None),
    params: PageParams = Depends(page_params),
    ctx: Context = Depends(require(Perm.AUDIT_READ)),
):
    stmt = select(AuditEntry)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return paginate(ctx.session, stmt, [AuditEntry.id], params)
