from __future__ import annotations

from tos.core.errors import AppError, Conflict


class PaymentsNotConfigured(AppError):
    status_code = 503
    code = "PAYMENTS_NOT_CONFIGURED"
    message = "This payment provider is not configured"


class ProviderUnavailable(AppError):
    status_code = 502
    code = "PROVIDER_ERROR"
    message = "The payment provider could not complete the request"


class AmountNotAllowed(Conflict):
    code = "AMOUNT_NOT_ALLOWED"
    message = "This amount cannot be paid on this booking now"
