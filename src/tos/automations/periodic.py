"""Periodic automations, run by the worker that runs the outbox sweeper (wiring.periodic_jobs).

Reminders come from a scan of departures starting within the next 24 hours, not from a timer
set at booking time: a booking cancelled before the scan gets none, and one moved to another
departure gets the reminder of its new departure (the dedupe key names the departure and its
start). Bookings whose tour has ended move from documents_generated to completed."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from sqlalchemy import or_, select

from tos.bookings.lifecycle import Status
from tos.bookings.models import Booking
from tos.bookings.transitions import transition
from tos.channels.models import Website
from tos.core.clock import utcnow
from tos.db import tenancy
from tos.db.session import SessionFactory, get_session_factory
from tos.identity.actors import Actor
from tos.inventory.models import Schedule

log = logging.getLogger("tos.automations")
REMIND_BEFORE = dt.timedelta(hours=24)
REMINDED = (Status.PAYMENT_CONFIRMED, Status.SUPPLIER_CONFIRMED, Status.DOCUMENTS_GENERATED)
BATCH = 500


# Source websites that let TOS message their customers (PRODUCT.md channel rules).
_MESSAGING_SITES = select(Website.id).where(Website.messages_customers.is_(True))


def send_due_reminders(factory: SessionFactory | None = None, *,
                       now: dt.datetime | None = None) -> int:  # fmt: skip
    """Queue the reminder of every confirmed booking whose departure starts within 24 h;
    returns how many bookings were looked at (each is queued once per departure)."""
    from tos.messaging import service as messaging

    factory = factory or get_session_factory()
    now = now or utcnow()
    with factory(write=False) as session, tenancy.unscoped(session):
        rows = session.execute(
            select(Booking.id, Booking.organization_id, Schedule.id, Schedule.starts_at)
            .join(Schedule, Schedule.id == Booking.schedule_id)
            .where(Booking.status.in_([s.value for s in REMINDED]),
                   or_(Booking.source != "sync", Booking.website_id.in_(_MESSAGING_SITES)),
                   Schedule.starts_at > now, Schedule.starts_at <= now + REMIND_BEFORE,
                   Schedule.status != "cancelled")
            .limit(BATCH)
        ).all()  # fmt: skip
    for booking_id, org_id, schedule_id, starts_at in rows:
        with factory(write=True, organization_id=org_id) as session:
            key = f"reminder:{booking_id}:{schedule_id}:{starts_at.isoformat()}"
            messaging.queue(session, booking_id, "reminder", dedupe_key=key)
            session.commit()
    return len(rows)


def complete_ended(factory: SessionFactory | None = None, *,
                   now: dt.datetime | None = None) -> Counter:  # fmt: skip
    """documents_generated bookings whose departure has ended become completed (staff mark a
    no_show before or instead)."""
    factory = factory or get_session_factory()
    now = now or utcnow()
    with factory(write=False) as session, tenancy.unscoped(session):
        rows = session.execute(
            select(Booking.id, Booking.organization_id)
            .join(Schedule, Schedule.id == Booking.schedule_id)
            .where(Booking.status == Status.DOCUMENTS_GENERATED.value, Schedule.ends_at <= now)
            .limit(BATCH)
        ).all()  # fmt: skip
    done: Counter = Counter()
    for booking_id, org_id in rows:
        with factory(write=True, organization_id=org_id) as session:
            booking = session.scalar(
                select(Booking).where(Booking.id == booking_id).with_for_update()
            )
            if booking is None or booking.status != Status.DOCUMENTS_GENERATED.value:
                continue
            key = f"auto-complete:{booking.id}"
            transition(session, Actor.system(org_id), booking, Status.COMPLETED,
                       note="the tour has ended", idempotency_key=key)  # fmt: skip
            session.commit()
            done["completed"] += 1
    return done
