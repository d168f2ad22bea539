"""The caller's own organization: every staff role reads it, owners and admins change it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from tos.identity import organization
from tos.identity.auth import Context, require
from tos.identity.organization import OrganizationOut, OrganizationPatch
from tos.identity.permissions import Perm

router = APIRouter(prefix="/api/v1", tags=["organization"])

# Everyone on the staff needs the timezone, currency and booking rules (catalog: read).
Read = Annotated[Context, Depends(require(Perm.CATALOG_READ))]
Write = Annotated[Context, Depends(require(Perm.ORGANIZATION_WRITE))]


@router.get("/organization", response_model=OrganizationOut)
def get_organization(ctx: Read):
    # The request context read the row with the API key: no second query.
    return organization.view(ctx.organization)


@router.patch("/organization", response_model=OrganizationOut)
def update_organization(body: OrganizationPatch, ctx: Write):
    org = organization.update_organization(ctx.session, ctx.actor, ctx.org_id, changes=body)
    ctx.session.commit()
    return organization.view(org)
