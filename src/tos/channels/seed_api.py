"""Seed 002's own dashboard endpoints: `POST /api/websites`, `GET /api/bookings`,
`PUT /api/bookings/{id}` (Bearer-authenticated staff; seed 002's `{success, …}` envelope)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from tos.bookings import queries
from tos.bookings.access import rule_for, visible_booking
from tos.bookings.models import Booking
from tos.channels import (
    edits,
    envelope,  # noqa: F401 - registers seed 002's error envelope
    views,
    websites,
)
from tos.channels.presenters import website_out
from tos.channels.views import SeedBookingList, SeedBookingPatch, SeedBookingUpdated
from tos.channels.website_schemas import WebsiteCreated, WebsiteIn
from tos.channels.websites import website_ref_to_id
from tos.core.pagination import PageParams, page_params, paginate
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm

router = APIRouter(tags=["seed 002: channels hub"])


@router.post("/api/websites", response_model=WebsiteCreated, status_code=status.HTTP_201_CREATED)
def register_website(body: WebsiteIn, ctx: Context = Depends(require(Perm.CHANNELS_MANAGE))):
    creds = websites.register(
        ctx.session, ctx.actor, slug=body.id, name=body.name, domain=body.domain,
        webhook_url=body.webhook_url, webhook_secret=body.webhook_secret,
        logo_url=body.logo_url, active=body.is_active,
        messages_customers=body.messages_customers,
    )  # fmt: skip
    ctx.session.commit()
    return WebsiteCreated(website=website_out(creds.website), api_key=creds.api_key,
                          webhook_secret=creds.webhook_secret)  # fmt: skip


@router.get("/api/bookings", response_model=SeedBookingList)
def list_bookings(
    website: str | None = Query(None, max_length=64, description="a website's id (slug)"),
    status_: str | None = Query(
        None, alias="status", max_length=200,
        description="seed 002 statuses (pending, confirmed, completed, no_show, cancelled, "
        "refunded) or TOS lifecycle statuses, comma-separated",
    ),
    activity_date_from: dt.date | None = None,
    activity_date_to: dt.date | None = None,
    search: str | None = Query(None, max_length=200,
                               description="booking ref, TOS reference, customer name or email"),
    params: PageParams = Depends(page_params),
    ctx: Context = Depends(require(Perm.BOOKINGS_READ)),
):  # fmt: skip
    """Every booking the caller may see — synced ones beside direct ones — newest first, in
    seed 002's shape (whole currency units, seed statuses)."""
    stmt = queries.list_query(
        rule=rule_for(ctx), status=views.status_filter(status_), date_from=activity_date_from,
        date_to=activity_date_to, search=search,
        website_ids=[website_ref_to_id(ctx.session, website)] if website else None,
    )  # fmt: skip
    page = paginate(ctx.session, stmt, [Booking.created_at, Booking.id], params,
                    transform_page=lambda rows: views.seed_bookings(ctx.session, rows),
                    descending=True)  # fmt: skip
    return SeedBookingList(bookings=page["items"], next_cursor=page["next_cursor"],
                           total_count=page["total_count"])  # fmt: skip


@router.put("/api/bookings/{booking_id}", response_model=SeedBookingUpdated)
def update_booking(
    booking_id: Annotated[str, Path(max_length=36)], body: SeedBookingPatch,
    ctx: Context = Depends(require(Perm.BOOKINGS_WRITE)),
):  # fmt: skip
    """Staff edit a booking; a synced one's website receives only the changed fields by a signed
    webhook (`booking.updated`)."""
    booking = visible_booking(ctx, booking_id, lock=True)
    changed = edits.apply_staff_edit(ctx, booking, body)
    ctx.session.commit()
    view = views.seed_bookings(ctx.session, [booking])[0]
    message = "Booking updated" if changed else "Nothing changed"
    return SeedBookingUpdated(booking=view, updated_fields=sorted(changed), message=message)
