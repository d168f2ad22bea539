"""Cancellation policies: how much of a booking a cancellation refunds, and their CRUD.

A policy is seed 003's rule list, in basis points: [{hours_before_tour, refund_bps}]. The rule
that applies is the one with the largest hours_before_tour the cancellation still meets (100 h
ahead under 168 -> 10000, 72 -> 5000, 0 -> 0 refunds 5000 bps); when none is met, nothing is
refunded. A cancellation after the start meets only a rule for 0 hours.

Which rules a tour follows (`rules_for`): its own policy, else the organization's default, else
none at all — and no policy means a full refund. An operator who never set up policies has made
no promise to withhold money, so TOS does not invent one; a customer is never refunded less
than the operator has written down."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tos.audit import changes
from tos.catalog.models import CancellationPolicy, Tour
from tos.catalog.queries import get_tour
from tos.core.errors import Conflict, NotFound, ValidationFailed
from tos.core.money import BASIS_POINTS, apply_rate
from tos.db.tenancy import current_org
from tos.identity.actors import Actor
from tos.identity.models import Organization

FULL = BASIS_POINTS  # 10000 bps: everything back
MAX_HOURS = 24 * 365  # rules reach at most a year before the tour
MAX_RULES = 20

_ENTITY = "cancellation_policy"
_WORDING = "cancellation policy"
# Ids are UUIDs; anything else cannot exist and is not sent to the database.
_ID = re.compile(r"[0-9A-Za-z-]{1,36}")


# --- the rule (pure)


def refund_bps(rules: Sequence[Mapping[str, Any]] | None, hours_before: float) -> int:
    """The refund rate, in basis points, of a cancellation `hours_before` the tour starts
    (negative: after the start). `rules` in any order; None means no policy: FULL."""
    if rules is None:
        return FULL
    if math.isnan(hours_before):
        raise ValueError("hours_before is not a number")
    # After the start only a 0-hour rule can apply; clamping to 0 says exactly that.
    hours = max(hours_before, 0.0)
    met = [r for r in rules if r["hours_before_tour"] <= hours]
    if not met:
        return 0
    bps = max(met, key=lambda r: r["hours_before_tour"])["refund_bps"]
    return min(max(int(bps), 0), FULL)  # stored rules are bounded; this guards hand-made ones


def policy_refund(
    amount_refundable: int, rules: Sequence[Mapping[str, Any]] | None, hours_before: float
) -> int:
    """What a cancellation refunds of `amount_refundable` (minor units), rounded half-even and
    never more than the amount. `rules` None (no policy anywhere) refunds it all."""
    if amount_refundable < 0:
        raise ValueError("amount_refundable must not be negative")
    return min(apply_rate(amount_refundable, refund_bps(rules, hours_before)), amount_refundable)


def hours_before(starts_at: dt.datetime, cancelled_at: dt.datetime) -> float:
    """Hours from the cancellation to the start (negative once started); both tz-aware."""
    return (starts_at - cancelled_at).total_seconds() / 3600


def check_rules(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rules as stored: plain dicts, most hours first. 422 on the rule at fault (its index
    as sent) when two share hours_before_tour or a later cancellation would get more back —
    a policy that rewards waiting is a typo, and the refund must only shrink as the tour nears."""
    seen: dict[int, int] = {}
    for index, rule in enumerate(rules):
        hours = rule["hours_before_tour"]
        if hours in seen:
            raise ValidationFailed(
                f"rules {seen[hours]} and {index} both apply from {hours} hours before the tour",
                path=["rules", index, "hours_before_tour"],
            )
        seen[hours] = index
    order = sorted(range(len(rules)), key=lambda i: rules[i]["hours_before_tour"], reverse=True)
    for earlier, later in zip(order, order[1:], strict=False):
        if rules[later]["refund_bps"] > rules[earlier]["refund_bps"]:
            raise ValidationFailed(
                f"rule {later} ({rules[later]['hours_before_tour']} h) refunds more than rule "
                f"{earlier} ({rules[earlier]['hours_before_tour']} h): cancelling later must "
                "never refund more",
                path=["rules", later, "refund_bps"],
            )
    return [
        {"hours_before_tour": rules[i]["hours_before_tour"], "refund_bps": rules[i]["refund_bps"]}
        for i in order
    ]


# --- which rules a tour follows


