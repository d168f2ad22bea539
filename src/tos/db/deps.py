"""FastAPI dependencies for a request's session: one transaction per request, opened lazily."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from sqlalchemy.orm import Session

from tos.db.session import get_session_factory


@contextmanager
def open_request_session(request: Request) -> Iterator[Session]:
    # Reads keep SQLite's deferred BEGIN; anything that may write takes the write lock at BEGIN.
    session = get_session_factory()(write=request.method not in ("GET", "HEAD", "OPTIONS"))
    try:
        yield session
    finally:
        session.close()


def request_session(request: Request) -> Iterator[Session]:
    with open_request_session(request) as session:
        yield session
