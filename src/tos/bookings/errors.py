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


class SyncedElsewhere(Conflict):
    """A source website's booking keeps the website's date, price and seats (seed 002): it is
    moved with PUT /api/bookings/{id}, which applies the website's rules and tells it."""

    code = "SYNCED_BOOKING"
    message = "This booking belongs to a source website: change it with PUT /api/bookings/{id}"
