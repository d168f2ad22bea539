"""Row rules of the permission table for bookings: staff see the bookings assigned to them,
guides the bookings on the schedules they lead. Applied in queries, so other rows are 404."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, true

from tos.bookings.models import Booking
from tos.bookings.service import get_booking
from tos.identity.auth import Context
from tos.identity.permissions import Perm, Role, Scope
from tos.inventory.models import Schedule
from tos.operations.models import Guide


def visible_booking(ctx: Context, booking_id: str, *, perm: Perm | None = None,
                    lock: bool = False) -> Booking:  # fmt: skip
    """The booking if the caller may see it (row rules) — and, with `perm`, act on it; 404
    otherwise. Every route that loads one booking comes through here."""
    scope = ctx.ensure(perm) if perm else ctx.scope
    rule = row_rule(role=ctx.user.role, user_id=ctx.user.id, scope=scope)
    return get_booking(ctx.session, booking_id, rule=rule, lock=lock)


def row_rule(*, role: str, user_id: str, scope: Scope) -> Any:
    if scope is not Scope.OWN:
        return true()
    if role == Role.GUIDE:
        led = (
            select(Schedule.id)
            .join(Guide, Guide.id == Schedule.assigned_guide_id)
            .where(Guide.user_id == user_id)
        )
        return Booking.schedule_id.in_(led)
    return Booking.assigned_to == user_id
