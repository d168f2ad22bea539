from __future__ import annotations

import datetime as dt
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi import status as http

from tos.core.clock import utcnow
from tos.core.pagination import Page, PageParams, page_params, paginate
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.inventory import queries, service
from tos.inventory.availability import build_availability, check_range
from tos.inventory.cache import Entry, availability_cache
from tos.inventory.schemas import (
    ID_PATTERN,
    AvailabilityOut,
    GenerateIn,
    GenerateOut,
    ScheduleIn,
    ScheduleOut,
    SchedulePatch,
    ScheduleStatus,
    schedule_out,
)

router = APIRouter(prefix="/api/v1", tags=["inventory"])
PathId = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]
QueryId = Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)]


def _own(ctx: Context) -> str | None:
    return ctx.user.id if ctx.own_only else None


@router.post("/schedules", response_model=list[ScheduleOut], status_code=http.HTTP_201_CREATED)
def create_schedules(body: ScheduleIn, ctx: Context = Depends(require(Perm.SCHEDULES_CREATE))):
    fields = body.model_dump(exclude={"capacity"})
    if "capacity" in body.model_fields_set:
        fields["capacity"] = body.capacity
    schedules = service.create_schedules(ctx.session, ctx.actor, **fields)
    ctx.session.commit()
    return [schedule_out(s) for s in schedules]


@router.post(
    "/variants/{variant_id}/generate-schedules",
    response_model=GenerateOut,
    status_code=http.HTTP_201_CREATED,
)
def generate_schedules(
    variant_id: PathId, body: GenerateIn, ctx: Context = Depends(require(Perm.SCHEDULES_CREATE))
):
    result = service.generate_schedules(
        ctx.session, ctx.actor, variant_id, date_from=body.date_from, date_to=body.date_to
    )
    ctx.session.commit()
    return result


@router.get("/schedules", response_model=Page[ScheduleOut])
def list_schedules(
    tour_id: QueryId = None,
    variant_id: QueryId = None,
    date_from: dt.date | None = Query(None),
    date_to: dt.date | None = Query(None),
    status: ScheduleStatus | None = Query(None),
    guide_id: QueryId = None,
    params: PageParams = Depends(page_params),
    ctx: Context = Depends(require(Perm.SCHEDULES_READ)),
):
    stmt = queries.list_schedules_stmt(
        tour_id=tour_id, variant_id=variant_id, date_from=date_from, date_to=date_to,
        status=status, guide_id=guide_id, own_user_id=_own(ctx),
    )  # fmt: skip
    return paginate(ctx.session, stmt, queries.SCHEDULE_ORDER, params, transform=schedule_out)


@router.get("/schedules/{schedule_id}", response_model=ScheduleOut)
def get_schedule(schedule_id: PathId, ctx: Context = Depends(require(Perm.SCHEDULES_READ))):
    return schedule_out(queries.get_schedule(ctx.session, schedule_id, own_user_id=_own(ctx)))


@router.patch("/schedules/{schedule_id}", response_model=ScheduleOut)
def update_schedule(
    schedule_id: PathId,
    body: SchedulePatch,
    ctx: Context = Depends(require(Perm.SCHEDULES_UPDATE)),
):
    schedule = service.update_schedule(
        ctx.session, ctx.actor, schedule_id, **body.model_dump(exclude_unset=True)
    )
    ctx.session.commit()
    return schedule_out(schedule)


@router.get("/availability", response_model=AvailabilityOut)
def get_availability(
    tour_id: Annotated[str, Query(max_length=64, pattern=ID_PATTERN)],
    date_from: dt.date = Query(...),
    date_to: dt.date = Query(...),
    variant_id: QueryId = None,
    include_unavailable: bool = Query(False),
    ctx: Context = Depends(require(Perm.CATALOG_READ)),
):
    check_range(date_from, date_to)
    now = utcnow()
    # One cheap read decides whether the cached answer still holds (ARCHITECTURE: a cache is
    # allowed only if a seat change is visible to the very next request in every process).
    version = queries.inventory_version(ctx.session, tour_id)
    key = (ctx.org_id, tour_id, variant_id, date_from, date_to, include_unavailable)
    cached = availability_cache.get(key, version=version, now=now)
    if cached is None:
        tour = queries.availability_tour(
            ctx.session, tour_id, date_from=date_from, date_to=date_to, variant_id=variant_id
        )
        rows = queries.availability_schedules(
            ctx.session, tour_id, date_from=date_from, date_to=date_to, variant_id=variant_id,
            include_unavailable=include_unavailable, now=now,
        )  # fmt: skip
        body = build_availability(tour, rows, now=now)
        cached = orjson.dumps(body, option=orjson.OPT_UTC_Z)
        upcoming = [r.starts_at for r in rows if r.starts_at > now]
        availability_cache.put(key, Entry(version, min(upcoming, default=None), cached))
    # The hot read path: serialised straight from plain data; the response_model documents it.
    return Response(cached, media_type="application/json")
