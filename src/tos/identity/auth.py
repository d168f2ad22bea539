"""Authentication and authorization, in one place: `require(perm)` is the route dependency that
turns a bearer API key into the request context (session, actor, organization, scope)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.core.errors import Forbidden, Unauthenticated
from tos.db import tenancy
from tos.db.deps import open_request_session
from tos.identity.actors import Actor
from tos.identity.models import ApiKey, Organization, User
from tos.identity.permissions import Perm, Role, Scope, scope_for
from tos.identity.tokens import TOKEN_PREFIX, hash_token


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user, read in the same query as the key (no ORM load per request)."""

    id: str
    name: str
    role: str
    actor_type: str
    # Website grants (seed 002): the websites this user is limited to; empty = no limit.
    website_grants: tuple[str, ...] = ()

    @property
    def website_limited(self) -> bool:
        return bool(self.website_grants)


@dataclass(frozen=True, slots=True)
class Org:
    id: str
    slug: str
    name: str
    timezone: str
    currency: str
    settings: dict[str, Any]


@dataclass(slots=True)
class Context:
    session: Session
    actor: Actor
    organization: Org
    user: Caller
    scope: Scope

    @property
    def org_id(self) -> str:
        return self.organization.id

    @property
    def own_only(self) -> bool:
        return self.scope is Scope.OWN

    def ensure(self, perm: Perm) -> Scope:
        """A second permission for the same request (e.g. a money transition), checked against
        the same table."""
        scope = scope_for(self.user.role, perm)
        if scope is None:
            raise Forbidden(f"role {self.user.role} may not {perm.value}")
        return scope


# API.md "Website grants": a limited admin cannot manage websites, users or keys.
_UNLIMITED_ONLY = frozenset({Perm.CHANNELS_MANAGE, Perm.USERS_MANAGE})


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        raise Unauthenticated()
    return token.strip()


_AUTH_QUERY = (
    select(
        ApiKey.key_hash,
        User.id,
        User.name,
        User.role,
        User.actor_type,
        User.website_grants,
        Organization.id,
        Organization.slug,
        Organization.name,
        Organization.timezone,
        Organization.currency,
        Organization.settings,
    )
    .join(User, User.id == ApiKey.user_id)
    .join(Organization, Organization.id == ApiKey.organization_id)
    .where(ApiKey.revoked_at.is_(None), User.active.is_(True))
)


def authenticate(session: Session, token: str) -> tuple[Caller, Org]:
    """The active user behind an unrevoked key, in one query per request (never cached, so a
    revoked key fails at once). Keys are found by their hash; the hash of a 32-byte random
    token leaks nothing, and the final compare is constant-time anyway."""
    digest = hash_token(token)
    with tenancy.unscoped(session):
        row = session.execute(_AUTH_QUERY.where(ApiKey.key_hash == digest)).first()
    if row is None or not hmac.compare_digest(row[0], digest):
        raise Unauthenticated()
    return Caller(*row[1:5], tuple(row[5] or ())), Org(*row[6:12])


def require(perm: Perm) -> Callable[..., Iterator[Context]]:
    def dependency(request: Request) -> Iterator[Context]:
        # One dependency opens the session, authenticates and closes it: each sync dependency
        # step costs a thread hand-off, and this is on every request.
        with open_request_session(request) as session:
            yield _context(request, session, perm)

    dependency.__name__ = f"require_{perm.value.replace('.', '_')}"
    return dependency


def context_for(request: Request, session: Session, perm: Perm) -> Context:
    """The request's context for `perm` on an open session (surfaces that add their own checks
    after this one, e.g. /octo's reseller link)."""
    return _context(request, session, perm)


def _context(request: Request, session: Session, perm: Perm) -> Context:
    user, org = authenticate(session, _bearer(request))
    tenancy.set_scope(session, org.id)
    scope = scope_for(user.role, perm)
    if scope is None:
        raise Forbidden(f"role {user.role} may not {perm.value}")
    if user.website_limited and perm in _UNLIMITED_ONLY:
        raise Forbidden("a user limited to some websites may not manage websites, users or keys")
    actor = Actor(
        type=user.actor_type,
        id=user.id,
        organization_id=org.id,
        role=Role(user.role),
        name=user.name,
    )
    request.state.actor = actor
    return Context(session=session, actor=actor, organization=org, user=user, scope=scope)
