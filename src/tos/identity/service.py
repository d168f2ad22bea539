"""Organizations, users and their API keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.core.clock import utcnow
from tos.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tos.db import tenancy
from tos.db.ids import new_id
from tos.identity.actors import SERVICE_ACTOR_TYPES, Actor
from tos.identity.models import ApiKey, Organization, User
from tos.identity.permissions import Role, Scope, may_manage_role
from tos.identity.tokens import display_prefix, hash_token, new_token


def create_organization(
    session: Session, actor: Actor, *, slug: str, name: str, timezone: str, currency: str
) -> Organization:
    if session.scalar(select(Organization.id).where(Organization.slug == slug)):
        raise Conflict(f"organization {slug!r} exists", details={"slug": slug})
    org = Organization(slug=slug, name=name, timezone=timezone, currency=currency, settings={})
    session.add(org)
    session.flush()
    tenancy.set_scope(session, org.id)
    record(session, actor, "organization.created", org)
    return org


def get_organization_by_slug(session: Session, slug: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise NotFound("organization", slug)
    return org


def create_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: Role | str,
    manager_scope: Scope = Scope.ALL,
    actor_type: str = "user",
) -> User:
    role = Role(role)
    if not may_manage_role(manager_scope, role):
        raise Forbidden(f"you may not create a user of role {role.value}")
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict("a user with this email exists", details={"email": email})
    is_service = actor_type in SERVICE_ACTOR_TYPES
    user = User(email=email, name=name, role=role.value, actor_type=actor_type,
                is_service=is_service)  # fmt: skip
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("a user with this email exists", details={"email": email}) from None
    record(session, actor, "user.created", user)
    return user


def get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.organization_id != tenancy.current_org(session):
        raise NotFound("user", user_id)
    return user


def find_user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound("user", email)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.created_at, User.id)))


def create_api_key(
    session: Session,
    actor: Actor,
    *,
    user_id: str | None = None,
    role: Role | str | None = None,
    name: str = "",
    actor_type: str | None = None,
    manager_scope: Scope = Scope.ALL,
) -> tuple[ApiKey, str]:
    """A key for an existing user, or for a new service user of `role`. Returns the row and the
    token, which exists nowhere else: only its SHA-256 is stored."""
    if (user_id is None) == (role is None):
        raise ValidationFailed("give either user_id or role", path=["user_id"])
    if user_id is not None:
        if actor_type is not None:
            raise ValidationFailed(
                "actor_type is fixed when a service user is made (use role)", path=["actor_type"]
            )
        user = get_user(session, user_id)
        if not may_manage_role(manager_scope, user.role):
            raise Forbidden(f"you may not make keys for a user of role {user.role}")
    else:
        assert role is not None
        label = name or f"{Role(role).value} service"
        org_slug = session.get(Organization, tenancy.current_org(session))
        email = f"svc-{new_id()}@{org_slug.slug if org_slug else 'tos'}.invalid"
        user = create_user(
            session, actor, email=email, name=label, role=role,
            manager_scope=manager_scope, actor_type=actor_type or "system",
        )  # fmt: skip
    token = new_token()
    key = ApiKey(
        user_id=user.id, name=name, prefix=display_prefix(token), key_hash=hash_token(token)
    )
    session.add(key)
    record(session, actor, "apikey.created", key)
    return key, token


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_api_key(
    session: Session, actor: Actor, key_id: str, *, manager_scope: Scope = Scope.ALL
) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.id == key_id))
    if key is None:
        raise NotFound("api key", key_id)
    owner = get_user(session, key.user_id)
    if not may_manage_role(manager_scope, owner.role):
        raise Forbidden(f"you may not revoke keys of a user of role {owner.role}")
    if key.revoked_at is None:
        before = snapshot(key)
        key.revoked_at = utcnow()
        record(session, actor, "apikey.revoked", key, before=before)
    return key
