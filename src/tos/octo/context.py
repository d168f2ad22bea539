"""The /octo request context: a `reseller` user's API key, the reseller it acts for, and the
capabilities the request initialised. A key of any other role is FORBIDDEN here (the
permission table gives OCTO access to resellers only), and a reseller's keys reach nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.core.errors import Forbidden
from tos.db.deps import open_request_session
from tos.identity.actors import Actor
from tos.identity.auth import Org, context_for
from tos.identity.permissions import Perm
from tos.octo.capabilities import CONTENT, PRICING, requested
from tos.octo.models import Reseller, ResellerUser


@dataclass(frozen=True, slots=True)
class ResellerTerms:
    id: str
    name: str
    commission_bps: int | None


@dataclass(slots=True)
class OctoContext:
    session: Session
    actor: Actor
    organization: Org
    reseller: ResellerTerms
    capabilities: tuple[str, ...]
    base_url: str

    @property
    def org_id(self) -> str:
        return self.organization.id

    @property
    def content(self) -> bool:
        return CONTENT in self.capabilities

    @property
    def pricing(self) -> bool:
        return PRICING in self.capabilities

    def respond(self, body: Any) -> Response:
        return self.raw(orjson.dumps(body))

    def raw(self, data: bytes) -> Response:
        return Response(data, media_type="application/json",
                        headers={"Octo-Capabilities": ", ".join(self.capabilities)})  # fmt: skip


def octo_context(request: Request) -> Iterator[OctoContext]:
    # One dependency opens the session and authenticates (each sync dependency step costs a
    # thread hand-off, as in tos.identity.auth.require).
    with open_request_session(request) as session:
        yield _context(request, session)


_RESELLER = select(Reseller.id, Reseller.name, Reseller.commission_bps, Reseller.active).join(
    ResellerUser, ResellerUser.reseller_id == Reseller.id
)


def _context(request: Request, session: Session) -> OctoContext:
    # The key, the permission table (only `reseller` reaches /octo) and the actor: identity's
    # one path; then the reseller this user acts for.
    ctx = context_for(request, session, Perm.OCTO_ACCESS)
    row = session.execute(_RESELLER.where(ResellerUser.user_id == ctx.user.id)).first()
    if row is None or not row.active:
        raise Forbidden("this key's reseller is not active with this supplier")
    return OctoContext(
        session=session,
        actor=ctx.actor,
        organization=ctx.organization,
        reseller=ResellerTerms(row.id, row.name, row.commission_bps),
        capabilities=requested(request.headers.get("octo-capabilities")),
        base_url=str(request.base_url).rstrip("/"),
    )
