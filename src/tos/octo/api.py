"""OCTO supplier API (octo.travel): resellers book TOS inventory. Routes only parse and answer;
the rules live in the octo modules. Every path answers with and without a trailing slash (the
OCTO OpenAPI file itself spells some with one), and every answer carries Octo-Capabilities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query

from tos.core.clock import utcnow
from tos.octo import bookings, errors  # noqa: F401 - errors registers the /octo envelope
from tos.octo.availability import Request as AvailabilityRequest
from tos.octo.availability import answer, date_range, resolve_option
from tos.octo.capabilities import CAPABILITIES
from tos.octo.context import OctoContext, octo_context
from tos.octo.errors import BadRequest
from tos.octo.pricing import NetTerms, load_terms, org_taxes
from tos.octo.products import Shape, get_product, load_products, product_json
from tos.octo.reseller_api import router as reseller_router
from tos.octo.schemas import (
    AvailabilityIn,
    CalendarIn,
    CancelIn,
    ConfirmIn,
    ExtendIn,
    ReservationIn,
    UpdateIn,
)
from tos.octo.supplier import supplier_json

router = APIRouter()
octo = APIRouter(prefix="/octo", tags=["octo"])
Ctx = Annotated[OctoContext, Depends(octo_context)]
Uuid = Annotated[str, Path(max_length=64)]
Filter = Annotated[str | None, Query(max_length=200)]


def route(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `path` and `path/`; only the first is in the OpenAPI document."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        octo.add_api_route(path, fn, methods=[method])
        octo.add_api_route(path + "/", fn, methods=[method], include_in_schema=False)
        return fn

    return register


def _shape(ctx: OctoContext) -> Shape:
    terms = None
    if ctx.pricing:
        terms = load_terms(ctx.session, ctx.reseller.id, ctx.reseller.commission_bps)
    return Shape(content=ctx.content, pricing=ctx.pricing, terms=terms,
                 taxes=tuple(org_taxes(ctx.organization.settings)))  # fmt: skip


def _today(ctx: OctoContext) -> dt.date:
    return utcnow().astimezone(ZoneInfo(ctx.organization.timezone)).date()


@route("GET", "/capabilities")
def list_capabilities(ctx: Ctx):
    return ctx.respond(CAPABILITIES)


@route("GET", "/supplier")
def get_supplier(ctx: Ctx):
    return ctx.respond(supplier_json(ctx))


@route("GET", "/products")
def list_products(ctx: Ctx):
    shape = _shape(ctx)
    found = load_products(ctx.session, content=ctx.content, today=_today(ctx))
    return ctx.respond([product_json(p, shape) for p in found])


@route("GET", "/products/{id}")
def get_product_route(id: Annotated[str, Path(max_length=64)], ctx: Ctx):  # noqa: A002
    product = get_product(ctx.session, id, content=ctx.content, today=_today(ctx))
    return ctx.respond(product_json(product, _shape(ctx)))


def _availability(ctx: OctoContext, body: AvailabilityIn | CalendarIn, *, calendar: bool):
    option = resolve_option(ctx.session, body.productId, body.optionId)
    ids = tuple(getattr(body, "availabilityIds", None) or ())
    if ids and (body.localDateStart is not None or body.localDateEnd is not None):
        raise BadRequest("give localDateStart and localDateEnd, or availabilityIds, not both")
    date_from = date_to = None
    if not ids:
        date_from, date_to = date_range(body.localDateStart, body.localDateEnd)
    units = tuple((u.id, u.quantity) for u in body.units or () if u.quantity > 0)
    req = AvailabilityRequest(option, date_from, date_to, ids, units)
    terms = NetTerms(None)
    if ctx.pricing:
        terms = load_terms(ctx.session, ctx.reseller.id, ctx.reseller.commission_bps)
    data = answer(
        ctx.session, req, org_id=ctx.org_id, calendar=calendar, now=utcnow(),
        pricing=ctx.pricing, terms=terms, taxes=org_taxes(ctx.organization.settings),
    )  # fmt: skip
    return ctx.raw(data)


@route("POST", "/availability/calendar")
def availability_calendar(body: CalendarIn, ctx: Ctx):
    return _availability(ctx, body, calendar=True)


@route("POST", "/availability")
def availability_check(body: AvailabilityIn, ctx: Ctx):
    return _availability(ctx, body, calendar=False)


def _booking(ctx: OctoContext, result: tuple[Any, Any], *, commit: bool = True):
    if commit:
        ctx.session.commit()
    ob, booking = result
    return ctx.respond(bookings.Renderer(ctx).one(ob, booking))


@route("POST", "/bookings")
def reserve(body: ReservationIn, ctx: Ctx):
    return _booking(ctx, bookings.reserve(ctx, body))


@route("GET", "/bookings")
def list_bookings(
    ctx: Ctx,
    resellerReference: Filter = None,  # noqa: N803 - OCTO's parameter names
    supplierReference: Filter = None,  # noqa: N803
    localDate: Filter = None,  # noqa: N803
    localDateStart: Filter = None,  # noqa: N803
    localDateEnd: Filter = None,  # noqa: N803
    productId: Filter = None,  # noqa: N803
    optionId: Filter = None,  # noqa: N803
):
    pairs = bookings.list_bookings(
        ctx, reseller_reference=resellerReference, supplier_reference=supplierReference,
        local_date=localDate, local_date_start=localDateStart, local_date_end=localDateEnd,
        product_id=productId, option_id=optionId,
    )  # fmt: skip
    return ctx.respond(bookings.Renderer(ctx).many(pairs))


@route("GET", "/bookings/{uuid}")
def get_booking(uuid: Uuid, ctx: Ctx):
    return _booking(ctx, bookings.find(ctx, uuid), commit=False)


@route("PATCH", "/bookings/{uuid}")
def update_booking(uuid: Uuid, body: UpdateIn, ctx: Ctx):
    return _booking(ctx, bookings.update(ctx, uuid, body))


@route("POST", "/bookings/{uuid}/extend")
def extend_booking(uuid: Uuid, ctx: Ctx, body: ExtendIn | None = None):
    return _booking(ctx, bookings.extend(ctx, uuid, body or ExtendIn()))


@route("POST", "/bookings/{uuid}/confirm")
def confirm_booking(uuid: Uuid, body: ConfirmIn, ctx: Ctx):
    return _booking(ctx, bookings.confirm(ctx, uuid, body))


@route("POST", "/bookings/{uuid}/cancel")
def cancel_booking(uuid: Uuid, ctx: Ctx, body: CancelIn | None = None):
    return _booking(ctx, bookings.cancel(ctx, uuid, body or CancelIn()))


router.include_router(octo)
router.include_router(reseller_router)
