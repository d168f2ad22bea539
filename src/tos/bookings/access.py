"""Row rules of the permission table for bookings: staff see the bookings assigned to them,
guides the bookings on the schedules they lead. Applied in queries, so other rows are 404."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select, true

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
    return get_booking(ctx.session, booking_id, rule=rule_for(ctx, scope), lock=lock)


def rule_for(ctx: Context, scope: Scope | None = None) -> Any:
    """The caller's row rule: its role's scope, narrowed by its website grants."""
    return row_rule(role=ctx.user.role, user_id=ctx.user.id, scope=scope or ctx.scope,
                    websites=ctx.user.website_grants)  # fmt: skip


def row_rule(*, role: str, user_id: str, scope: Scope, websites: Sequence[str] = ()) -> Any:
    """Website grants (API.md): a limited user sees its granted websites' bookings and no
    direct ones; a limited staff user also those assigned to it."""
    own = _own_rule(role=role, user_id=user_id, scope=scope)
    if not websites:
        return own
    granted = Booking.website_id.in_(list(websites))
    if role == Role.STAFF:
        return or_(granted, Booking.assigned_to == user_id)
    return and_(own, granted)


def _own_rule(*, role: str, user_id: str, scope: Scope) -> Any:
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
