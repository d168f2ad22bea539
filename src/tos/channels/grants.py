"""Website grants (seed 002, API.md "Website grants"): a user may be limited to some websites.
Stored on the user (`users.website_grants`, website ids) so authentication reads them in its one
query; applied by `tos.bookings.access.row_rule` and by `tos.identity.auth`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.channels.models import Website
from tos.channels.website_schemas import GrantsOut
from tos.core.errors import Forbidden, ValidationFailed
from tos.identity.actors import Actor
from tos.identity.permissions import Scope, may_manage_role
from tos.identity.service import get_user


def of_user(session: Session, user_id: str) -> GrantsOut:
    user = get_user(session, user_id)
    granted = select(Website.id, Website.slug).where(Website.id.in_(user.website_grants))
    slugs = dict(session.execute(granted).all())
    return GrantsOut(user_id=user.id, websites=[slugs.get(w, w) for w in user.website_grants])


def set_for_user(
    session: Session, actor: Actor, user_id: str, refs: list[str], *, manager_scope: Scope
) -> GrantsOut:
    user = get_user(session, user_id)
    if not may_manage_role(manager_scope, user.role):
        raise Forbidden(f"you may not manage {user.role} users")
    found = dict(
        session.execute(
            select(Website.slug, Website.id).where(Website.slug.in_(refs) | Website.id.in_(refs))
        ).all()
    )  # fmt: skip
    ids = []
    for i, ref in enumerate(refs):
        website_id = found.get(ref) or (ref if ref in found.values() else None)
        if website_id is None:
            raise ValidationFailed(f"no website {ref!r}", path=["websites", i])
        if website_id not in ids:
            ids.append(website_id)
    if ids != list(user.website_grants):
        before = snapshot(user)
        user.website_grants = ids
        record(session, actor, "user.website_grants_changed", user, before=before)
    return of_user(session, user_id)
