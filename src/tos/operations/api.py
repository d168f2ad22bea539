from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi import status as http

from tos.core.pagination import Page, PageParams, page_params, paginate
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.operations import service
from tos.operations.models import Guide
from tos.operations.schemas import ID_PATTERN, GuideIn, GuideOut, GuidePatch, GuideStatus

router = APIRouter(prefix="/api/v1", tags=["operations"])
GuideId = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]


def _own(ctx: Context) -> str | None:
    return ctx.user.id if ctx.own_only else None


@router.get("/guides", response_model=Page[GuideOut])
def list_guides(
    status: GuideStatus | None = Query(None),
    params: PageParams = Depends(page_params),
    ctx: Context = Depends(require(Perm.GUIDES_READ)),
):
    stmt = service.list_guides_stmt(status=status, own_user_id=_own(ctx))
    return paginate(ctx.session, stmt, [Guide.last_name, Guide.first_name, Guide.id], params)


@router.post("/guides", response_model=GuideOut, status_code=http.HTTP_201_CREATED)
def create_guide(body: GuideIn, ctx: Context = Depends(require(Perm.GUIDES_WRITE))):
    guide = service.create_guide(ctx.session, ctx.actor, **body.model_dump())
    ctx.session.commit()
    return guide


@router.get("/guides/{guide_id}", response_model=GuideOut)
def get_guide(guide_id: GuideId, ctx: Context = Depends(require(Perm.GUIDES_READ))):
    return service.get_guide(ctx.session, guide_id, own_user_id=_own(ctx))


@router.patch("/guides/{guide_id}", response_model=GuideOut)
def update_guide(
    guide_id: GuideId, body: GuidePatch, ctx: Context = Depends(require(Perm.GUIDES_WRITE))
):
    guide = service.update_guide(
        ctx.session, ctx.actor, guide_id, **body.model_dump(exclude_unset=True)
    )
    ctx.session.commit()
    return guide


@router.delete("/guides/{guide_id}", status_code=http.HTTP_204_NO_CONTENT)
def delete_guide(guide_id: GuideId, ctx: Context = Depends(require(Perm.GUIDES_WRITE))):
    service.delete_guide(ctx.session, ctx.actor, guide_id)
    ctx.session.commit()
    return Response(status_code=http.HTTP_204_NO_CONTENT)
