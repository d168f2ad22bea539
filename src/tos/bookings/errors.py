from __future__ import annotations

from tos.core.errors import Conflict


class InvalidTransition(Conflict):
    code = "INVALID_TRANSITION"
    message = "This lifecycle transition is not allowed"


class PreconditionFailed(Conflict):
    code = "PRECONDITION_FAILED"
    message = "A precondition of this transition is not met"


class RefundExceedsPaid(Conflict):
    code = "REFUND_EXCEEDS_PAID"
    message = "A refund may not exceed what came in"


class BookingClosed(Conflict):
    code = "BOOKING_CLOSED"
    message = "This booking takes no more changes of this kind"
