"""Pricing rules over /api/v1: a tour's seasonal pricing, promotional codes, automatic rules.
Everyone on the staff reads them (catalog: read); owners and admins write (catalog: write)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi import status as http

from tos.core.pagination import Page, PageParams, page_params, paginate
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.pricing import service
from tos.pricing.models import PricingRule, PromotionalCode, SeasonalPricing
from tos.pricing.schemas import (
    PromoIn,
    PromoOut,
    PromoPatch,
    PromoStatus,
    RuleIn,
    RuleKind,
    RuleOut,
    RulePatch,
    SeasonIn,
    SeasonOut,
    SeasonPatch,
)

router = APIRouter(prefix="/api/v1", tags=["pricing"])

Read = Annotated[Context, Depends(require(Perm.CATALOG_READ))]
Write = Annotated[Context, Depends(require(Perm.CATALOG_WRITE))]
Params = Annotated[PageParams, Depends(page_params)]
# PostgreSQL refuses NUL characters in parameters; refuse them here as a 422 instead.
_TEXT = r"^[^\x00]*$"
_NO_CONTENT = http.HTTP_204_NO_CONTENT


# --- seasonal pricing of a tour


@router.get("/tours/{tour_id}/seasonal-pricing", response_model=Page[SeasonOut])
def list_seasons(tour_id: str, ctx: Read, params: Params):
    stmt = service.seasons_of(ctx.session, tour_id)
    order = [SeasonalPricing.start_date, SeasonalPricing.id]
    return paginate(ctx.session, stmt, order, params)


@router.post(
    "/tours/{tour_id}/seasonal-pricing",
    response_model=SeasonOut,
    status_code=http.HTTP_201_CREATED,
)
def create_season(tour_id: str, body: SeasonIn, ctx: Write):
    season = service.create_season(ctx.session, ctx.actor, tour_id, data=body)
    ctx.session.commit()
    return season


@router.get("/tours/{tour_id}/seasonal-pricing/{season_id}", response_model=SeasonOut)
def get_season(tour_id: str, season_id: str, ctx: Read):
    return service.get_season(ctx.session, tour_id, season_id)


@router.patch("/tours/{tour_id}/seasonal-pricing/{season_id}", response_model=SeasonOut)
def update_season(tour_id: str, season_id: str, body: SeasonPatch, ctx: Write):
    season = service.update_season(ctx.session, ctx.actor, tour_id, season_id, changes=body)
    ctx.session.commit()
    return season


@router.delete(
    "/tours/{tour_id}/seasonal-pricing/{season_id}",
    status_code=_NO_CONTENT,
    response_class=Response,
)
def delete_season(tour_id: str, season_id: str, ctx: Write):
    service.delete_season(ctx.session, ctx.actor, tour_id, season_id)
    ctx.session.commit()


# --- promotional codes


@router.get("/promotional-codes", response_model=Page[PromoOut])
def list_promos(
    ctx: Read,
    params: Params,
    status: PromoStatus | None = Query(None),
    search: str | None = Query(None, max_length=64, pattern=_TEXT, description="code contains"),
):
    stmt = service.promos_query(ctx.session, status=status, search=search)
    return paginate(ctx.session, stmt, [PromotionalCode.code, PromotionalCode.id], params)


@router.post("/promotional-codes", response_model=PromoOut, status_code=http.HTTP_201_CREATED)
def create_promo(body: PromoIn, ctx: Write):
    promo = service.create_promo(
        ctx.session, ctx.actor, data=body, default_currency=ctx.organization.currency
    )
    ctx.session.commit()
    return promo


@router.get("/promotional-codes/{promo_id}", response_model=PromoOut)
def get_promo(promo_id: str, ctx: Read):
    return service.get_promo(ctx.session, promo_id)


@router.patch("/promotional-codes/{promo_id}", response_model=PromoOut)
def update_promo(promo_id: str, body: PromoPatch, ctx: Write):
    promo = service.update_promo(
        ctx.session, ctx.actor, promo_id, changes=body, default_currency=ctx.organization.currency
    )
    ctx.session.commit()
    return promo


@router.delete("/promotional-codes/{promo_id}", status_code=_NO_CONTENT, response_class=Response)
def delete_promo(promo_id: str, ctx: Write):
    service.delete_promo(ctx.session, ctx.actor, promo_id)
    ctx.session.commit()


# --- automatic rules (group, early bird)


@router.get("/pricing-rules", response_model=Page[RuleOut])
def list_rules(
    ctx: Read,
    params: Params,
    kind: RuleKind | None = Query(None),
    tour_id: str | None = Query(None, max_length=36, pattern=_TEXT),
):
    stmt = service.rules_query(ctx.session, kind=kind, tour_id=tour_id)
    return paginate(ctx.session, stmt, [PricingRule.name, PricingRule.id], params)


@router.post("/pricing-rules", response_model=RuleOut, status_code=http.HTTP_201_CREATED)
def create_rule(body: RuleIn, ctx: Write):
    rule = service.create_rule(
        ctx.session, ctx.actor, data=body, default_currency=ctx.organization.currency
    )
    ctx.session.commit()
    return rule


@router.get("/pricing-rules/{rule_id}", response_model=RuleOut)
def get_rule(rule_id: str, ctx: Read):
    return service.get_rule(ctx.session, rule_id)


@router.patch("/pricing-rules/{rule_id}", response_model=RuleOut)
def update_rule(rule_id: str, body: RulePatch, ctx: Write):
    rule = service.update_rule(
        ctx.session, ctx.actor, rule_id, changes=body, default_currency=ctx.organization.currency
    )
    ctx.session.commit()
    return rule


@router.delete("/pricing-rules/{rule_id}", status_code=_NO_CONTENT, response_class=Response)
def delete_rule(rule_id: str, ctx: Write):
    service.delete_rule(ctx.session, ctx.actor, rule_id)
    ctx.session.commit()
