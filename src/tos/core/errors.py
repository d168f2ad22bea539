"""Typed errors that own their HTTP status and wire code; one handler renders them."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code = 400
    code = "BAD_REQUEST"
    message = "Bad request"

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        self.message = message or self.message
        self.details = details or {}
        super().__init__(self.message)


class Unauthenticated(AppError):
    status_code = 401
    code = "UNAUTHENTICATED"
    message = "Missing or invalid credentials"


class Forbidden(AppError):
    status_code = 403
    code = "FORBIDDEN"
    message = "You are not allowed to do this"


class NotFound(AppError):
    status_code = 404
    code = "NOT_FOUND"
    message = "Not found"

    def __init__(self, entity: str = "object", entity_id: str | None = None):
        super().__init__(
            f"{entity} not found", details={"entity": entity, "id": entity_id} if entity_id else {}
        )


class Conflict(AppError):
    status_code = 409
    code = "CONFLICT"
    message = "Conflicts with the current state"


class Busy(Conflict):
    code = "BUSY"
    message = "The resource is busy; retry shortly"


class ValidationFailed(AppError):
    """422 with field paths: details = {"fields": [{"path": [...], "message": ...}]}."""

    status_code = 422
    code = "VALIDATION_ERROR"
    message = "The request is not valid"

    def __init__(
        self,
        message: str | None = None,
        *,
        path: list[str | int] | None = None,
        details: dict[str, Any] | None = None,
    ):
        details = dict(details or {})
        # Several fields at fault: the caller lists them; otherwise the one at `path`.
        details.setdefault("fields", [{"path": path or [], "message": message or self.message}])
        super().__init__(message or self.message, details=details)
