"""Seed 003's public booking procedures for the website's own checkout: create (booking.create,
answering BookingCreationResponse), getByReference and the customer's cancel, in snake_case.

No authentication: the organization comes from `?org=<slug>` (organizations have no host or
domain mapping yet), every request is rate-limited per client IP, and a booking is shown or
cancelled only to whoever gives its reference with its customer's email — any mismatch is the
same 404 as an unknown reference. Amounts are Money objects {amount (minor units), currency}.
The caller acts as a `customer` actor named by the email it gave."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from tos.bookings.self_service import (
    CheckoutIn,
    CustomerCancelIn,
    cancel_by_customer,
    checkout,
    find_for_customer,
    organization_by_slug,
    public_view,
)
from tos.core.ratelimit import RateLimitedRoute, rate_limit
from tos.db.deps import request_session

router = APIRouter(prefix="/public/v1", tags=["public checkout"], route_class=RateLimitedRoute)

_TEXT = r"^[^\x00]*$"
OrgSlug = Annotated[
    str, Query(min_length=1, max_length=64, pattern=_TEXT, description="organization slug")
]
Session_ = Annotated[Session, Depends(request_session)]


@router.post(
    "/checkout",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(rate_limit("write"))],
    responses={409: {"description": "CAPACITY_EXCEEDED, SCHEDULE_NOT_OPEN, promo code"},
               429: {"description": "RATE_LIMITED"},
               503: {"description": "PAYMENTS_NOT_CONFIGURED: nothing was created"}},
)  # fmt: skip
def create_checkout(
    body: CheckoutIn,
    session: Session_,
    org: OrgSlug,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=255),
):
    """Seed 003's public booking.create: the booking held for the organization's hold time,
    with a payment intent whose `client` payload the browser opens."""
    organization = organization_by_slug(session, org)
    code, out, replayed = checkout(session, organization, body, idempotency_key)
    if replayed:
        session.rollback()
        return JSONResponse(out, status_code=code, headers={"Idempotent-Replayed": "true"})
    session.commit()
    return JSONResponse(out, status_code=code)


@router.get("/bookings/{reference}", dependencies=[Depends(rate_limit("lookup"))])
def get_public_booking(
    reference: Annotated[str, Path(max_length=40)],
    session: Session_,
    org: OrgSlug,
    email: Annotated[str, Query(min_length=1, max_length=320)],
):
    """Seed 003's getByReference: only with the email the booking was made with."""
    organization_by_slug(session, org)
    return public_view(session, find_for_customer(session, reference, email))


@router.post("/bookings/{reference}/cancel", dependencies=[Depends(rate_limit("write"))])
def cancel_public_booking(
    reference: Annotated[str, Path(max_length=40)],
    body: CustomerCancelIn,
    session: Session_,
    org: OrgSlug,
):
    """Seed 003's cancelByCustomer: the tour's cancellation policy decides the refund."""
    organization = organization_by_slug(session, org)
    booking = find_for_customer(session, reference, body.email, lock=True)
    refund = cancel_by_customer(session, organization, booking, body.email, body.reason)
    session.commit()
    return {"booking": public_view(session, booking), "refund": refund}
