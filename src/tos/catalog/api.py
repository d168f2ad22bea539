from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi import status as http

from tos.catalog import parts, queries, service
from tos.catalog.models import PricingTier, Tour, TourFaq, TourInclusion, Variant
from tos.catalog.schemas import (
    FaqIn,
    FaqOut,
    FaqPatch,
    InclusionIn,
    InclusionOut,
    InclusionPatch,
    InclusionType,
    PricingTierIn,
    PricingTierOut,
    PricingTierPatch,
    TourDetailOut,
    TourIn,
    TourOut,
    TourPatch,
    TourStatus,
    VariantIn,
    VariantOut,
    VariantPatch,
)
from tos.core.pagination import Page, PageParams, page_params, paginate
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm

router = APIRouter(prefix="/api/v1", tags=["catalog"])

Read = Annotated[Context, Depends(require(Perm.CATALOG_READ))]
Write = Annotated[Context, Depends(require(Perm.CATALOG_WRITE))]
Params = Annotated[PageParams, Depends(page_params)]
# PostgreSQL refuses NUL characters in parameters; refuse them here as a 422 instead.
_TEXT = r"^[^\x00]*$"


# --- tours


@router.get("/tours", response_model=Page[TourOut])
def list_tours(
    ctx: Read,
    params: Params,
    status: TourStatus | None = Query(None),
    q: str | None = Query(None, max_length=200, pattern=_TEXT, description="name or slug"),
    destination: str | None = Query(None, max_length=2, pattern=_TEXT, description="ISO 3166"),
    style: str | None = Query(None, max_length=60, pattern=_TEXT),
):
    stmt = queries.tours_query(
        ctx.session, status=status, q=q, destination=destination, style=style
    )
    return paginate(ctx.session, stmt, [Tour.id], params)


@router.post("/tours", response_model=TourOut, status_code=http.HTTP_201_CREATED)
def create_tour(body: TourIn, ctx: Write):
    tour = service.create_tour(
        ctx.session, ctx.actor, data=body, default_timezone=ctx.organization.timezone
    )
    ctx.session.commit()
    return tour


@router.get("/tours/{tour_id}", response_model=TourDetailOut)
def get_tour(tour_id: str, ctx: Read):
    return queries.tour_detail(ctx.session, tour_id)


@router.patch("/tours/{tour_id}", response_model=TourOut)
def update_tour(tour_id: str, body: TourPatch, ctx: Write):
    tour = service.update_tour(ctx.session, ctx.actor, tour_id, changes=body)
    ctx.session.commit()
    return tour


@router.delete("/tours/{tour_id}", status_code=http.HTTP_204_NO_CONTENT, response_class=Response)
def delete_tour(tour_id: str, ctx: Write):
    service.delete_tour(ctx.session, ctx.actor, tour_id)
    ctx.session.commit()


# --- variants


@router.get("/tours/{tour_id}/variants", response_model=Page[VariantOut])
def list_variants(tour_id: str, ctx: Read, params: Params):
    stmt = queries.parts_of(ctx.session, Variant, tour_id)
    return paginate(ctx.session, stmt, queries.part_order(Variant), params)


@router.post(
    "/tours/{tour_id}/variants", response_model=VariantOut, status_code=http.HTTP_201_CREATED
)
def create_variant(tour_id: str, body: VariantIn, ctx: Write):
    variant = parts.create_variant(ctx.session, ctx.actor, tour_id, data=body)
    ctx.session.commit()
    return variant


@router.get("/tours/{tour_id}/variants/{variant_id}", response_model=VariantOut)
def get_variant(tour_id: str, variant_id: str, ctx: Read):
    return queries.get_part(ctx.session, Variant, tour_id, variant_id)


@router.patch("/tours/{tour_id}/variants/{variant_id}", response_model=VariantOut)
def update_variant(tour_id: str, variant_id: str, body: VariantPatch, ctx: Write):
    variant = parts.update_variant(ctx.session, ctx.actor, tour_id, variant_id, changes=body)
    ctx.session.commit()
    return variant


