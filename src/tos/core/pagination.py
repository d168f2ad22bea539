"""Lists answer {items, next_cursor, total_count}: keyset cursors, or seed 004's page/page_size."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from tos.core.errors import ValidationFailed

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
    total_count: int


@dataclass(frozen=True, slots=True)
class PageParams:
    cursor: str | None
    limit: int
    page: int | None


def page_params(
    cursor: str | None = Query(None, description="opaque cursor from next_cursor"),
    limit: int | None = Query(None, ge=1, le=MAX_LIMIT),
    page: int | None = Query(None, ge=1, description="seed 004: 1-based page number"),
    page_size: int | None = Query(None, ge=1, le=MAX_LIMIT, description="seed 004: page size"),
) -> PageParams:
    if page is not None and cursor is not None:
        raise ValidationFailed("use either cursor or page, not both", path=["query", "page"])
    return PageParams(cursor=cursor, limit=limit or page_size or 50, page=page)


def _encode(values: Sequence[Any]) -> str:
    raw = [v.isoformat() if isinstance(v, dt.date | dt.datetime | dt.time) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def _decode(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError
        return [_parse(col, v) for col, v in zip(columns, raw, strict=True)]
    except (ValueError, TypeError):
        raise ValidationFailed("invalid cursor", path=["query", "cursor"]) from None


def _parse(col: InstrumentedAttribute[Any], value: Any) -> Any:
    """A cursor comes from the client: every value is checked against its column's type, so a
    forged one is a 422 and never reaches the database."""
    python_type = col.type.python_type
    if python_type is int:
        if type(value) is not int or abs(value) >= 2**31:
            raise ValueError
        return value
    if not isinstance(value, str) or "\x00" in value or len(value) > 200:
        raise ValueError
    if python_type is dt.datetime:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError
        return parsed
    if python_type is dt.date:
        return dt.date.fromisoformat(value)
    if python_type is dt.time:
        return dt.time.fromisoformat(value)
    return value


def paginate(
    session: Session,
    stmt: Select[Any],
    order_by: Sequence[InstrumentedAttribute[Any]],
    params: PageParams,
    *,
    transform: Callable[[Any], Any] | None = None,
    transform_page: Callable[[list[Any]], list[Any]] | None = None,
    descending: bool = False,
) -> dict[str, Any]:
    """Run `stmt` (a select of one entity) ordered by `order_by` (unique in total, ending with
    the id), ascending or descending. `transform` shapes each row; `transform_page` the whole
    page at once (one query for what the rows need, not one per row)."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    ordered = stmt.order_by(*[c.desc() if descending else c for c in order_by])
    if params.page is not None:
        ordered = ordered.offset((params.page - 1) * params.limit)
    elif params.cursor:
        cursor = _decode(params.cursor, order_by)
        ordered = ordered.where(_after(order_by, cursor, descending=descending))
    rows = list(session.scalars(ordered.limit(params.limit + 1)))
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = _encode([getattr(rows[-1], c.key) for c in order_by]) if has_more else None
    return {
        "items": _shape(rows, transform, transform_page),
        "next_cursor": next_cursor,
        "total_count": total,
    }


def _after(
    columns: Sequence[InstrumentedAttribute[Any]], values: Sequence[Any], *, descending: bool
) -> Any:
    """(c1, c2, ...) > (v1, v2, ...) spelled out (or < when descending), portable to SQLite."""
    clauses = []
    for i, col in enumerate(columns):
        equal_prefix = [columns[j] == values[j] for j in range(i)]
        beyond = col < values[i] if descending else col > values[i]
        clauses.append(and_(*equal_prefix, beyond))
    return or_(*clauses)


def _shape(
    rows: list[Any],
    transform: Callable[[Any], Any] | None,
    transform_page: Callable[[list[Any]], list[Any]] | None,
) -> list[Any]:
    if transform_page is not None:
        return transform_page(rows)
    return [transform(r) for r in rows] if transform is not None else rows
