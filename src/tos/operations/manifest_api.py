"""Guide manifests (seed 003 `schedule.getManifest` and the daily manifest): read with
"schedules and manifests: read"; a guide sees only the departures it leads, others are 404."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.operations import manifests
from tos.operations.schemas import ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["manifests"])
PathId = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]


class GuideRef(BaseModel):
    id: str
    name: str
    phone: str | None


class ManifestSchedule(BaseModel):
    id: str
    tour_id: str
    tour_name: str
    variant_id: str
    variant_name: str
    date: dt.date
    start_time: str  # HH:MM, local to `timezone`
    end_time: str
    timezone: str
    status: str  # open | full | closed | cancelled | completed
    capacity: int | None
    seats_taken: int
    meeting_point: dict[str, Any] | None
    special_instructions: str | None
    guide: GuideRef | None


class TierCount(BaseModel):
    tier: str
    unit_type: str | None
    quantity: int


class Participant(BaseModel):
    first_name: str
    last_name: str
    age: int | None
    tier: str


class ManifestCustomer(BaseModel):
    name: str
    email: str
    phone: str | None


class Money(BaseModel):
    amount: int
    currency: str


class ManifestBooking(BaseModel):
    booking_id: str
    reference: str
    status: str
    customer: ManifestCustomer
    participants_count: int
    participants_by_tier: list[TierCount]
    participants: list[Participant]
    special_requests: str | None
    dietary_restrictions: str | None
    payment_status: str
    balance_due: Money


class ManifestTotals(BaseModel):
    bookings: int
    participants: int
    participants_by_tier: list[TierCount]
    unpaid_bookings: int  # bookings with a balance due


class Manifest(BaseModel):
    schedule: ManifestSchedule
    bookings: list[ManifestBooking]  # by customer last name, then reference
    totals: ManifestTotals


class ManifestList(BaseModel):
    items: list[Manifest]
    next_cursor: None = None  # one day's departures always come whole
    total_count: int


def _own(ctx: Context) -> str | None:
    return ctx.user.id if ctx.own_only else None


@router.get(
    "/schedules/{schedule_id}/manifest",
    response_model=Manifest,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
def get_manifest(
    schedule_id: PathId,
    format: Literal["json", "csv"] = Query("json", description="csv: one row per booking"),
    ctx: Context = Depends(require(Perm.SCHEDULES_READ)),
):
    m = manifests.manifest(ctx.session, schedule_id, own_user_id=_own(ctx))
    if format == "csv":
        return Response(
            manifests.to_csv(m),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{manifests.csv_filename(m)}"'},
        )
    return m


@router.get("/manifests", response_model=ManifestList)
def list_manifests(
    date: dt.date = Query(..., description="the departures' local date"),
    guide_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    ctx: Context = Depends(require(Perm.SCHEDULES_READ)),
):
    """A guide gets its own departures (guide_id defaults to its own profile; another guide's
    id is 404); other roles get one guide's, or every departure of the date without guide_id."""
    items = manifests.manifests_for_day(ctx.session, date, guide_id=guide_id, own_user_id=_own(ctx))
    return {"items": items, "total_count": len(items)}
