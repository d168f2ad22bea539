"""Seed 002's error envelope, `{success: false, error, code}`, for its own endpoints; validation
errors add a `details` member with field paths (the issue's clarification)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from tos.core.http import register_error_renderer

# TOS's generic codes -> seed 002's vocabulary (its table: AUTH_FAILED, INVALID_PAYLOAD,
# DUPLICATE_BOOKING, WEBSITE_NOT_FOUND, SERVER_ERROR); other TOS codes pass through unchanged.
_CODES = {
    "UNAUTHENTICATED": "AUTH_FAILED",
    "VALIDATION_ERROR": "INVALID_PAYLOAD",
    "INTERNAL_ERROR": "SERVER_ERROR",
    "DATABASE_UNAVAILABLE": "SERVER_ERROR",
}


def seed002_envelope(
    request: Request, status: int, code: str, message: str, details: dict[str, Any]
) -> JSONResponse:
    body: dict[str, Any] = {"success": False, "error": message, "code": _CODES.get(code, code)}
    if details:
        body["details"] = details
    headers = {}
    if code == "BUSY":
        # A lock wait ran out: safe to send again. As a 503 with Retry-After a source website's
        # retry loop (seed 002 §Error Handling) sends it again; a 409 reads as final.
        status, headers["Retry-After"] = 503, "1"
    if status == 429 and "retry_after" in details:
        headers["Retry-After"] = str(details["retry_after"])
    return JSONResponse(body, status_code=status, headers=headers)


SEED_PREFIXES = ("/api/bookings", "/api/websites", "/api/admin/")
for _prefix in SEED_PREFIXES:
    register_error_renderer(_prefix, seed002_envelope)
