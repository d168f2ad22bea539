"""One error shape per surface, one request id per request."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tos.core import requestctx
from tos.core.errors import AppError, Busy

log = logging.getLogger("tos.http")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"path": [p for p in err.get("loc", ()) if p != "body"] or ["body"],
         "message": err.get("msg", "invalid"), "type": err.get("type", "")}
        for err in exc.errors()
    ]  # fmt: skip


# Surfaces with their own envelopes (seed 000, seed 002, OCTO) register a renderer for their path
# prefix; everything else answers {"error": {code, message, details}}.
ErrorRenderer = Any
_renderers: list[tuple[str, ErrorRenderer]] = []


def register_error_renderer(prefix: str, renderer: ErrorRenderer) -> None:
    _renderers.append((prefix, renderer))


def _render(request: Request, status: int, code: str, message: str, details: dict[str, Any]):
    for prefix, renderer in _renderers:
        if request.url.path.startswith(prefix):
            return renderer(request, status, code, message, details)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


_HTTP_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE", 429: "RATE_LIMITED",
}  # fmt: skip


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError):
        return _render(request, exc.status_code, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return _render(
            request, 422, "VALIDATION_ERROR", "The request is not valid",
            {"fields": field_errors(exc)},
        )  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        return _render(request, exc.status_code, code, str(exc.detail), {})

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError):
        # A value the database cannot hold (a NUL in text, an integer out of range) is the
        # client's input, not our failure.
        return _render(request, 422, "VALIDATION_ERROR",
                       "A value in the request cannot be stored", {"fields": []})  # fmt: skip

    @app.exception_handler(OperationalError)
    async def _db_busy(request: Request, exc: OperationalError):
        # Lock waits past the timeout (SQLite "database is locked", PostgreSQL lock_timeout)
        # are safe to retry; anything else is an outage and stays a 500.
        text = str(exc.orig).lower() if exc.orig else ""
        if "locked" in text or "lock timeout" in text or "could not obtain lock" in text:
            return _render(request, 409, Busy.code, Busy.message, {})
        log.exception("database error", extra={"request_id": requestctx.request_id.get()})
        return _render(request, 503, "DATABASE_UNAVAILABLE", "The database is unavailable", {})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error", extra={"request_id": requestctx.request_id.get()})
        return _render(request, 500, "INTERNAL_ERROR", "Something went wrong on our side", {})


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead): take or make X-Request-ID, echo it back."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:64]
                break
        rid = rid or uuid.uuid4().hex
        token = requestctx.request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            requestctx.request_id.reset(token)
