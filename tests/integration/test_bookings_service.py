"""Booking services below the API: hold expiry through the outbox, the engine's idempotency and
records, the seat counter, customers, and the ledger commands."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.booking_builders import booking_body, held_seats_sum, make_departure, seats_taken
from tos.audit.models import AuditEntry
from tos.bookings import service
from tos.bookings.errors import InvalidTransition, PreconditionFailed, RefundExceedsPaid
from tos.bookings.models import Booking, LifecycleEvent
from tos.bookings.schemas import BookingIn
from tos.bookings.seats import CapacityExceeded, release_seats, take_seats
from tos.bookings.transitions import transition
from tos.core import clock
from tos.core.errors import NotFound
from tos.crm.models import Customer
from tos.crm.service import find_or_create_customer
from tos.identity.models import Organization
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage
from tos.payments import service as payments


@pytest.fixture
def dep(db, org):
    return make_departure(db, org.id, capacity=5)


@pytest.fixture
def session(db, org):
    with db(write=True, organization_id=org.id) as s:
        yield s


def new_booking(session, org, dep, *, role="manager", **extra) -> Booking:
    organization = session.scalar(select(Organization).where(Organization.id == org.id))
    data = BookingIn.model_validate(booking_body(dep, **extra))
    booking = service.create_booking(session, org.actor(role), organization, data)
    session.commit()
    return booking


def locked(session, booking_id) -> Booking:
    return service.get_booking(session, booking_id, lock=True)


def count(session, model, *where) -> int:
    session.flush()
    return session.scalar(select(func.count(model.id)).where(*where)) or 0


def expiry_message(db, org_id, booking_id) -> OutboxMessage:
    with db(write=False, organization_id=org_id) as s:
        rows = s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.handler == "bookings.expire_hold", OutboxMessage.status == "pending"
            )
        )
        [msg] = [m for m in rows if m.payload["booking_id"] == booking_id]
        return msg


def read_booking(db, org_id, booking_id) -> Booking:
    with db(write=False, organization_id=org_id) as s:
        return s.scalar(select(Booking).where(Booking.id == booking_id))


def lifecycle(db, org_id, booking_id) -> list[LifecycleEvent]:
    with db(write=False, organization_id=org_id) as s:
        return list(
            s.scalars(
                select(LifecycleEvent)
                .where(LifecycleEvent.booking_id == booking_id)
                .order_by(LifecycleEvent.created_at, LifecycleEvent.id)
            )
        )


@pytest.fixture
def moved_clock():
    yield clock
    clock.reset()


def soon(seconds: int = 5) -> str:
    return (clock.utcnow() + dt.timedelta(seconds=seconds)).isoformat()


# --- hold expiry ----------------------------------------------------------------------------------


def test_an_expired_hold_is_cancelled_by_the_system_with_reason_expired(
    db, org, dep, session, moved_clock
):
    b = new_booking(session, org, dep, adults=2, expires_at=soon())
    msg = expiry_message(db, org.id, b.id)
    moved_clock.advance(10)
    assert outbox.run_message(db, msg.id) == "done"
    after = read_booking(db, org.id, b.id)
    assert (after.status, after.cancel_reason, after.held_seats) == ("cancelled", "expired", 0)
    last = lifecycle(db, org.id, b.id)[-1]
    assert (last.from_status, last.to_status, last.actor_type, last.actor_id) == (
        "booking_created",
        "cancelled",
        "system",
        None,
    )
    assert last.meta == {"reason": "expired"}
    assert seats_taken(db, org.id, dep.schedule_id) == 0


def test_running_the_expiry_again_changes_nothing(db, org, dep, session, moved_clock):
    b = new_booking(session, org, dep, expires_at=soon())
    msg = expiry_message(db, org.id, b.id)
    moved_clock.advance(10)
    outbox.run_message(db, msg.id)
    events = len(lifecycle(db, org.id, b.id))
    assert outbox.run_message(db, msg.id) == "done"
    assert len(lifecycle(db, org.id, b.id)) == events
    assert seats_taken(db, org.id, dep.schedule_id) == 0


def test_a_second_expiry_message_for_the_same_booking_changes_nothing(
    db, org, dep, session, moved_clock
):
    b = new_booking(session, org, dep, expires_at=soon())
    first = expiry_message(db, org.id, b.id)
    duplicate = outbox.enqueue(
        session, "bookings.expire_hold", {"booking_id": b.id}, due_at=b.expires_at
    )
    session.commit()
    moved_clock.advance(10)
    assert outbox.run_message(db, first.id) == "done"
    assert outbox.run_message(db, duplicate.id) == "done"
    assert [e.to_status for e in lifecycle(db, org.id, b.id)] == ["booking_created", "cancelled"]


def test_the_expiry_does_not_run_before_it_is_due(db, org, dep, session):
    b = new_booking(session, org, dep, expires_at=soon(60))
    msg = expiry_message(db, org.id, b.id)
    assert outbox.run_message(db, msg.id) == "pending"
    assert read_booking(db, org.id, b.id).status == "booking_created"
    assert seats_taken(db, org.id, dep.schedule_id) == 1


def test_an_expired_hold_in_payment_pending_is_cancelled_too(db, org, dep, session, moved_clock):
    b = new_booking(session, org, dep, expires_at=soon())
    transition(session, org.actor(), locked(session, b.id), "payment_pending")
    session.commit()
    moved_clock.advance(10)
    outbox.run_message(db, expiry_message(db, org.id, b.id).id)
    assert read_booking(db, org.id, b.id).status == "cancelled"


def test_a_hold_confirmed_in_time_does_not_expire(db, org, dep, session, moved_clock):
    b = new_booking(session, org, dep, expires_at=soon())
    transition(session, org.actor(), locked(session, b.id), "payment_pending")
    payments.record_manual_payment(
        session, org.actor("accountant"), locked(session, b.id), amount=b.total, method="cash"
    )
    transition(session, org.actor("accountant"), locked(session, b.id), "payment_confirmed")
    session.commit()
    moved_clock.advance(10)
    assert outbox.run_message(db, expiry_message(db, org.id, b.id).id) == "done"
    after = read_booking(db, org.id, b.id)
    assert (after.status, after.held_seats) == ("payment_confirmed", 1)


def test_a_hold_cancelled_by_staff_before_expiry_is_left_alone(db, org, dep, session, moved_clock):
    b = new_booking(session, org, dep, expires_at=soon())
    transition(session, org.actor(), locked(session, b.id), "cancelled", note="customer called")
    session.commit()
    moved_clock.advance(10)
    outbox.run_message(db, expiry_message(db, org.id, b.id).id)
    after = read_booking(db, org.id, b.id)
    assert after.cancel_reason == "customer called"
    assert len(lifecycle(db, org.id, b.id)) == 2
    assert seats_taken(db, org.id, dep.schedule_id) == 0


def test_an_extended_hold_is_looked_at_again_when_it_runs_out(db, org, dep, session, moved_clock):
    b = new_booking(session, org, dep, expires_at=soon())
    msg = expiry_message(db, org.id, b.id)
    later = clock.utcnow() + dt.timedelta(hours=1)
    locked(session, b.id).expires_at = later
    session.commit()
    moved_clock.advance(10)
    assert outbox.run_message(db, msg.id) == "done"
    assert read_booking(db, org.id, b.id).status == "booking_created"
    assert expiry_message(db, org.id, b.id).due_at == later


def test_an_expiry_message_for_a_booking_that_no_longer_exists_is_harmless(db, org):
    with db(write=True, organization_id=org.id) as s:
        msg = outbox.enqueue(s, "bookings.expire_hold", {"booking_id": "gone"})
        s.commit()
    assert outbox.run_message(db, msg.id) == "done"


# --- the engine -------------------------------------------------------------------------------


def test_a_transition_writes_an_event_and_an_audit_entry_in_the_callers_transaction(
    session, org, dep
):
    b = new_booking(session, org, dep)
    transition(session, org.actor(), locked(session, b.id), "payment_pending", note="n")
    session.rollback()
    assert count(session, LifecycleEvent, LifecycleEvent.booking_id == b.id) == 1
    assert locked(session, b.id).status == "booking_created"


def test_a_replayed_key_writes_no_event_audit_or_outbox_row(session, org, dep):
    b = new_booking(session, org, dep)
    first = transition(
        session, org.actor(), locked(session, b.id), "payment_pending", idempotency_key="k"
    )
    session.commit()
    counts = (
        count(session, LifecycleEvent),
        count(session, AuditEntry),
        count(session, OutboxMessage),
    )
    again = transition(
        session, org.actor("admin"), locked(session, b.id), "cancelled", idempotency_key="k"
    )
    session.commit()
    assert again.replayed and again.event.id == first.event.id
    assert counts == (
        count(session, LifecycleEvent),
        count(session, AuditEntry),
        count(session, OutboxMessage),
    )
    assert locked(session, b.id).status == "payment_pending"


def test_the_engine_refuses_a_pair_outside_the_table(session, org, dep):
    b = new_booking(session, org, dep)
    with pytest.raises(InvalidTransition) as exc:
        transition(session, org.actor(), locked(session, b.id), "supplier_confirmed")
    assert exc.value.details["allowed"] == ["cancelled", "payment_pending"]


def test_the_ledger_guard_applies_to_the_system_actor_too(session, org, dep):
    from tos.identity.actors import Actor

    b = new_booking(session, org, dep)
    transition(session, org.actor(), locked(session, b.id), "payment_pending")
    with pytest.raises(PreconditionFailed):
        transition(session, Actor.system(org.id), locked(session, b.id), "payment_confirmed")


def test_a_pending_refund_blocks_refunded(session, org, dep):
    from tos.payments.models import LedgerEntry

    b = new_booking(session, org, dep)
    transition(session, org.actor(), locked(session, b.id), "payment_pending")
    payments.record_manual_payment(
        session, org.actor(), locked(session, b.id), amount=b.total, method="cash"
    )
    session.add(
        LedgerEntry(
            organization_id=org.id,
            booking_id=b.id,
            kind="refund",
            status="pending",
            amount=b.total,
            currency=b.currency,
            actor_type="system",
        )
    )
    session.flush()
    with pytest.raises(PreconditionFailed) as exc:
        transition(session, org.actor(), locked(session, b.id), "refunded")
    assert exc.value.details["refund_pending"] == b.total


def test_a_booking_of_another_organization_is_not_found(db, org, other_org, session):
    theirs_dep = make_departure(db, other_org.id)
    with db(write=True, organization_id=other_org.id) as s:
        theirs = new_booking(s, other_org, theirs_dep)
    with pytest.raises(NotFound):
        service.get_booking(session, theirs.id)


# --- seats ----------------------------------------------------------------------------------------


def test_creating_takes_seats_in_the_same_transaction(db, org, dep, session):
    organization = session.scalar(select(Organization).where(Organization.id == org.id))
    data = BookingIn.model_validate(booking_body(dep, adults=3))
    service.create_booking(session, org.actor(), organization, data)
    session.rollback()
    assert seats_taken(db, org.id, dep.schedule_id) == 0
    assert count(session, Booking) == 0


def test_the_guard_refuses_seats_beyond_capacity_with_the_spots_left(session, org, dep):
    new_booking(session, org, dep, adults=4)
    with pytest.raises(CapacityExceeded) as exc:
        take_seats(session, dep.schedule_id, 2)
    assert exc.value.details["available_spots"] == 1


def test_returning_more_seats_than_are_taken_is_never_papered_over(session, org, dep):
    new_booking(session, org, dep, adults=1)
    with pytest.raises(RuntimeError):
        release_seats(session, dep.schedule_id, 2)


def test_the_counter_equals_held_seats_after_a_mixed_history(db, org, dep, session):
    a = new_booking(session, org, dep, adults=2)
    b = new_booking(session, org, dep, adults=2)
    new_booking(session, org, dep, adults=1)
    transition(session, org.actor(), locked(session, a.id), "cancelled", note="x")
    transition(session, org.actor(), locked(session, b.id), "payment_pending")
    transition(session, org.actor(), locked(session, b.id), "refunded")
    session.commit()
    assert seats_taken(db, org.id, dep.schedule_id) == held_seats_sum(db, org.id, dep.schedule_id)
    assert seats_taken(db, org.id, dep.schedule_id) == 1


# --- customers and ledger commands -------------------------------------------------------------


def test_customers_are_found_by_normalised_email_and_audited_once(session, org):
    a = find_or_create_customer(session, org.actor(), email=" Zoe@Example.COM")
    b = find_or_create_customer(session, org.actor(), email="zoe@example.com")
    assert a.id == b.id and a.email == "zoe@example.com"
    assert count(session, AuditEntry, AuditEntry.entity_id == a.id) == 1


def test_filling_a_customers_blank_phone_is_audited_as_an_update(session, org):
    c = find_or_create_customer(session, org.actor(), email="y@example.com")
    find_or_create_customer(session, org.actor(), email="y@example.com", phone="+351912345678")
    session.flush()
    actions = list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_id == c.id)
            .order_by(AuditEntry.created_at)
        )
    )
    assert actions == ["customer.created", "customer.updated"]
    assert count(session, Customer) == 1


def test_a_manual_refund_beyond_what_came_in_raises_with_the_numbers(session, org, dep):
    b = new_booking(session, org, dep)
    payments.record_manual_payment(
        session, org.actor(), locked(session, b.id), amount=300, method="cash"
    )
    with pytest.raises(RefundExceedsPaid) as exc:
        payments.record_manual_refund(
            session, org.actor(), locked(session, b.id), amount=301, reason="x"
        )
    assert exc.value.details["refundable"] == 300
