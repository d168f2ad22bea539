"""Staff edits through seed 002's `PUT /api/bookings/{id}`: the same rules as the website's own
updates (channels.inbound), permissions from the table, and one signed webhook back to a synced
booking's website with only the fields that changed."""

from __future__ import annotations

from sqlalchemy import select

from tos.audit.service import record, snapshot
from tos.bookings.models import Booking
from tos.bookings.transitions import transition
from tos.channels import inbound, outbound
from tos.channels.models import SyncedBooking, Website
from tos.channels.schemas import SyncEvent
from tos.channels.statuses import path_to, to_seed
from tos.channels.views import SeedBookingPatch
from tos.core.errors import ValidationFailed
from tos.identity.auth import Context
from tos.identity.permissions import perm_for_transition

_DIRECT_FIELDS = frozenset({"status", "admin_notes", "reason"})


def apply_staff_edit(ctx: Context, booking: Booking, body: SeedBookingPatch) -> set[str]:
    """`booking` is row-locked and visible to the caller. Returns the seed fields changed."""
    session, actor = ctx.session, ctx.actor
    fields = body.model_dump(exclude_unset=True, exclude_none=True)
    target = fields.get("status")
    if target is not None:
        for step in path_to(booking.status, target) or []:
            ctx.ensure(perm_for_transition(step))
    changed: set[str] = set()
    synced = session.scalar(select(SyncedBooking).where(SyncedBooking.booking_id == booking.id))
    if synced is None:
        extra = sorted(set(fields) - _DIRECT_FIELDS)
        if extra:
            raise ValidationFailed(
                "only a synced booking carries the seed's package data; move a direct booking "
                "with /api/v1/bookings/{id}/rebook", path=[extra[0]],
            )  # fmt: skip
        changed |= _walk_direct(ctx, booking, target, fields.get("reason"))
    else:
        website = session.get(Website, synced.website_id)
        assert website is not None
        event = _as_event(booking, synced, fields)
        if event is not None:
            changed |= inbound.apply_changes(session, actor, website, booking, synced, event,
                                             metadata={"sync_back": False})  # fmt: skip
    notes = fields.get("admin_notes")
    if notes is not None and notes != booking.notes:
        before = snapshot(booking)
        booking.notes = notes
        record(session, actor, "booking.updated", booking, before=before)
        changed.add("admin_notes")
    if synced is not None and changed:
        outbound.queue_webhook(session, actor, booking, event="booking.updated",
                               data=_seed_values(booking, synced, changed))  # fmt: skip
    return changed


def _as_event(booking: Booking, synced: SyncedBooking, fields: dict) -> SyncEvent | None:
    given = {k: v for k, v in fields.items() if k not in ("admin_notes",)}
    if set(given) <= {"reason"}:
        return None
    return SyncEvent.model_validate(
        {"event": "booking.updated", "source_booking_id": synced.source_booking_id, **given}
    )


def _walk_direct(ctx: Context, booking: Booking, target: str | None, reason: str | None) -> set:
    if target is None or to_seed(booking.status) == target:
        return set()
    steps = path_to(booking.status, target)
    if steps is None:
        from tos.bookings.errors import InvalidTransition

        raise InvalidTransition(f"a {to_seed(booking.status)} booking cannot become {target}",
                                details={"from": booking.status, "to": target})  # fmt: skip
    for step in steps:
        metadata = {"reason": reason} if reason else None
        transition(ctx.session, ctx.actor, booking, step, note=reason, metadata=metadata)
    return {"status"}


def _seed_values(booking: Booking, synced: SyncedBooking, changed: set[str]) -> dict:
    """The changed fields' new values, in the seed's vocabulary and units."""
    out = {}
    for field in sorted(changed):
        if field == "status":
            out[field] = to_seed(booking.status)
        elif field == "admin_notes":
            out[field] = booking.notes
        else:
            out[field] = synced.data.get(field)
    return out
