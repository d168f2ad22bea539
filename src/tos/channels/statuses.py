"""Seed 002's booking statuses and TOS's lifecycle, both ways (PRODUCT.md: a synced booking walks
the allowed transitions up to the status its website reports).

seed 002 `status` -> TOS (inbound)            TOS -> seed 002 `status` (outbound)
  pending   -> booking_created                 booking_created, payment_pending, leads
  confirmed -> payment_confirmed (+ external)  payment_confirmed, supplier_confirmed,
                                               documents_generated
  completed -> completed                       completed
  no_show   -> no_show                         no_show
  cancelled -> cancelled                       cancelled
  refunded  -> refunded (+ external_refund)    refunded
"""

from __future__ import annotations

from collections import deque

from tos.bookings.lifecycle import TRANSITIONS, Status

SEED_STATUSES = ("pending", "confirmed", "completed", "no_show", "cancelled", "refunded")

TO_TOS: dict[str, Status] = {
    "pending": Status.BOOKING_CREATED,
    "confirmed": Status.PAYMENT_CONFIRMED,
    "completed": Status.COMPLETED,
    "no_show": Status.NO_SHOW,
    "cancelled": Status.CANCELLED,
    "refunded": Status.REFUNDED,
}

_FROM_TOS: dict[Status, str] = {
    Status.LEAD_CREATED: "pending",
    Status.QUOTATION_SENT: "pending",
    Status.QUOTATION_APPROVED: "pending",
    Status.BOOKING_CREATED: "pending",
    Status.PAYMENT_PENDING: "pending",
    Status.PAYMENT_CONFIRMED: "confirmed",
    Status.SUPPLIER_CONFIRMED: "confirmed",
    Status.DOCUMENTS_GENERATED: "confirmed",
    Status.COMPLETED: "completed",
    Status.NO_SHOW: "no_show",
    Status.CANCELLED: "cancelled",
    Status.REFUNDED: "refunded",
}


def to_seed(status: Status | str) -> str:
    return _FROM_TOS[Status(status)]


def path_to(current: Status | str, seed_status: str) -> list[Status] | None:
    """The shortest walk of allowed transitions from `current` to a status the website's
    `seed_status` stands for ([] when already there), or None when the lifecycle cannot get
    there (e.g. a cancelled booking reported `confirmed` again)."""
    start = Status(current)
    if to_seed(start) == seed_status:
        return []
    goal = TO_TOS[seed_status]
    seen = {start: [start]}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(TRANSITIONS[node], key=lambda s: s.value):
            if nxt in seen:
                continue
            seen[nxt] = [*seen[node], nxt]
            if nxt is goal:
                return seen[nxt][1:]
            queue.append(nxt)
    return None
