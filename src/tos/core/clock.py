"""The one source of 'now', timezone-aware, so tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset


def advance(seconds: float) -> None:
    """Move the clock forward (tests and simulations only)."""
    global _offset
    _offset += timedelta(seconds=seconds)


def reset() -> None:
    global _offset
    _offset = timedelta(0)
