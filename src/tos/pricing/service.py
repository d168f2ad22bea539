"""Pricing rules: create, change, delete seasons, promotional codes and automatic rules.

Cross-field rules are checked on the row as it would be after the change (the stored values
merged with the patch), so a create and a patch obey the same rules and a patch can never leave
a row the create would have refused. Every change is audited with its before-image."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.audit import changes
from tos.audit.service import record, snapshot
from tos.catalog.models import Tour, Variant
from tos.catalog.queries import get_tour
from tos.core.clock import utcnow
from tos.core.errors import Conflict, NotFound, ValidationFailed
from tos.core.money import BASIS_POINTS
from tos.identity.actors import Actor
from tos.pricing.models import PricingRule, PromoRedemption, PromotionalCode, SeasonalPricing
from tos.pricing.schemas import (
    PromoIn,
    PromoPatch,
    RuleIn,
    RulePatch,
    SeasonIn,
    SeasonPatch,
)

M = TypeVar("M", SeasonalPricing, PromotionalCode, PricingRule)

MAX_SURCHARGE_BP = 100_000  # +1000 %

# Ids are UUIDs; anything else cannot exist and is not sent to the database.
_ID = re.compile(r"[0-9A-Za-z-]{1,36}")

_NAMES: dict[type[Any], tuple[str, str]] = {  # model -> (audit entity, wording)
    SeasonalPricing: ("seasonal_pricing", "seasonal pricing"),
    PromotionalCode: ("promotional_code", "promotional code"),
    PricingRule: ("pricing_rule", "pricing rule"),
}


def _get(session: Session, model: type[M], obj_id: str, *where: Any, lock: bool = False) -> M:
    obj = None
    if _ID.fullmatch(obj_id):
        stmt = select(model).where(model.id == obj_id, *where)
        obj = session.scalar(stmt.with_for_update() if lock else stmt)
    if obj is None:
        raise NotFound(_NAMES[model][1], obj_id)
    return obj


# --- seasonal pricing


def seasons_of(session: Session, tour_id: str) -> Select[Any]:
    tour = get_tour(session, tour_id)
    return select(SeasonalPricing).where(SeasonalPricing.tour_id == tour.id)


def get_season(session: Session, tour_id: str, season_id: str) -> SeasonalPricing:
    tour = get_tour(session, tour_id)
    return _get(session, SeasonalPricing, season_id, SeasonalPricing.tour_id == tour.id)


def create_season(
    session: Session, actor: Actor, tour_id: str, *, data: SeasonIn
) -> SeasonalPricing:
    tour = get_tour(session, tour_id)
    fields = data.model_dump()
    _check_season(fields, fields)
    return _add(session, actor, SeasonalPricing(tour_id=tour.id, **fields))


def update_season(
    session: Session, actor: Actor, tour_id: str, season_id: str, *, changes: SeasonPatch
) -> SeasonalPricing:
    season = get_season(session, tour_id, season_id)
    fields = changes.model_dump(exclude_unset=True)
    _check_season(_merged(season, fields), fields)
    return _apply(session, actor, season, fields)


def delete_season(session: Session, actor: Actor, tour_id: str, season_id: str) -> None:
    _remove(session, actor, get_season(session, tour_id, season_id))


def _check_season(row: dict[str, Any], given: dict[str, Any]) -> None:
    if row["end_date"] < row["start_date"]:
        raise ValidationFailed(
            f"end_date ({row['end_date']}) must not be before start_date ({row['start_date']})",
            path=[_blame(given, "end_date", "start_date")],
        )
    # Below -100 % a price would turn negative (the engine floors it at 0, but it is a mistake);
    # above +1000 % it is a typo that would carry prices past what money columns hold.
    low, high = -BASIS_POINTS, MAX_SURCHARGE_BP
    if row["adjustment_type"] == "percentage" and not low <= row["adjustment_value"] <= high:
        raise ValidationFailed(
            f"a percentage adjustment is between {low} and {high} basis points (-100 %..+1000 %)",
            path=[_blame(given, "adjustment_value", "adjustment_type")],
        )


# --- promotional codes


def promos_query(session: Session, *, status: str | None, search: str | None) -> Select[Any]:
    stmt = select(PromotionalCode)
    if status:
        stmt = stmt.where(PromotionalCode.status == status)
    if search:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search.strip().upper()) + "%"
        stmt = stmt.where(PromotionalCode.code.like(pattern, escape="\\"))
    return stmt


def get_promo(session: Session, promo_id: str) -> PromotionalCode:
    return _get(session, PromotionalCode, promo_id)


def create_promo(
    session: Session, actor: Actor, *, data: PromoIn, default_currency: str
) -> PromotionalCode:
    given = data.model_dump(exclude_unset=True)
    fields = data.model_dump()
    fields["valid_from"] = fields["valid_from"] or utcnow()
    fields = _check_promo(session, fields, given, default_currency)
    _ensure_code_free(session, fields["code"])
    promo = PromotionalCode(**fields, current_uses=0)
    session.add(promo)
    _flush_code(session, promo.code)
    record(session, actor, "promotional_code.created", promo)
    return promo


def update_promo(
    session: Session, actor: Actor, promo_id: str, *, changes: PromoPatch, default_currency: str
) -> PromotionalCode:
    # Locked: current_uses moves with every redemption, and max_uses is checked against it.
    promo = _get(session, PromotionalCode, promo_id, lock=True)
    given = changes.model_dump(exclude_unset=True)
    row = _check_promo(session, _merged(promo, given), given, default_currency)
    fields = {name: row[name] for name in (*given, "currency")}
    if fields.get("code", promo.code) != promo.code:
        _ensure_code_free(session, fields["code"])
    if row["max_uses"] is not None and row["max_uses"] < promo.current_uses:
        raise Conflict(
            f"max_uses ({row['max_uses']}) cannot be below the {promo.current_uses} use(s) "
            "the code already has",
            details={"max_uses": row["max_uses"], "current_uses": promo.current_uses},
        )
    changed = _changed(promo, fields)
    if not changed:
        return promo
    before = snapshot(promo)
    for name, value in changed.items():
        setattr(promo, name, value)
    _flush_code(session, promo.code)
    record(session, actor, "promotional_code.updated", promo, before=before)
    return promo


def delete_promo(session: Session, actor: Actor, promo_id: str) -> None:
    promo = _get(session, PromotionalCode, promo_id, lock=True)
    used = (
        session.scalar(
            select(func.count(PromoRedemption.id)).where(
                PromoRedemption.promotional_code_id == promo.id
            )
        )
        or 0
    )
    if used:
        raise _in_use(promo, used)
    before = snapshot(promo)
    session.delete(promo)
    try:
        session.flush()
    except IntegrityError:  # a booking points at it (or a redemption committed meanwhile)
        raise _in_use(promo, used) from None
    record(session, actor, "promotional_code.deleted", promo, before=before, after=None)


def _in_use(promo: PromotionalCode, redemptions: int) -> Conflict:
    # Bookings and their price snapshots keep pointing at a used code.
    return Conflict(
        f"code {promo.code} has been used and cannot be deleted; set its status to inactive "
        "instead",
        details={"id": promo.id, "code": promo.code, "redemptions": redemptions},
    )


def _check_promo(
    session: Session, row: dict[str, Any], given: dict[str, Any], default_currency: str
) -> dict[str, Any]:
    """The row to store, or a 422 naming the field at fault."""
    _check_discount(row, given)
    if row["valid_until"] <= row["valid_from"]:
        raise ValidationFailed(
            "valid_until must be after valid_from",
            path=[_blame(given, "valid_until", "valid_from")],
        )
    needs_currency = row["discount_type"] == "fixed" or row["min_booking_amount"] is not None
    row = {**row, "currency": _currency(row, given, needs_currency, default_currency)}
    for name, model, entity in (
        ("applicable_tour_ids", Tour, "tour"),
        ("applicable_variant_ids", Variant, "variant"),
    ):
        if name in given:
            row[name] = _own_ids(session, model, row[name], name, entity)
    return row


def _ensure_code_free(session: Session, code: str) -> None:
    # Codes are stored upper-case, so equality here is a case-insensitive match.
    taken = session.scalar(select(PromotionalCode.id).where(PromotionalCode.code == code))
    if taken is not None:
        raise Conflict(f"a promotional code {code!r} exists", details={"code": code, "id": taken})


def _flush_code(session: Session, code: str) -> None:
    # The unique constraint settles two writers racing for one code; the CHECK on current_uses
    # backs the max_uses test above against a redemption committed meanwhile.
    try:
        session.flush()
    except IntegrityError as exc:
        if "uses_within_limit" in str(exc.orig):
            raise Conflict("max_uses cannot be below the uses the code already has") from None
        raise Conflict(f"a promotional code {code!r} exists", details={"code": code}) from None


def _own_ids(
    session: Session, model: type[Tour] | type[Variant], ids: list[str], name: str, entity: str
) -> list[str]:
    """`ids` without repeats, each a row of this organization (tenancy filters the query)."""
    unique = list(dict.fromkeys(ids))
    found = set(session.scalars(select(model.id).where(model.id.in_(unique)))) if unique else set()
    for index, value in enumerate(ids):
        if value not in found:
            raise ValidationFailed(f"{value!r} is not a {entity} of this organization",
                                   path=[name, index])  # fmt: skip
    return unique


# --- automatic rules


def rules_query(session: Session, *, kind: str | None, tour_id: str | None) -> Select[Any]:
    stmt = select(PricingRule)
    if kind:
        stmt = stmt.where(PricingRule.kind == kind)
    if tour_id:
        stmt = stmt.where(PricingRule.tour_id == tour_id)
    return stmt


def get_rule(session: Session, rule_id: str) -> PricingRule:
    return _get(session, PricingRule, rule_id)


def create_rule(
    session: Session, actor: Actor, *, data: RuleIn, default_currency: str
) -> PricingRule:
    given = data.model_dump(exclude_unset=True)
    fields = _check_rule(session, data.model_dump(), given, default_currency)
    return _add(session, actor, PricingRule(**fields))


def update_rule(
    session: Session,
    actor: Actor,
    rule_id: str,
    *,
    changes: RulePatch,
    default_currency: str,
) -> PricingRule:
    rule = get_rule(session, rule_id)
    given = changes.model_dump(exclude_unset=True)
    row = _check_rule(session, _merged(rule, given), given, default_currency)
    return _apply(session, actor, rule, {name: row[name] for name in (*given, "currency")})


def delete_rule(session: Session, actor: Actor, rule_id: str) -> None:
    _remove(session, actor, get_rule(session, rule_id))


# Each kind's own threshold; the other kind's must be absent.
_THRESHOLDS = {"group": "min_participants", "early_bird": "min_days_before"}


def _check_rule(
    session: Session, row: dict[str, Any], given: dict[str, Any], default_currency: str
) -> dict[str, Any]:
    _check_discount(row, given)
    for kind, name in _THRESHOLDS.items():
        if kind == row["kind"] and row[name] is None:
            raise ValidationFailed(f"a {kind} rule needs {name}", path=[name])
        if kind != row["kind"] and row[name] is not None:
            raise ValidationFailed(
                f"{name} is for {kind} rules only; leave it out (or null) for a {row['kind']} rule",
                path=[name],
            )
    if given.get("tour_id") is not None:
        _ensure_tour(session, row["tour_id"])
    currency = _currency(row, given, row["discount_type"] == "fixed", default_currency)
    return {**row, "currency": currency}


def _ensure_tour(session: Session, tour_id: str) -> None:
    try:
        get_tour(session, tour_id)
    except NotFound:
        raise ValidationFailed("not a tour of this organization", path=["tour_id"]) from None


# --- rules shared by codes and automatic rules


def _check_discount(row: dict[str, Any], given: dict[str, Any]) -> None:
    if row["discount_type"] == "percentage" and row["discount_value"] > BASIS_POINTS:
        raise ValidationFailed(
            f"a percentage discount is at most {BASIS_POINTS} basis points (100 %)",
            path=[_blame(given, "discount_value", "discount_type")],
        )


def _currency(
    row: dict[str, Any], given: dict[str, Any], needed: bool, default_currency: str
) -> str | None:
    """A fixed amount means nothing without its currency: the organization's unless given.
    An explicit null where one is needed is refused rather than silently replaced."""
    if row["currency"] is not None or not needed:
        return row["currency"]
    if "currency" in given:
        raise ValidationFailed("a fixed amount needs its currency", path=["currency"])
    return default_currency


# --- shared steps


def _merged(obj: Any, fields: dict[str, Any]) -> dict[str, Any]:
    columns = {c.key: getattr(obj, c.key) for c in obj.__mapper__.column_attrs}
    return {**columns, **fields}


def _blame(given: dict[str, Any], field: str, other: str) -> str:
    """The field to name in an error between two: the one this request set, `field` first."""
    return field if field in given or other not in given else other


def _changed(obj: Any, fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if getattr(obj, name) != value}


def _add(session: Session, actor: Actor, obj: M) -> M:
    return changes.add(session, actor, obj, entity=_NAMES[type(obj)][0])


def _apply(session: Session, actor: Actor, obj: M, fields: dict[str, Any]) -> M:
    return changes.apply(session, actor, obj, fields, entity=_NAMES[type(obj)][0])


def _remove(session: Session, actor: Actor, obj: M) -> None:
    entity, wording = _NAMES[type(obj)]
    changes.delete(session, actor, obj, entity=entity, wording=wording)
