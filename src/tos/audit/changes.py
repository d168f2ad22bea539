"""Audited create, update and delete of one row: the shared shape of CRUD services (catalog
parts, pricing rules). `entity` is the audit action's prefix (`tour_faq`, `pricing_rule`)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.core.errors import Conflict
from tos.identity.actors import Actor

M = TypeVar("M")


def add(session: Session, actor: Actor, obj: M, *, entity: str) -> M:
    session.add(obj)
    record(session, actor, f"{entity}.created", obj)
    return obj


def apply(session: Session, actor: Actor, obj: M, fields: dict[str, Any], *, entity: str) -> M:
    """Set the fields that differ; audited only when something changed."""
    changed = {name: value for name, value in fields.items() if getattr(obj, name) != value}
    if not changed:
        return obj
    before = snapshot(obj)
    for name, value in changed.items():
        setattr(obj, name, value)
    record(session, actor, f"{entity}.updated", obj, before=before)
    return obj


def delete(session: Session, actor: Actor, obj: Any, *, entity: str, wording: str) -> None:
    """Delete, or 409 when other rows still reference it."""
    before = snapshot(obj)
    session.delete(obj)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            f"the {wording} is referenced by other records and cannot be deleted",
            details={"id": obj.id},
        ) from None
    record(session, actor, f"{entity}.deleted", obj, before=before, after=None)
