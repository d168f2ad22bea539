"""Customers: list and search, one customer with its booking history, edit, merge."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import false

from tos.bookings.access import rule_for
from tos.core.pagination import Page, PageParams, page_params, paginate
from tos.crm import queries, service
from tos.crm.schemas import (
    ID_PATTERN,
    CustomerDetail,
    CustomerOut,
    CustomerPatch,
    CustomerSource,
    MergeIn,
)
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm, scope_for

router = APIRouter(prefix="/api/v1", tags=["customers"])
CustomerId = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]


def _bookings_rule(ctx: Context) -> Any:
    """Which of a customer's bookings the caller sees: its row rule for reading bookings."""
    scope = scope_for(ctx.user.role, Perm.BOOKINGS_READ)
    if scope is None:
        return false()
    return rule_for(ctx, scope)


def _detail(ctx: Context, customer: Any) -> dict[str, Any]:
    return queries.customer_detail(ctx.session, customer, _bookings_rule(ctx))


@router.get("/customers", response_model=Page[CustomerOut])
def list_customers(
    search: str | None = Query(None, max_length=200, description="email, name or phone"),
    tag: str | None = Query(None, max_length=60),
    source: CustomerSource | None = Query(None),
    params: PageParams = Depends(page_params),
    ctx: Context = Depends(require(Perm.CUSTOMERS_READ)),
):
    stmt = queries.list_stmt(ctx.session, search=search, tag=tag, source=source)
    rule = _bookings_rule(ctx)
    return paginate(
        ctx.session,
        stmt,
        queries.ORDER,
        params,
        descending=True,
        transform_page=lambda rows: queries.page_out(ctx.session, rows, rule),
    )


@router.get("/customers/{customer_id}", response_model=CustomerDetail)
def get_customer(customer_id: CustomerId, ctx: Context = Depends(require(Perm.CUSTOMERS_READ))):
    return _detail(ctx, service.get_customer(ctx.session, customer_id))


@router.patch("/customers/{customer_id}", response_model=CustomerDetail)
def update_customer(
    customer_id: CustomerId,
    body: CustomerPatch,
    ctx: Context = Depends(require(Perm.CUSTOMERS_WRITE)),
):
    customer = service.update_customer(
        ctx.session, ctx.actor, customer_id, **body.model_dump(exclude_unset=True)
    )
    out = _detail(ctx, customer)
    ctx.session.commit()
    return out


@router.post("/customers/{customer_id}/merge", response_model=CustomerDetail)
def merge_customer(
    customer_id: CustomerId, body: MergeIn, ctx: Context = Depends(require(Perm.CUSTOMERS_WRITE))
):
    """Merge `other_id` into this customer, which answers as the survivor."""
    survivor = service.merge_customers(ctx.session, ctx.actor, customer_id, body.other_id)
    out = _detail(ctx, survivor)
    ctx.session.commit()
    return out
