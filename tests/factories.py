"""Builders for tests: real rows through the real services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from tos.db.session import SessionFactory
from tos.identity import service as identity
from tos.identity.actors import Actor
from tos.identity.permissions import Role

SYSTEM = Actor(type="system", id=None, organization_id=None, name="tests")


@dataclass
class OrgFixture:
    id: str
    slug: str
    timezone: str
    currency: str
    tokens: dict[str, str] = field(default_factory=dict)  # role -> API key
    user_ids: dict[str, str] = field(default_factory=dict)  # role -> user id

    def headers(self, role: str = "owner") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def actor(self, role: str = "owner") -> Actor:
        return Actor(type="user", id=self.user_ids[role], organization_id=self.id,
                     role=Role(role), name=role)  # fmt: skip


def make_org(
    db: SessionFactory, *, timezone: str = "Europe/Lisbon", currency: str = "EUR"
) -> OrgFixture:
    slug = f"org-{uuid.uuid4().hex[:10]}"
    with db(write=True) as session:
        org = identity.create_organization(
            session, SYSTEM, slug=slug, name=f"Org {slug}", timezone=timezone, currency=currency
        )
        fx = OrgFixture(id=org.id, slug=slug, timezone=timezone, currency=currency)
        actor = Actor(type="system", id=None, organization_id=org.id, name="tests")
        for role in Role:
            user = identity.create_user(
                session, actor, email=f"{role.value}@{slug}.test", name=role.value.title(),
                role=role,
            )  # fmt: skip
            _, token = identity.create_api_key(session, actor, user_id=user.id)
            fx.tokens[role.value] = token
            fx.user_ids[role.value] = user.id
        session.commit()
    return fx
