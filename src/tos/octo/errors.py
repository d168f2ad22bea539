"""OCTO's error envelope for everything under /octo: HTTP 400 `{error, errorMessage, <id field>}`
(OCTO's own table, where even UNAUTHORIZED and FORBIDDEN are 400s), and INTERNAL_SERVER_ERROR
as the only 500. TOS errors raised by the shared services are translated here, so a validation
error, an auth failure or a capacity conflict reads the same to every OCTO reseller."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from tos.core.errors import AppError
from tos.core.http import register_error_renderer
from tos.octo.capabilities import capabilities_header


class OctoError(AppError):
    status_code = 400
    code = "BAD_REQUEST"
    message = "The request is not valid"
    id_field: str | None = None

    def __init__(self, message: str | None = None, *, value: Any = ""):
        # OCTO's schema wants the id field as a string, even when it was missing.
        details = {self.id_field: "" if value is None else str(value)} if self.id_field else {}
        super().__init__(message, details=details)


class InvalidProductId(OctoError):
    code, id_field = "INVALID_PRODUCT_ID", "productId"
    message = "The productId was missing or invalid"


class InvalidOptionId(OctoError):
    code, id_field = "INVALID_OPTION_ID", "optionId"
    message = "The optionId was missing or invalid"


class InvalidUnitId(OctoError):
    code, id_field = "INVALID_UNIT_ID", "unitId"
    message = "The unitId was missing or invalid"


class InvalidAvailabilityId(OctoError):
    code, id_field = "INVALID_AVAILABILITY_ID", "availabilityId"
    message = "The availabilityId was missing or invalid"


class InvalidBookingUuid(OctoError):
    code, id_field = "INVALID_BOOKING_UUID", "uuid"
    message = "The uuid was already used, missing or invalid"


class BadRequest(OctoError):
    code = "BAD_REQUEST"


class Unprocessable(OctoError):
    code = "UNPROCESSABLE_ENTITY"
    message = "The request cannot be carried out"


OCTO_CODES = frozenset({
    "INVALID_PRODUCT_ID", "INVALID_OPTION_ID", "INVALID_UNIT_ID", "INVALID_AVAILABILITY_ID",
    "INVALID_BOOKING_UUID", "BAD_REQUEST", "UNPROCESSABLE_ENTITY", "UNAUTHORIZED", "FORBIDDEN",
})  # fmt: skip


def octo_code(status: int, code: str) -> str:
    """The OCTO code for whatever TOS raised: its own codes pass; the shared services' conflicts
    (capacity, a departure not open, a lifecycle step refused, busy) are business refusals."""
    if status >= 500:
        return "INTERNAL_SERVER_ERROR"
    if code in OCTO_CODES:
        return code
    if status == 401:
        return "UNAUTHORIZED"
    if status == 403:
        return "FORBIDDEN"
    if status == 409:
        return "UNPROCESSABLE_ENTITY"
    return "BAD_REQUEST"


def _message(code: str, message: str, details: dict[str, Any]) -> str:
    fields = details.get("fields") or []
    if fields:
        # The first field at fault, as a path a reseller can find in its request.
        first = fields[0]
        path = ".".join(str(p) for p in first.get("path", []) if p != "body")
        return f"{path}: {first.get('message', 'invalid')}" if path else message
    return message


def octo_envelope(
    request: Request, status: int, code: str, message: str, details: dict[str, Any]
) -> Response:
    wire = octo_code(status, code)
    body: dict[str, Any] = {"error": wire, "errorMessage": _message(wire, message, details)}
    if wire == "INTERNAL_SERVER_ERROR":
        body["errorMessage"] = "There was an un-recoverable error, please try again"
    for key in ("productId", "optionId", "unitId", "availabilityId", "uuid"):
        if key in details:
            body[key] = details[key]
    return Response(
        orjson.dumps(body),
        status_code=500 if wire == "INTERNAL_SERVER_ERROR" else 400,
        media_type="application/json",
        headers={"Octo-Capabilities": capabilities_header(request)},
    )


register_error_renderer("/octo", octo_envelope)
