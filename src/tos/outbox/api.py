from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from tos.core.pagination import Page, PageParams, page_params, paginate
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.outbox import service
from tos.outbox.models import OutboxMessage

router = APIRouter(prefix="/api/v1", tags=["outbox"])


class OutboxOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    event: str
    handler: str
    payload: dict[str, Any]
    status: str
    attempts: int
    due_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    done_at: dt.datetime | None


@router.get("/outbox", response_model=Page[OutboxOut])
def list_outbox(
    status: Literal["pending", "done", "dead"] | None = Query(None),
    params: PageParams = Depends(page_params),
    ctx: Context = Depends(require(Perm.OUTBOX_MANAGE)),
):
    stmt = select(OutboxMessage)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    return paginate(ctx.session, stmt, [OutboxMessage.id], params)


@router.post("/outbox/{message_id}/replay", response_model=OutboxOut)
def replay(message_id: str, ctx: Context = Depends(require(Perm.OUTBOX_MANAGE))):
    msg = service.replay(ctx.session, ctx.actor, message_id)
    ctx.session.commit()
    return msg
