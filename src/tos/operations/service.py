"""Guides: the people who lead tours."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.core.errors import Conflict, NotFound, ValidationFailed
from tos.identity.actors import Actor
from tos.identity.models import User
from tos.identity.permissions import Role
from tos.inventory.models import Schedule
from tos.operations.models import Guide

_REQUIRED = ("first_name", "last_name", "email", "languages", "status")


def get_guide(session: Session, guide_id: str, *, own_user_id: str | None = None) -> Guide:
    """`own_user_id` limits a guide-role caller to the profile linked to its own user."""
    stmt = select(Guide).where(Guide.id == guide_id)
    if own_user_id is not None:
        stmt = stmt.where(Guide.user_id == own_user_id)
    guide = session.scalar(stmt)
    if guide is None:
        raise NotFound("guide", guide_id)
    return guide


def list_guides_stmt(*, status: str | None = None, own_user_id: str | None = None):
    stmt = select(Guide)
    if status is not None:
        stmt = stmt.where(Guide.status == status)
    if own_user_id is not None:
        stmt = stmt.where(Guide.user_id == own_user_id)
    return stmt


def create_guide(session: Session, actor: Actor, **fields: Any) -> Guide:
    fields["email"] = fields["email"].strip().lower()
    _check_email_free(session, fields["email"])
    if fields.get("user_id") is not None:
        _check_guide_user(session, fields["user_id"])
    guide = Guide(**fields)
    session.add(guide)
    _flush(session, fields["email"])
    record(session, actor, "guide.created", guide)
    return guide


def update_guide(session: Session, actor: Actor, guide_id: str, **changes: Any) -> Guide:
    guide = get_guide(session, guide_id)
    for name in _REQUIRED:
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null", path=[name])
    if changes.get("email") is not None:
        changes["email"] = changes["email"].strip().lower()
        if changes["email"] != guide.email:
            _check_email_free(session, changes["email"])
    if changes.get("user_id") is not None and changes["user_id"] != guide.user_id:
        _check_guide_user(session, changes["user_id"])
    changed = {k: v for k, v in changes.items() if getattr(guide, k) != v}
    if not changed:
        return guide
    before = snapshot(guide)
    for name, value in changed.items():
        setattr(guide, name, value)
    _flush(session, guide.email)
    record(session, actor, "guide.updated", guide, before=before)
    return guide


def delete_guide(session: Session, actor: Actor, guide_id: str) -> None:
    """Refused while schedules name the guide: who led a departure is history, and deleting
    would silently unassign upcoming ones. Mark the guide inactive instead."""
    guide = get_guide(session, guide_id)
    count = session.scalar(
        select(func.count()).select_from(Schedule).where(Schedule.assigned_guide_id == guide.id)
    )
    if count:
        raise Conflict(
            "the guide is assigned to schedules; set status inactive instead",
            details={"guide_id": guide.id, "schedule_count": count},
        )
    before = snapshot(guide)
    record(session, actor, "guide.deleted", guide, before=before, after={})
    session.delete(guide)
    session.flush()


def check_assignable(session: Session, guide_id: str, *, path: list[str | int]) -> Guide:
    """A guide of this organization who may lead a departure (not inactive)."""
    guide = session.scalar(select(Guide).where(Guide.id == guide_id))
    if guide is None:
        raise ValidationFailed("no such guide in this organization", path=path)
    if guide.status == "inactive":
        raise ValidationFailed("the guide is inactive", path=path)
    return guide


def _check_email_free(session: Session, email: str) -> None:
    existing = session.scalar(select(Guide.id).where(Guide.email == email))
    if existing is not None:
        raise _email_taken(email, existing)


def _email_taken(email: str, guide_id: str | None = None) -> Conflict:
    details = {"email": email} | ({"guide_id": guide_id} if guide_id else {})
    return Conflict("a guide with this email exists", details=details)


def _check_guide_user(session: Session, user_id: str) -> None:
    user = session.scalar(select(User).where(User.id == user_id))
    if user is None or user.role != Role.GUIDE.value:
        raise ValidationFailed("must be a user of this organization with role guide",
                               path=["user_id"])  # fmt: skip
    linked = session.scalar(select(Guide.id).where(Guide.user_id == user_id))
    if linked is not None:
        raise Conflict("this user already has a guide profile",
                       details={"user_id": user_id, "guide_id": linked})  # fmt: skip


def _flush(session: Session, email: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        # Only the email is unique; a concurrent insert of the same one lands here.
        raise _email_taken(email)
