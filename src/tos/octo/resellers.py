"""Resellers and what they may use: their `reseller` users, those users' API keys (the keys that
reach /octo), and their net rates. Users and keys are made by the identity service, so a
reseller key is an ordinary TOS key whose role reaches /octo only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.audit import changes
from tos.audit.service import record
from tos.catalog.models import PricingTier
from tos.core.errors import Conflict, NotFound, ValidationFailed
from tos.identity import service as identity
from tos.identity.actors import Actor
from tos.identity.models import ApiKey, User
from tos.identity.permissions import Role
from tos.octo.models import Reseller, ResellerNetRate, ResellerUser

_ENTITY = "reseller"


def _valid_id(value: str) -> bool:
    return 0 < len(value) <= 36 and all(c.isalnum() or c == "-" for c in value)


def list_resellers(session: Session) -> list[Reseller]:
    return list(session.scalars(select(Reseller).order_by(Reseller.name, Reseller.id)))


def get_reseller(session: Session, reseller_id: str) -> Reseller:
    reseller = None
    if _valid_id(reseller_id):
        reseller = session.scalar(select(Reseller).where(Reseller.id == reseller_id))
    if reseller is None:
        raise NotFound("reseller", reseller_id)
    return reseller


def create_reseller(session: Session, actor: Actor, fields: Mapping[str, Any]) -> Reseller:
    if session.scalar(select(Reseller.id).where(Reseller.name == fields["name"])):
        raise Conflict("a reseller with this name exists", details={"name": fields["name"]})
    try:
        return changes.add(session, actor, Reseller(**fields), entity=_ENTITY)
    except IntegrityError:  # the same name created concurrently
        raise Conflict(
            "a reseller with this name exists", details={"name": fields["name"]}
        ) from None


def update_reseller(
    session: Session, actor: Actor, reseller_id: str, fields: Mapping[str, Any]
) -> Reseller:
    reseller = get_reseller(session, reseller_id)
    name = fields.get("name")
    taken = (
        name is not None
        and name != reseller.name
        and session.scalar(select(Reseller.id).where(Reseller.name == name))
    )
    if taken:
        raise Conflict("a reseller with this name exists", details={"name": name})
    return changes.apply(session, actor, reseller, dict(fields), entity=_ENTITY)


# --- users and keys


def reseller_users(session: Session, reseller_id: str) -> list[User]:
    get_reseller(session, reseller_id)
    stmt = (
        select(User)
        .join(ResellerUser, ResellerUser.user_id == User.id)
        .where(ResellerUser.reseller_id == reseller_id)
        .order_by(User.created_at, User.id)
    )
    return list(session.scalars(stmt))


def add_user_with_key(
    session: Session, actor: Actor, reseller_id: str, *, name: str
) -> tuple[User, ApiKey, str]:
    """A new `reseller` service user of this reseller (actor type `channel`: what it does is on
    the record as the channel's), and its first API key. The token is returned once."""
    reseller = get_reseller(session, reseller_id)
    label = name or f"{reseller.name} (OCTO)"
    key, token = identity.create_api_key(
        session, actor, role=Role.RESELLER, name=label, actor_type="channel"
    )
    user = session.scalar(select(User).where(User.id == key.user_id))
    assert user is not None
    link = ResellerUser(reseller_id=reseller.id, user_id=user.id)
    session.add(link)
    record(session, actor, "reseller.user_added", link, entity_type="reseller_user")
    return user, key, token


def _reseller_user(session: Session, reseller_id: str, user_id: str) -> User:
    get_reseller(session, reseller_id)
    user = None
    if _valid_id(user_id):
        user = session.scalar(
            select(User)
            .join(ResellerUser, ResellerUser.user_id == User.id)
            .where(ResellerUser.reseller_id == reseller_id, User.id == user_id)
        )
    if user is None:
        raise NotFound("reseller user", user_id)
    return user


def add_key(
    session: Session, actor: Actor, reseller_id: str, user_id: str, *, name: str
) -> tuple[ApiKey, str]:
    user = _reseller_user(session, reseller_id, user_id)
    return identity.create_api_key(session, actor, user_id=user.id, name=name)


def reseller_keys(session: Session, reseller_id: str) -> list[ApiKey]:
    get_reseller(session, reseller_id)
    users = select(ResellerUser.user_id).where(ResellerUser.reseller_id == reseller_id)
    stmt = select(ApiKey).where(ApiKey.user_id.in_(users)).order_by(ApiKey.created_at, ApiKey.id)
    return list(session.scalars(stmt))


def revoke_key(session: Session, actor: Actor, reseller_id: str, key_id: str) -> ApiKey:
    keys = {k.id: k for k in reseller_keys(session, reseller_id)}
    if key_id not in keys:
        raise NotFound("api key", key_id)
    return identity.revoke_api_key(session, actor, key_id)


# --- net rates


def net_rates(session: Session, reseller_id: str) -> list[ResellerNetRate]:
    get_reseller(session, reseller_id)
    stmt = select(ResellerNetRate).where(ResellerNetRate.reseller_id == reseller_id)
    return list(session.scalars(stmt.order_by(ResellerNetRate.created_at, ResellerNetRate.id)))


def set_net_rate(
    session: Session, actor: Actor, reseller_id: str, *, pricing_tier_id: str, amount: int
) -> ResellerNetRate:
    """The reseller's net price per unit of a tier (in the tier's currency), made or replaced."""
    reseller = get_reseller(session, reseller_id)
    tier = None
    if _valid_id(pricing_tier_id):
        tier = session.scalar(select(PricingTier).where(PricingTier.id == pricing_tier_id))
    if tier is None:
        raise ValidationFailed("not a pricing tier of this organization", path=["pricing_tier_id"])
    if amount > tier.amount:
        raise ValidationFailed(
            f"a net rate above the retail price ({tier.amount} {tier.currency}) is a typo",
            path=["amount"],
        )
    rate = session.scalar(
        select(ResellerNetRate)
        .where(ResellerNetRate.reseller_id == reseller.id,
               ResellerNetRate.pricing_tier_id == tier.id)
        .with_for_update()
    )  # fmt: skip
    if rate is None:
        rate = ResellerNetRate(reseller_id=reseller.id, pricing_tier_id=tier.id, amount=amount)
        return changes.add(session, actor, rate, entity="reseller_net_rate")
    return changes.apply(session, actor, rate, {"amount": amount}, entity="reseller_net_rate")


def delete_net_rate(session: Session, actor: Actor, reseller_id: str, rate_id: str) -> None:
    rates = {r.id: r for r in net_rates(session, reseller_id)}
    if rate_id not in rates:
        raise NotFound("net rate", rate_id)
    changes.delete(session, actor, rates[rate_id], entity="reseller_net_rate", wording="net rate")
