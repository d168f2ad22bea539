"""Structural tenancy: every ORM query on a TenantOwned table is filtered to the session's
organization, and fails if the session has none. `allow_unscoped` is for system jobs only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from tos.db.base import TenantOwned

_SCOPE = "tos_organization_id"
_UNSCOPED = "tos_unscoped"


class MissingTenantScope(RuntimeError):
    pass


def set_scope(session: Session, organization_id: str) -> None:
    session.info[_SCOPE] = organization_id


def current_org(session: Session) -> str:
    try:
        return session.info[_SCOPE]
    except KeyError:
        raise MissingTenantScope("this session has no organization scope") from None


def allow_unscoped(session: Session) -> None:
    session.info[_UNSCOPED] = True


@event.listens_for(Session, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return
    session = state.session
    org_id = session.info.get(_SCOPE)
    if org_id is None:
        if session.info.get(_UNSCOPED) or not _touches_tenant_tables(state):
            return
        raise MissingTenantScope("tenant-owned query without an organization scope")
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.organization_id == org_id,
            include_aliases=True,
        )
    )


def _touches_tenant_tables(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantOwned) for mapper in state.all_mappers)


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, _ctx: Any, _instances: Any) -> None:
    org_id = session.info.get(_SCOPE)
    for obj in session.new:
        if not isinstance(obj, TenantOwned):
            continue
        if obj.organization_id is None:
            if org_id is None:
                raise MissingTenantScope(f"new {type(obj).__name__} without an organization")
            obj.organization_id = org_id
        elif org_id is not None and obj.organization_id != org_id:
            raise MissingTenantScope(f"new {type(obj).__name__} for another organization")
    for obj in session.dirty:
        if isinstance(obj, TenantOwned) and org_id is not None and obj.organization_id != org_id:
            raise MissingTenantScope(f"{type(obj).__name__} of another organization changed")


@contextmanager
def unscoped(session: Session) -> Iterator[Session]:
    """Lift the scope check for a system lookup (e.g. finding the key behind a token)."""
    previous = session.info.get(_UNSCOPED, False)
    session.info[_UNSCOPED] = True
    try:
        yield session
    finally:
        session.info[_UNSCOPED] = previous
