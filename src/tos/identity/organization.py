"""The organization's own settings: name, timezone, currency, and the rules bookings follow
(how long a hold lasts, the deposit, the taxes), kept in Organization.settings as

    settings["hold_minutes"] = 45
    settings["deposit"] = {"type": "percentage", "value": 3000}    # full | percentage | fixed
    settings["taxes"] = [{"name": "VAT", "rate_bp": 2300, "inclusive": True}]

`hold_minutes_of`, `deposit_rule_of` and `taxes_of` read them with their defaults, without the
database; the booking code uses them. Other keys of settings belong to other modules and are
left as they are."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.catalog import fields as f
from tos.catalog.fields import InModel, not_null
from tos.core.errors import NotFound, ValidationFailed
from tos.core.money import BASIS_POINTS, MAX_AMOUNT
from tos.identity.actors import Actor
from tos.identity.models import Organization

log = logging.getLogger(__name__)

DEFAULT_HOLD_MINUTES = 30
MAX_HOLD_MINUTES = 7 * 24 * 60
MAX_TAXES = 10
FULL_DEPOSIT: dict[str, Any] = {"type": "full", "value": None}


class Deposit(InModel):
    """What payment_confirmed needs the ledger to cover: the whole total, a rate of it (basis
    points), or a fixed amount (minor units of the organization's currency)."""

    type: Literal["full", "percentage", "fixed"]
    # Validated even when left out: a percentage or fixed deposit without a value is an error.
    value: int | None = Field(default=None, strict=True, validate_default=True)

    @field_validator("value")
    @classmethod
    def _fits_type(cls, value: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("type")
        if kind == "full" and value is not None:
            raise ValueError("a full deposit takes no value")
        if kind == "percentage" and (value is None or not 1 <= value <= BASIS_POINTS):
            raise ValueError(f"a percentage deposit needs 1..{BASIS_POINTS} basis points")
        if kind == "fixed" and (value is None or not 1 <= value <= MAX_AMOUNT):
            raise ValueError(f"a fixed deposit needs 1..{MAX_AMOUNT} minor units")
        return value


class Tax(InModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    rate_bp: Annotated[int, Field(strict=True, ge=0, le=BASIS_POINTS)]
    inclusive: bool = Field(description="already inside the prices, or added on top")


Taxes = Annotated[list[Tax], Field(max_length=MAX_TAXES)]
_TAXES: TypeAdapter[list[Tax]] = TypeAdapter(Taxes)


class OrganizationPatch(InModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    timezone: f.Timezone | None = None
    currency: f.Currency | None = None
    hold_minutes: Annotated[int, Field(strict=True, ge=1, le=MAX_HOLD_MINUTES)] | None = None
    deposit: Deposit | None = None
    taxes: Taxes | None = Field(default=None, description="replaces the whole list")

    _not_null = field_validator("*")(not_null)


class OrganizationOut(BaseModel):
    id: str
    slug: str
    name: str
    timezone: str
    currency: str
    hold_minutes: int
    deposit: dict[str, Any]
    taxes: list[dict[str, Any]]


# --- reading the settings, with their defaults (no database)


def hold_minutes_of(settings: dict[str, Any] | None) -> int:
    value = (settings or {}).get("hold_minutes")
    if value is None:
        return DEFAULT_HOLD_MINUTES
    if type(value) is int and 1 <= value <= MAX_HOLD_MINUTES:
        return value
    return _fallback("hold_minutes", value, DEFAULT_HOLD_MINUTES)


def deposit_rule_of(settings: dict[str, Any] | None) -> dict[str, Any]:
    """{"type": "full" | "percentage" | "fixed", "value": int | None}."""
    value = (settings or {}).get("deposit")
    if value is None:
        return dict(FULL_DEPOSIT)
    try:
        return Deposit.model_validate(value).model_dump()
    except ValidationError:
        return _fallback("deposit", value, dict(FULL_DEPOSIT))


def taxes_of(settings: dict[str, Any] | None) -> list[dict[str, Any]]:
    """[{"name", "rate_bp", "inclusive"}] in the organization's order."""
    value = (settings or {}).get("taxes")
    if value is None:
        return []
    try:
        return [tax.model_dump() for tax in _TAXES.validate_python(value)]
    except ValidationError:
        return _fallback("taxes", value, [])


def _fallback(key: str, value: Any, default: Any) -> Any:
    # Only this module writes these keys, always valid; a hand-edited value must not fail every
    # booking of the organization, so it is logged and read as the default.
    log.warning("organization setting %s is invalid (%r); using %r", key, value, default)
    return default


def view(org: Any) -> dict[str, Any]:
    """The organization as the API shows it (an ORM row or the request context's Org)."""
    settings = org.settings or {}
    return {
        "id": org.id,
        "slug": org.slug,
        "name": org.name,
        "timezone": org.timezone,
        "currency": org.currency,
        "hold_minutes": hold_minutes_of(settings),
        "deposit": deposit_rule_of(settings),
        "taxes": taxes_of(settings),
    }


# --- changing them


def update_organization(
    session: Session, actor: Actor, org_id: str, *, changes: OrganizationPatch
) -> Organization:
    # Locked: settings is one JSON value, and two admins changing different keys at once must
    # not undo each other.
    org = session.scalar(select(Organization).where(Organization.id == org_id).with_for_update())
    if org is None:
        raise NotFound("organization", org_id)
    # Only the fields sent, but each whole: a deposit without "value" stores "value": None.
    given = {k: v for k, v in changes.model_dump().items() if k in changes.model_fields_set}
    if "taxes" in given:
        _ensure_unique_names(given["taxes"])
    columns = {k: given[k] for k in ("name", "timezone", "currency") if k in given}
    settings = dict(org.settings or {})
    settings.update({k: given[k] for k in ("hold_minutes", "deposit", "taxes") if k in given})
    changed: dict[str, Any] = {k: v for k, v in columns.items() if getattr(org, k) != v}
    if settings != (org.settings or {}):
        changed["settings"] = settings  # a new dict, so the JSON column is seen as changed
    if not changed:
        return org
    before = snapshot(org)
    for name, value in changed.items():
        setattr(org, name, value)
    session.flush()
    record(session, actor, "organization.updated", org, before=before)
    return org


def _ensure_unique_names(taxes: list[dict[str, Any]]) -> None:
    # Case-insensitively: "VAT" and "vat" on one receipt would be the same tax twice.
    seen: set[str] = set()
    for index, tax in enumerate(taxes):
        key = tax["name"].casefold()
        if key in seen:
            raise ValidationFailed(f"tax {tax['name']!r} is listed twice",
                                   path=["taxes", index, "name"])  # fmt: skip
        seen.add(key)
