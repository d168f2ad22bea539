"""Every mutation records who, what, before, after, when, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from tos.audit.models import AuditEntry
from tos.core import requestctx
from tos.identity.actors import Actor

_SNAPSHOT: Any = object()

# Never written to the audit trail, whatever entity carries them.
_SECRET_COLUMNS = frozenset(
    {"key_hash", "previous_key_hash", "password_hash", "secret", "webhook_secret",
     "webhook_secret_sealed"}
)  # fmt: skip


def snapshot(obj: Any) -> dict[str, Any]:
    """The row's column values as JSON-safe data."""
    mapper = inspect(obj).mapper
    return {
        col.key: _jsonable(getattr(obj, col.key))
        for col in mapper.column_attrs
        if col.key not in _SECRET_COLUMNS
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: Any,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None | object = _SNAPSHOT,
    entity_type: str | None = None,
) -> AuditEntry:
    """Audit `action` on `entity` (flushed so its id exists). `after` defaults to its snapshot;
    pass `after=None` for a deletion."""
    session.flush()
    if after is _SNAPSHOT:
        after = snapshot(entity)
    entry = AuditEntry(
        organization_id=getattr(entity, "organization_id", None) or actor.organization_id,
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        entity_type=entity_type or action.split(".", 1)[0],
        entity_id=entity.id,
        before=before,
        after=after,
        request_id=requestctx.request_id.get(),
    )
    session.add(entry)
    return entry
