from __future__ import annotations

from fastapi import APIRouter, Depends, status

from tos.identity import service
from tos.identity.auth import Context, require
from tos.identity.permissions import Perm
from tos.identity.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut, StaffIn, StaffOut

router = APIRouter(prefix="/api/v1", tags=["identity"])


@router.get("/staff", response_model=list[StaffOut])
def list_staff(ctx: Context = Depends(require(Perm.USERS_MANAGE))):
    return service.list_users(ctx.session)


@router.post("/staff", response_model=StaffOut, status_code=status.HTTP_201_CREATED)
def create_staff(body: StaffIn, ctx: Context = Depends(require(Perm.USERS_MANAGE))):
    user = service.create_user(
        ctx.session, ctx.actor, email=body.email, name=body.name, role=body.role,
        manager_scope=ctx.scope,
    )  # fmt: skip
    ctx.session.commit()
    return user


@router.get("/api-keys", response_model=list[ApiKeyOut])
def list_api_keys(ctx: Context = Depends(require(Perm.USERS_MANAGE))):
    return service.list_api_keys(ctx.session)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_api_key(body: ApiKeyIn, ctx: Context = Depends(require(Perm.USERS_MANAGE))):
    key, token = service.create_api_key(
        ctx.session, ctx.actor, user_id=body.user_id, role=body.role, name=body.name,
        actor_type=body.actor_type, manager_scope=ctx.scope,
    )  # fmt: skip
    ctx.session.commit()
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(key).model_dump(),
                                         "token": token})  # fmt: skip


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut)
def revoke_api_key(key_id: str, ctx: Context = Depends(require(Perm.USERS_MANAGE))):
    key = service.revoke_api_key(ctx.session, ctx.actor, key_id, manager_scope=ctx.scope)
    ctx.session.commit()
    return key