def rules_for(session: Session, tour_id: str) -> list[dict[str, Any]] | None:
    """The rules a cancellation on this tour follows: the tour's policy, else the
    organization's default policy, else None — no policy, which refunds in full (FULL).
    Pass the answer straight to `policy_refund`."""
    tour = get_tour(session, tour_id)
    policy = None
    if tour.cancellation_policy_id is not None:
        policy = session.scalar(
            select(CancellationPolicy).where(CancellationPolicy.id == tour.cancellation_policy_id)
        )
    if policy is None:
        policy = default_policy(session)
    return None if policy is None else [dict(rule) for rule in policy.rules]


def default_policy(session: Session) -> CancellationPolicy | None:
    # At most one default is kept; should two ever exist, the latest set wins, predictably.
    stmt = select(CancellationPolicy).where(CancellationPolicy.is_default.is_(True))
    order = (CancellationPolicy.updated_at.desc(), CancellationPolicy.id)
    return session.scalars(stmt.order_by(*order).limit(1)).first()


def ensure_policy(session: Session, policy_id: str | None) -> None:
    """For a tour's cancellation_policy_id: None, or a policy of this organization (tenancy
    filters the query). Share-locked, so a concurrent delete either sees this tour (409) or
    removes the policy first (422 here)."""
    if policy_id is None:
        return
    found = None
    if _ID.fullmatch(policy_id):
        stmt = select(CancellationPolicy.id).where(CancellationPolicy.id == policy_id)
        found = session.scalar(stmt.with_for_update(read=True))
    if found is None:
        raise ValidationFailed(
            f"{policy_id!r} is not a cancellation policy of this organization",
            path=["cancellation_policy_id"],
        )


# --- CRUD


def policies_query(session: Session) -> Select[Any]:
    return select(CancellationPolicy)


def get_policy(session: Session, policy_id: str, *, lock: bool = False) -> CancellationPolicy:
    policy = None
    if _ID.fullmatch(policy_id):
        stmt = select(CancellationPolicy).where(CancellationPolicy.id == policy_id)
        policy = session.scalar(stmt.with_for_update() if lock else stmt)
    if policy is None:
        raise NotFound(_WORDING, policy_id)
    return policy


def create_policy(
    session: Session, actor: Actor, *, fields: Mapping[str, Any]
) -> CancellationPolicy:
    """`fields`: name, description, rules, is_default (bounded by the API's body model)."""
    row = {**fields, "rules": check_rules(fields["rules"])}
    if row.get("is_default"):
        _lock_defaults(session)
    policy = changes.add(session, actor, CancellationPolicy(**row), entity=_ENTITY)
    if policy.is_default:
        _unset_other_defaults(session, actor, policy)
    return policy


def update_policy(
    session: Session, actor: Actor, policy_id: str, *, fields: Mapping[str, Any]
) -> CancellationPolicy:
    """`fields`: only those sent; rules, when sent, replace the whole list."""
    policy = get_policy(session, policy_id)
    row = dict(fields)
    if "rules" in row:
        row["rules"] = check_rules(row["rules"])
    if row.get("is_default"):
        _lock_defaults(session)
        # Read again under the lock: a default set meanwhile may have unset this one.
        session.refresh(policy)
    changes.apply(session, actor, policy, row, entity=_ENTITY)
    if policy.is_default:
        _unset_other_defaults(session, actor, policy)
    return policy


def delete_policy(session: Session, actor: Actor, policy_id: str) -> None:
    # Locked against a tour taking it meanwhile (ensure_policy share-locks it). Tours that use
    # it keep it: their customers were sold under these rules, and the foreign key's SET NULL
    # would silently move them to the default (or to full refunds).
    policy = get_policy(session, policy_id, lock=True)
    tours = session.scalar(
        select(func.count(Tour.id)).where(Tour.cancellation_policy_id == policy.id)
    )
    if tours:
        raise Conflict(
            f"the cancellation policy is used by {tours} tour(s); give them another policy first",
            details={"id": policy.id, "tours": tours},
        )
    changes.delete(session, actor, policy, entity=_ENTITY, wording=_WORDING)


def _lock_defaults(session: Session) -> None:
    # One default per organization, with no unique index to enforce it: whoever sets a default
    # takes the organization row first, so two at once cannot each keep theirs. FOR NO KEY
    # UPDATE leaves inserts that merely reference the organization unblocked.
    session.execute(
        select(Organization.id)
        .where(Organization.id == current_org(session))
        .with_for_update(key_share=True)
    )


def _unset_other_defaults(session: Session, actor: Actor, policy: CancellationPolicy) -> None:
    others = session.scalars(
        select(CancellationPolicy).where(
            CancellationPolicy.is_default.is_(True), CancellationPolicy.id != policy.id
        )
    )
    for other in list(others):
        changes.apply(session, actor, other, {"is_default": False}, entity=_ENTITY)
