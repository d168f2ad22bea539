"""At-least-once API requests: the same Idempotency-Key with the same body replays the stored
response; with a different body it is a 409. The record is claimed before the work and written
with its response in the same transaction, so a replay returns exactly what was committed, and
a request that failed (rolled back) left no record and may be retried."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.core.errors import Conflict, ValidationFailed
from tos.idempotency.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"
    message = "This Idempotency-Key was used with a different request"


@dataclass(frozen=True, slots=True)
class Replay:
    status_code: int
    body: dict[str, Any]


def request_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(session: Session, *, scope: str, key: str, body: Any) -> IdempotencyRecord | Replay:
    """Claim `key` for this request, or get the stored response of its first use."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            "Idempotency-Key must be 1-255 printable characters", path=["header", "Idempotency-Key"]
        )
    digest = request_hash(body)
    record = IdempotencyRecord(scope=scope, key=key, request_hash=digest)
    try:
        # On PostgreSQL a concurrent first use makes this insert wait for that transaction,
        # then fail; on SQLite writers are serialised, so the select below sees it.
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        existing = session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
        assert existing is not None
        if existing.request_hash != digest:
            raise IdempotencyKeyReused(details={"key": key}) from None
        assert existing.status_code is not None and existing.response is not None
        return Replay(existing.status_code, existing.response)
    return record


def complete(record: IdempotencyRecord, status_code: int, body: dict[str, Any]) -> None:
    record.status_code = status_code
    record.response = body
