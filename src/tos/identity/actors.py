"""Who is acting. Always the authenticated caller, never a claimed identity."""

from __future__ import annotations

from dataclasses import dataclass

from tos.identity.permissions import Role

ACTOR_TYPES = ("user", "system", "webhook", "channel", "customer")
SERVICE_ACTOR_TYPES = ("system", "webhook", "channel")


@dataclass(frozen=True, slots=True)
class Actor:
    type: str  # user | system | webhook | channel | customer
    id: str | None  # the user id (service users too); None for the system itself
    organization_id: str | None
    role: Role | None = None
    name: str = ""

    @classmethod
    def system(cls, organization_id: str | None = None) -> Actor:
        return cls(type="system", id=None, organization_id=organization_id, name="system")