@router.delete(
    "/tours/{tour_id}/variants/{variant_id}",
    status_code=http.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def delete_variant(tour_id: str, variant_id: str, ctx: Write):
    parts.delete_variant(ctx.session, ctx.actor, tour_id, variant_id)
    ctx.session.commit()


# --- pricing tiers


@router.get("/tours/{tour_id}/pricing-tiers", response_model=Page[PricingTierOut])
def list_tiers(tour_id: str, ctx: Read, params: Params):
    stmt = queries.parts_of(ctx.session, PricingTier, tour_id)
    return paginate(ctx.session, stmt, queries.part_order(PricingTier), params)


@router.post(
    "/tours/{tour_id}/pricing-tiers",
    response_model=PricingTierOut,
    status_code=http.HTTP_201_CREATED,
)
def create_tier(tour_id: str, body: PricingTierIn, ctx: Write):
    tier = parts.create_tier(
        ctx.session, ctx.actor, tour_id, data=body, default_currency=ctx.organization.currency
    )
    ctx.session.commit()
    return tier


@router.get("/tours/{tour_id}/pricing-tiers/{tier_id}", response_model=PricingTierOut)
def get_tier(tour_id: str, tier_id: str, ctx: Read):
    return queries.get_part(ctx.session, PricingTier, tour_id, tier_id)


@router.patch("/tours/{tour_id}/pricing-tiers/{tier_id}", response_model=PricingTierOut)
def update_tier(tour_id: str, tier_id: str, body: PricingTierPatch, ctx: Write):
    tier = parts.update_tier(ctx.session, ctx.actor, tour_id, tier_id, changes=body)
    ctx.session.commit()
    return tier


@router.delete(
    "/tours/{tour_id}/pricing-tiers/{tier_id}",
    status_code=http.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def delete_tier(tour_id: str, tier_id: str, ctx: Write):
    parts.delete_part(ctx.session, ctx.actor, PricingTier, tour_id, tier_id)
    ctx.session.commit()


# --- FAQs


@router.get("/tours/{tour_id}/faqs", response_model=Page[FaqOut])
def list_faqs(tour_id: str, ctx: Read, params: Params):
    stmt = queries.parts_of(ctx.session, TourFaq, tour_id)
    return paginate(ctx.session, stmt, queries.part_order(TourFaq), params)


@router.post("/tours/{tour_id}/faqs", response_model=FaqOut, status_code=http.HTTP_201_CREATED)
def create_faq(tour_id: str, body: FaqIn, ctx: Write):
    faq = parts.create_faq(ctx.session, ctx.actor, tour_id, data=body)
    ctx.session.commit()
    return faq


@router.get("/tours/{tour_id}/faqs/{faq_id}", response_model=FaqOut)
def get_faq(tour_id: str, faq_id: str, ctx: Read):
    return queries.get_part(ctx.session, TourFaq, tour_id, faq_id)


@router.patch("/tours/{tour_id}/faqs/{faq_id}", response_model=FaqOut)
def update_faq(tour_id: str, faq_id: str, body: FaqPatch, ctx: Write):
    faq = parts.update_faq(ctx.session, ctx.actor, tour_id, faq_id, changes=body)
    ctx.session.commit()
    return faq


@router.delete(
    "/tours/{tour_id}/faqs/{faq_id}", status_code=http.HTTP_204_NO_CONTENT, response_class=Response
)
def delete_faq(tour_id: str, faq_id: str, ctx: Write):
    parts.delete_part(ctx.session, ctx.actor, TourFaq, tour_id, faq_id)
    ctx.session.commit()


# --- inclusions and exclusions


@router.get("/tours/{tour_id}/inclusions", response_model=Page[InclusionOut])
def list_inclusions(
    tour_id: str, ctx: Read, params: Params, type: InclusionType | None = Query(None)
):
    stmt = queries.parts_of(ctx.session, TourInclusion, tour_id)
    if type is not None:
        stmt = stmt.where(TourInclusion.type == type)
    return paginate(ctx.session, stmt, queries.part_order(TourInclusion), params)


@router.post(
    "/tours/{tour_id}/inclusions",
    response_model=InclusionOut,
    status_code=http.HTTP_201_CREATED,
)
def create_inclusion(tour_id: str, body: InclusionIn, ctx: Write):
    inclusion = parts.create_inclusion(ctx.session, ctx.actor, tour_id, data=body)
    ctx.session.commit()
    return inclusion


@router.get("/tours/{tour_id}/inclusions/{inclusion_id}", response_model=InclusionOut)
def get_inclusion(tour_id: str, inclusion_id: str, ctx: Read):
    return queries.get_part(ctx.session, TourInclusion, tour_id, inclusion_id)


@router.patch("/tours/{tour_id}/inclusions/{inclusion_id}", response_model=InclusionOut)
def update_inclusion(tour_id: str, inclusion_id: str, body: InclusionPatch, ctx: Write):
    inclusion = parts.update_inclusion(ctx.session, ctx.actor, tour_id, inclusion_id, changes=body)
    ctx.session.commit()
    return inclusion


@router.delete(
    "/tours/{tour_id}/inclusions/{inclusion_id}",
    status_code=http.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def delete_inclusion(tour_id: str, inclusion_id: str, ctx: Write):
    parts.delete_part(ctx.session, ctx.actor, TourInclusion, tour_id, inclusion_id)
    ctx.session.commit()
