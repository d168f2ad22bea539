"""The one booking lifecycle (seed 000 §3, extended with no_show): a table, and the rules that
read it. Pure: no database, no clock."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    LEAD_CREATED = "lead_created"
    QUOTATION_SENT = "quotation_sent"
    QUOTATION_APPROVED = "quotation_approved"
    BOOKING_CREATED = "booking_created"
    PAYMENT_PENDING = "payment_pending"
    PAYMENT_CONFIRMED = "payment_confirmed"
    SUPPLIER_CONFIRMED = "supplier_confirmed"
    DOCUMENTS_GENERATED = "documents_generated"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.LEAD_CREATED: frozenset({S.QUOTATION_SENT, S.CANCELLED}),
    S.QUOTATION_SENT: frozenset({S.QUOTATION_APPROVED, S.CANCELLED}),
    S.QUOTATION_APPROVED: frozenset({S.BOOKING_CREATED, S.CANCELLED}),
    S.BOOKING_CREATED: frozenset({S.PAYMENT_PENDING, S.CANCELLED}),
    S.PAYMENT_PENDING: frozenset({S.PAYMENT_CONFIRMED, S.CANCELLED, S.REFUNDED}),
    S.PAYMENT_CONFIRMED: frozenset({S.SUPPLIER_CONFIRMED, S.CANCELLED, S.REFUNDED}),
    S.SUPPLIER_CONFIRMED: frozenset({S.DOCUMENTS_GENERATED, S.CANCELLED, S.REFUNDED}),
    S.DOCUMENTS_GENERATED: frozenset({S.COMPLETED, S.NO_SHOW, S.CANCELLED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.REFUNDED}),
    S.NO_SHOW: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset({S.REFUNDED}),
    S.REFUNDED: frozenset(),
}

# Seed 003's simpler statuses are views of this one (API.md "Status filters").
GROUPS: dict[str, frozenset[Status]] = {
    "pending": frozenset({S.BOOKING_CREATED, S.PAYMENT_PENDING}),
    "confirmed": frozenset({S.PAYMENT_CONFIRMED, S.SUPPLIER_CONFIRMED, S.DOCUMENTS_GENERATED}),
    "cancelled": frozenset({S.CANCELLED}),
    "completed": frozenset({S.COMPLETED}),
    "no_show": frozenset({S.NO_SHOW}),
}

# Transitions whose target needs the ledger to agree (PRODUCT.md "Money-bearing statuses").
MONEY_STATUSES = frozenset({S.PAYMENT_CONFIRMED, S.REFUNDED})

# Where a booking stops holding seats. Refunded releases them only before the tour starts, and
# only if they are still held (a completed or no-show booking keeps its seats).
RELEASES_SEATS = frozenset({S.CANCELLED})


def can_transition(current: Status | str, target: Status | str) -> bool:
    return Status(target) in TRANSITIONS[Status(current)]


def allowed_targets(current: Status | str) -> list[str]:
    return sorted(s.value for s in TRANSITIONS[Status(current)])


def expand_status_filter(values: list[str]) -> set[Status]:
    """Lifecycle statuses and seed 003 group names, expanded. Unknown names raise ValueError."""
    out: set[Status] = set()
    for value in values:
        if value in GROUPS:
            out |= GROUPS[value]
        else:
            out.add(Status(value))
    return out


def releases_seats(target: Status, *, tour_started: bool, seats_held: bool) -> bool:
    if not seats_held:
        return False
    if target in RELEASES_SEATS:
        return True
    return target is S.REFUNDED and not tour_started
