"""`/api/v1/websites`: the registered source websites (owner and admin, unlimited by website
grants), their keys, secrets and package mappings; and users' website grants."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status
from sqlalchemy import select

from tos.audit import changes
from tos.channels import grants, websites
from tos.channels.models import PackageMapping, Website
from tos.channels.presenters import website_out
from tos.channels.website_schemas import (
    GrantsIn,
    GrantsOut,
    PackageMappingIn,
    PackageMappingOut,
    RotatedKey,
    RotatedSecret,
    RotateIn,
    WebsiteOut,
    WebsitePatch,
)
from tos.core.errors import NotFound
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm

router = APIRouter(prefix="/api/v1", tags=["channels"])
MANAGE = require(Perm.CHANNELS_MANAGE)


@router.get("/websites", response_model=list[WebsiteOut])
def list_websites(include_deleted: bool = False, ctx: Context = Depends(MANAGE)):
    stmt = select(Website).order_by(Website.slug)
    if not include_deleted:
        stmt = stmt.where(Website.deleted_at.is_(None))
    return [website_out(w) for w in ctx.session.scalars(stmt)]


@router.get("/websites/{ref}", response_model=WebsiteOut)
def get_website(ref: str, ctx: Context = Depends(MANAGE)):
    return website_out(websites.get(ctx.session, ref, include_deleted=True))


@router.patch("/websites/{ref}", response_model=WebsiteOut)
def update_website(ref: str, body: WebsitePatch, ctx: Context = Depends(MANAGE)):
    website = websites.get(ctx.session, ref)
    fields = body.model_dump(exclude_unset=True)
    if "is_active" in fields:
        fields["active"] = fields.pop("is_active")
    changes.apply(ctx.session, ctx.actor, website, fields, entity="website")
    ctx.session.commit()
    return website_out(website)


@router.post("/websites/{ref}/deactivate", response_model=WebsiteOut)
def deactivate_website(ref: str, ctx: Context = Depends(MANAGE)):
    website = websites.deactivate(ctx.session, ctx.actor, websites.get(ctx.session, ref),
                                  delete=False)  # fmt: skip
    ctx.session.commit()
    return website_out(website)


@router.delete("/websites/{ref}", response_model=WebsiteOut)
def delete_website(ref: str, ctx: Context = Depends(MANAGE)):
    """Soft: its bookings and logs keep their website; its key answers WEBSITE_NOT_FOUND."""
    website = websites.deactivate(ctx.session, ctx.actor, websites.get(ctx.session, ref),
                                  delete=True)  # fmt: skip
    ctx.session.commit()
    return website_out(website)


@router.post("/websites/{ref}/rotate-key", response_model=RotatedKey)
def rotate_key(ref: str, body: RotateIn | None = None, ctx: Context = Depends(MANAGE)):
    grace = (body or RotateIn()).grace_hours
    creds = websites.rotate_key(ctx.session, ctx.actor, websites.get(ctx.session, ref),
                                grace_hours=grace)  # fmt: skip
    ctx.session.commit()
    return RotatedKey(website=website_out(creds.website), api_key=creds.api_key)


@router.post("/websites/{ref}/rotate-secret", response_model=RotatedSecret)
def rotate_secret(ref: str, ctx: Context = Depends(MANAGE)):
    creds = websites.rotate_secret(ctx.session, ctx.actor, websites.get(ctx.session, ref))
    ctx.session.commit()
    assert creds.webhook_secret is not None
    return RotatedSecret(website=website_out(creds.website), webhook_secret=creds.webhook_secret)


@router.get("/websites/{ref}/packages", response_model=list[PackageMappingOut])
def list_packages(ref: str, ctx: Context = Depends(MANAGE)):
    website = websites.get(ctx.session, ref)
    return ctx.session.scalars(
        select(PackageMapping)
        .where(PackageMapping.website_id == website.id)
        .order_by(PackageMapping.package_name)
    ).all()


@router.put("/websites/{ref}/packages", response_model=PackageMappingOut)
def map_package(ref: str, body: PackageMappingIn, ctx: Context = Depends(MANAGE)):
    """Bookings of this package take seats on the variant's departure at their date and time."""
    mapping = websites.set_package_mapping(
        ctx.session, ctx.actor, websites.get(ctx.session, ref), package_name=body.package_name,
        variant_id=body.variant_id, pricing_tier_id=body.pricing_tier_id,
    )  # fmt: skip
    ctx.session.commit()
    return mapping


@router.delete("/websites/{ref}/packages/{mapping_id}", status_code=status.HTTP_204_NO_CONTENT)
def unmap_package(ref: str, mapping_id: str, ctx: Context = Depends(MANAGE)):
    website = websites.get(ctx.session, ref)
    mapping = ctx.session.scalar(
        select(PackageMapping).where(
            PackageMapping.id == mapping_id, PackageMapping.website_id == website.id
        )
    )
    if mapping is None:
        raise NotFound("package mapping", mapping_id)
    changes.delete(ctx.session, ctx.actor, mapping, entity="website_package",
                   wording="package mapping")  # fmt: skip
    ctx.session.commit()


@router.get("/staff/{user_id}/websites", response_model=GrantsOut)
def get_grants(user_id: str, ctx: Context = Depends(require(Perm.USERS_MANAGE))):
    return grants.of_user(ctx.session, user_id)


@router.put("/staff/{user_id}/websites", response_model=GrantsOut)
def set_grants(user_id: str, body: GrantsIn, ctx: Context = Depends(require(Perm.USERS_MANAGE))):
    """Limit a user to these websites (seed 002: "some users only see specific ones"); an
    empty list lifts the limit."""
    out = grants.set_for_user(ctx.session, ctx.actor, user_id, body.websites,
                              manager_scope=ctx.scope)  # fmt: skip
    ctx.session.commit()
    return out
