"""Cancellation policies over /api/v1. Everyone on the staff reads them (catalog: read); owners
and admins write them (catalog: write). Bodies are here; the rules and their checks across
fields live in catalog/policies.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi import status as http
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tos.catalog import policies
from tos.catalog.fields import InModel, not_null
from tos.catalog.models import CancellationPolicy
from tos.core.money import BASIS_POINTS
from tos.core.pagination import Page, PageParams, page_params, paginate
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm

router = APIRouter(prefix="/api/v1", tags=["policies"])

Read = Annotated[Context, Depends(require(Perm.CATALOG_READ))]
Write = Annotated[Context, Depends(require(Perm.CATALOG_WRITE))]
Params = Annotated[PageParams, Depends(page_params)]

Name = Annotated[str, Field(min_length=1, max_length=100)]
Description = Annotated[str, Field(max_length=2000)]
Hours = Annotated[int, Field(strict=True, ge=0, le=policies.MAX_HOURS)]
Bps = Annotated[int, Field(strict=True, ge=0, le=BASIS_POINTS)]


class Rule(InModel):
    hours_before_tour: Hours = Field(description="applies to cancellations at least this early")
    refund_bps: Bps = Field(description="basis points of the refundable amount (10000 = all)")


Rules = Annotated[
    list[Rule],
    Field(
        min_length=1,
        max_length=policies.MAX_RULES,
        description="hours_before_tour unique; a later cancellation never refunds more; "
        "stored most hours first",
    ),
]


class PolicyIn(InModel):
    name: Name
    description: Description | None = None
    rules: Rules
    is_default: bool = Field(
        default=False,
        description="the policy of tours without their own; setting it unsets the previous one",
    )


class PolicyPatch(InModel):
    name: Name | None = None
    description: Description | None = None
    rules: Rules | None = Field(default=None, description="replaces the whole list")
    is_default: bool | None = None

    _not_null = field_validator("name", "rules", "is_default")(not_null)


class RuleOut(BaseModel):
    hours_before_tour: int
    refund_bps: int


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str | None
    rules: list[RuleOut]
    is_default: bool
    created_at: datetime
    updated_at: datetime


def _fields(body: InModel) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


@router.get("/cancellation-policies", response_model=Page[PolicyOut])
def list_policies(ctx: Read, params: Params):
    stmt = policies.policies_query(ctx.session)
    order = [CancellationPolicy.name, CancellationPolicy.id]
    return paginate(ctx.session, stmt, order, params)


@router.post("/cancellation-policies", response_model=PolicyOut, status_code=http.HTTP_201_CREATED)
def create_policy(body: PolicyIn, ctx: Write):
    policy = policies.create_policy(ctx.session, ctx.actor, fields=body.model_dump())
    ctx.session.commit()
    return policy


@router.get("/cancellation-policies/{policy_id}", response_model=PolicyOut)
def get_policy(policy_id: str, ctx: Read):
    return policies.get_policy(ctx.session, policy_id)


@router.patch("/cancellation-policies/{policy_id}", response_model=PolicyOut)
def update_policy(policy_id: str, body: PolicyPatch, ctx: Write):
    policy = policies.update_policy(ctx.session, ctx.actor, policy_id, fields=_fields(body))
    ctx.session.commit()
    return policy


@router.delete(
    "/cancellation-policies/{policy_id}",
    status_code=http.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def delete_policy(policy_id: str, ctx: Write):
    policies.delete_policy(ctx.session, ctx.actor, policy_id)
    ctx.session.commit()
