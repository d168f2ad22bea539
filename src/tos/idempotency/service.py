"""At-least-once API requests: the same Idempotency-Key with the same body replays the stored
response; with a different body it is a 409. The record is claimed before the work and written
with its response in the same transaction, so a replay returns exactly what was committed, and
a request that failed (rolled back) left no record and may be retried."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tos.core.clock import utcnow
from tos.core.errors import Conflict, ValidationFailed
from tos.db import tenancy
from tos.db.ids import new_id
from tos.db.upsert import insert_if_absent
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


def claim(session: Session, *, scope: str, key: str, body: Any) -> str | Replay:
    """Claim `key` for this request (returns the claim's id), or get the stored response of
    its first use."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            "Idempotency-Key must be 1-255 printable characters", path=["header", "Idempotency-Key"]
        )
    digest = request_hash(body)
    claim_id = new_id()
    values = {"id": claim_id, "organization_id": tenancy.current_org(session), "scope": scope,
              "key": key, "request_hash": digest, "created_at": utcnow()}  # fmt: skip
    # On PostgreSQL a concurrent first use makes this wait for that transaction, then do
    # nothing; on SQLite writers are serialised. Either way the select below sees the winner.
    if insert_if_absent(session, IdempotencyRecord, values,
                        conflict=["organization_id", "scope", "key"]):  # fmt: skip
        return claim_id
    existing = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    assert existing is not None
    if existing.request_hash != digest:
        raise IdempotencyKeyReused(details={"key": key})
    assert existing.status_code is not None and existing.response is not None
    return Replay(existing.status_code, existing.response)


def complete(session: Session, claim_id: str, status_code: int, body: dict[str, Any]) -> None:
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == claim_id)
        .values(status_code=status_code, response=body)
        .execution_options(synchronize_session=False)
    )
