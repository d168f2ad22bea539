"""The booking core as a state machine: random sequences of requests through the real services
(create, hold expiry, cancel, manual payments and refunds, any lifecycle transition, replayed
lifecycle keys, a departure passing), on SQLite and PostgreSQL, against a small model.

Each step is one request: its own write session, committed on success. A step refused with one
of the app's typed errors is rolled back and must have changed nothing. After every step the
invariants of PRODUCT.md are checked against the database: seats (invariant 1), money
(invariant 2), the ledger guards of the money-bearing statuses, and the lifecycle table.

The model's lifecycle table is PRODUCT.md's, written out here on purpose (not imported), so a
drift of the engine's table from the product's shows up as a refusal the model did not expect.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import OrgFixture
from tests.inventory_builders import make_tour
from tos.audit.models import AuditEntry
from tos.bookings.errors import (
    BookingClosed,
    InvalidTransition,
    PreconditionFailed,
    RefundExceedsPaid,
)
from tos.bookings.models import Booking, LifecycleEvent
from tos.bookings.queries import page_out
from tos.bookings.schemas import BookingIn
from tos.bookings.seats import CapacityExceeded, ScheduleNotOpen
from tos.bookings.service import create_booking, get_booking
from tos.bookings.transitions import transition
from tos.core import clock
from tos.core.errors import AppError
from tos.crm.models import Customer
from tos.db.session import SessionFactory
from tos.identity.models import Organization
from tos.inventory.models import Schedule
from tos.outbox.models import OutboxMessage
from tos.outbox.service import run_message
from tos.payments import ledger
from tos.payments.models import LedgerEntry
from tos.payments.queries import totals_by_booking
from tos.payments.service import record_manual_payment, record_manual_refund

# PRODUCT.md "One booking lifecycle", verbatim.
LIFECYCLE: dict[str, frozenset[str]] = {
    "lead_created": frozenset({"quotation_sent", "cancelled"}),
    "quotation_sent": frozenset({"quotation_approved", "cancelled"}),
    "quotation_approved": frozenset({"booking_created", "cancelled"}),
    "booking_created": frozenset({"payment_pending", "cancelled"}),
    "payment_pending": frozenset({"payment_confirmed", "cancelled", "refunded"}),
    "payment_confirmed": frozenset({"supplier_confirmed", "cancelled", "refunded"}),
    "supplier_confirmed": frozenset({"documents_generated", "cancelled", "refunded"}),
    "documents_generated": frozenset({"completed", "no_show", "cancelled", "refunded"}),
    "completed": frozenset({"refunded"}),
    "no_show": frozenset({"refunded"}),
    "cancelled": frozenset({"refunded"}),
    "refunded": frozenset(),
}
STATUSES = sorted(LIFECYCLE)
# The next status on the happy path (what `move_on` mostly asks for).
FORWARD: dict[str, list[str]] = {
    "booking_created": ["payment_pending"],
    "payment_pending": ["payment_confirmed"],
    "payment_confirmed": ["supplier_confirmed"],
    "supplier_confirmed": ["documents_generated"],
    "documents_generated": ["completed", "no_show"],
    "completed": ["refunded"],
    "no_show": ["refunded"],
    "cancelled": ["refunded"],
}
OPEN = frozenset(set(LIFECYCLE) - {"cancelled", "refunded"})
TRIP_ENDED = frozenset({"completed", "no_show"})
HOLDING = frozenset({"booking_created", "payment_pending"})  # what an expired hold cancels
CONFIRMED_OR_BEYOND = frozenset(
    {"payment_confirmed", "supplier_confirmed", "documents_generated", "completed", "no_show"}
)
ADULT, CHILD, ADDON = 5000, 2500, 1200
EMAILS = ["ana@example.com", "rui@example.com", "mei@example.com"]


def expected_payment_status(paid_in: int, refunded: int, due: int) -> str:
    """PRODUCT.md's payment statuses, derived from the model's own sums."""
    if refunded > 0:
        return "refunded" if refunded >= paid_in else "partially_refunded"
    if paid_in == 0:
        return "unpaid" if due > 0 else "paid"
    return "paid" if paid_in >= due else "partial"


@dataclass
class Departure:
    id: str
    capacity: int | None
    starts_at: dt.datetime
    taken: int = 0

    def started(self) -> bool:
        return self.starts_at <= clock.utcnow()


@dataclass
class Expected:
    """What the model believes about one booking."""

    id: str
    schedule_id: str
    seats: int
    total: int
    expires_at: dt.datetime | None
    status: str = "booking_created"
    held: int = 0
    paid_in: int = 0
    refunded: int = 0
    cancel_reason: str | None = None
    chain: list[str] = field(default_factory=lambda: ["booking_created"])
    # The ledger's net the moment payment_confirmed was entered (None: never entered).
    net_at_confirm: int | None = None
    # Refunds vs money in the moment refunded was entered; and whether it was before the tour.
    covered_at_refunded: bool | None = None
    refunded_before_start: bool | None = None
    keys: dict[str, str | None] = field(default_factory=dict)  # lifecycle key -> event id

    @property
    def net(self) -> int:
        return self.paid_in - self.refunded

    @property
    def refundable(self) -> int:
        return self.paid_in - self.refunded


class BookingStateMachine(RuleBasedStateMachine):
    db: SessionFactory
    org: OrgFixture

    bookings = Bundle("bookings")

    def __init__(self) -> None:
        super().__init__()
        clock.reset()
        self.actor = self.org.actor("owner")
        self.deps = self._make_departures()
        self.dep_list = list(self.deps.values())
        self.soon = self.dep_list[-1]
        self.model: dict[str, Expected] = {}

    def teardown(self) -> None:
        clock.reset()

    # -- set-up ------------------------------------------------------------------------------

    def _make_departures(self) -> dict[str, Departure]:
        """Fresh departures per example: two small ones, a freesale one, and one that leaves in
        an hour (the `depart` rule moves the clock past it)."""
        tour = make_tour(
            self.db,
            self.org.id,
            capacity=None,
            tiers=[
                {"name": "Adult", "amount": ADULT, "unit_type": "ADULT"},
                {"name": "Child", "amount": CHILD, "unit_type": "CHILD"},
            ],
        )
        self.adult, self.child = tour.tier_ids["Adult"], tour.tier_ids["Child"]
        now = clock.utcnow().replace(microsecond=0)
        specs = [
            (3, now + dt.timedelta(days=10)),
            (5, now + dt.timedelta(days=10, hours=2)),
            (None, now + dt.timedelta(days=11)),
            (4, now + dt.timedelta(hours=1)),
        ]
        deps: dict[str, Departure] = {}
        with self.db(write=True, organization_id=self.org.id) as session:
            for capacity, start in specs:
                end = start + dt.timedelta(hours=2)
                schedule = Schedule(
                    tour_id=tour.id,
                    variant_id=tour.variant_id,
                    date=start.date(),
                    start_time=start.time(),
                    end_time=end.time(),
                    timezone="UTC",
                    starts_at=start,
                    ends_at=end,
                    capacity=capacity,
                    status="open",
                )
                session.add(schedule)
                session.flush()
                deps[schedule.id] = Departure(schedule.id, capacity, start)
            session.commit()
        return deps

    # -- one request -------------------------------------------------------------------------

    def _session(self, *, write: bool = True) -> Session:
        return self.db(write=write, organization_id=self.org.id)

    def _fingerprint(self, s: Session) -> tuple[Any, ...]:
        """Everything a refused step must leave as it was."""
        ids = list(self.deps)
        org_id = self.org.id
        schedules = s.execute(
            select(Schedule.id, Schedule.seats_taken, Schedule.seats_overbooked, Schedule.status)
            .where(Schedule.id.in_(ids))
            .order_by(Schedule.id)
        ).all()
        bookings = s.execute(
            select(
                Booking.id,
                Booking.status,
                Booking.held_seats,
                Booking.cancel_reason,
                Booking.updated_at,
            )
            .where(Booking.schedule_id.in_(ids))
            .order_by(Booking.id)
        ).all()
        tables = (Booking, LedgerEntry, LifecycleEvent, OutboxMessage, AuditEntry, Customer)
        counts = s.execute(
            select(
                *(
                    select(func.count(t.id)).where(t.organization_id == org_id).scalar_subquery()
                    for t in tables
                )
            )
        ).one()
        return (tuple(schedules), tuple(bookings), counts)

    def _request(self, action, *, refusal: type[AppError] | None) -> Any:
        """Run `action(session)` like a route would: commit on success; a typed error rolls
        back and must change nothing. `refusal` is the error the model expects (None: none)."""
        with self._session() as s:
            # Only a refusal is compared with it (an unexpected one fails the test anyway).
            before = self._fingerprint(s) if refusal is not None else None
            try:
                result = action(s)
            except AppError as exc:
                s.rollback()
                assert refusal is not None, f"refused unexpectedly: {exc!r} {exc.details}"
                assert self._fingerprint(s) == before, f"refused ({exc!r}) but changed the data"
                assert isinstance(exc, refusal), f"expected {refusal.__name__}, got {exc!r}"
                return exc
            s.commit()
        assert refusal is None, f"expected {refusal.__name__}, but the request succeeded"
        return result

    # -- rules -------------------------------------------------------------------------------

    @initialize(
        target=bookings,
        depth=st.integers(0, 6),
        no_show=st.booleans(),
        dep=st.sampled_from([1, 2, 3]),
        then_depart=st.booleans(),
    )
    def walked_booking(self, depth, no_show, dep, then_depart):
        """One booking walked `depth` steps down the happy path first (paid in full before its
        confirmation), request by request, so that random steps also meet deep statuses; then,
        sometimes, the clock passes the start of the departure that leaves soon."""
        if then_depart:
            dep = 3  # the departure that leaves soon: its booking then lives past the start
        bid = self.create(dep, 2, 0, False, None, EMAILS[0])
        m = self.model[bid]
        path = ["payment_pending", "payment_confirmed", "supplier_confirmed"]
        path += ["documents_generated", "no_show" if no_show else "completed", "refunded"]
        for target in path[:depth]:
            if target == "payment_confirmed":
                self._pay(m, m.total)
            if target == "refunded":
                self._refund(m, m.refundable)
            self._transition(bid, target)
        if then_depart:
            self.depart()
        return bid

    @rule(
        target=bookings,
        dep=st.integers(0, 3),
        adults=st.integers(1, 3),
        children=st.sampled_from([0, 0, 1, 2]),
        addon=st.booleans(),
        hold_seconds=st.sampled_from([None, None, 5, 30, 60]),
        email=st.sampled_from(EMAILS),
    )
    def create(self, dep, adults, children, addon, hold_seconds, email):
        departure = self.dep_list[dep]
        seats = adults + children
        lines: list[dict[str, Any]] = [{"pricing_tier_id": self.adult, "quantity": adults}]
        if children:
            lines.append({"pricing_tier_id": self.child, "quantity": children})
        if addon:  # an unscheduled line: money, no seats
            lines.append({"description": "Lunch", "quantity": 1, "unit_amount": ADDON})
        expires_at = None
        if hold_seconds is not None:
            expires_at = clock.utcnow() + dt.timedelta(seconds=hold_seconds)
        body = BookingIn.model_validate(
            {
                "schedule_id": departure.id,
                "line_items": lines,
                "customer": {"email": email, "first_name": "Ana", "last_name": "Silva"},
                "expires_at": expires_at,
            }
        )
        if departure.started():
            refusal: type[AppError] | None = ScheduleNotOpen
        elif departure.capacity is not None and departure.taken + seats > departure.capacity:
            refusal = CapacityExceeded
        else:
            refusal = None

        def act(s: Session) -> Booking:
            org = s.scalar(select(Organization).where(Organization.id == self.org.id))
            assert org is not None
            return create_booking(s, self.actor, org, body)

        out = self._request(act, refusal=refusal)
        if refusal is not None:
            return multiple()
        total = adults * ADULT + children * CHILD + (ADDON if addon else 0)
        assert (out.total, out.deposit_required, out.held_seats) == (total, total, seats)
        self.model[out.id] = Expected(
            id=out.id,
            schedule_id=departure.id,
            seats=seats,
            total=total,
            expires_at=expires_at,
            held=seats,
        )
        departure.taken += seats
        return out.id

    @precondition(
        lambda self: any(m.status in HOLDING and m.expires_at for m in self.model.values())
    )
    @rule(seconds=st.integers(1, 90))
    def expire_holds(self, seconds):
        """Time passes; the worker runs the hold-expiry jobs that are due (each twice: the
        outbox delivers at least once, and a second run must change nothing)."""
        clock.advance(seconds)
        now = clock.utcnow()
        with self._session(write=False) as s:
            due = s.execute(
                select(OutboxMessage.id, OutboxMessage.payload).where(
                    OutboxMessage.handler == "bookings.expire_hold",
                    OutboxMessage.status == "pending",
                    OutboxMessage.due_at <= now,
                )
            ).all()
        due = [(mid, p["booking_id"]) for mid, p in due if p["booking_id"] in self.model]
        ran_out = [
            b
            for b in self.model.values()
            if b.status in HOLDING and b.expires_at is not None and b.expires_at <= now
        ]
        assert {b.id for b in ran_out} <= {bid for _, bid in due}, "no due expiry job"
        # A hold whose ledger already covers the deposit (the total here) ends without
        # cancelling; the others are cancelled.
        for b in ran_out:
            if b.net >= b.total:
                b.expires_at = None
        expiring = {b.id for b in ran_out if b.expires_at is not None}
        for message_id, _ in due:
            assert run_message(self.db, message_id) == "done"
        for message_id, _ in due:
            assert run_message(self.db, message_id) == "done"
        for bid in expiring:
            b = self.model[bid]
            self._entered(b, "cancelled", started=self.deps[b.schedule_id].started())
            b.cancel_reason = "expired"
            b.keys[f"hold-expiry:{bid}"] = None

    @precondition(lambda self: not self.soon.started())
    @rule()
    def depart(self):
        """The clock passes the start of the departure that leaves soon."""
        clock.advance((self.soon.starts_at - clock.utcnow()).total_seconds() + 60)
        assert self.soon.started()

    @rule(b=bookings, reason=st.sampled_from(["customer asked", "weather", "duplicate"]))
    def cancel(self, b, reason):
        self._transition(b, "cancelled", reason=reason)

    @precondition(lambda self: any(m.status != "refunded" for m in self.model.values()))
    @rule(data=st.data(), keyed=st.booleans())
    def move_on(self, data, keyed):
        """Mostly the next step of the happy path, else any transition the table allows from
        the booking's status (guards may still refuse it): this walks bookings deep into the
        lifecycle, where uniformly random targets rarely go."""
        live = sorted(i for i, m in self.model.items() if m.status != "refunded")
        going = sorted(i for i, m in self.model.items() if m.status in OPEN)
        b = data.draw(
            (st.sampled_from(going) if going else st.nothing()) | st.sampled_from(live),
            label="booking",
        )
        status = self.model[b].status
        allowed = sorted(LIFECYCLE[status])
        target = data.draw(
            st.sampled_from(FORWARD[status])
            | st.sampled_from(FORWARD[status])
            | st.sampled_from(allowed),
            label="target",
        )
        self._transition(b, target, key=f"k-{uuid.uuid4().hex}" if keyed else None)

    @precondition(lambda self: any(m.status != "refunded" for m in self.model.values()))
    @rule(data=st.data(), keyed=st.booleans())
    def move_on_more(self, data, keyed):
        """The same as `move_on`, listed twice to weigh it: deep statuses need many steps."""
        self.move_on(data, keyed)

    @precondition(
        lambda self: any(m.status in OPEN and m.net < m.total for m in self.model.values())
    )
    @rule(data=st.data())
    def settle(self, data):
        """Staff record exactly the balance due of an open booking."""
        owing = sorted(i for i, m in self.model.items() if m.status in OPEN and m.net < m.total)
        b = data.draw(st.sampled_from(owing), label="booking")
        m = self.model[b]
        self._pay(m, m.total - m.net)

    @precondition(lambda self: any("refunded" in LIFECYCLE[m.status] for m in self.model.values()))
    @rule(data=st.data())
    def wind_down(self, data):
        """Towards `refunded`: give back what can still be refunded, or (once nothing can) ask
        for the status. Seats come back only before the tour starts."""
        can = sorted(i for i, m in self.model.items() if "refunded" in LIFECYCLE[m.status])
        m = self.model[data.draw(st.sampled_from(can), label="booking")]
        if m.refundable > 0:
            self._refund(m, m.refundable)
        else:
            self._transition(m.id, "refunded")

    @rule(b=bookings, to=st.sampled_from(STATUSES), keyed=st.booleans())
    def any_transition(self, b, to, keyed):
        self._transition(b, to, key=f"k-{uuid.uuid4().hex}" if keyed else None)

    @rule(b=bookings, data=st.data())
    def forbidden_transition(self, b, data):
        """A target the table does not allow from the booking's status: always refused."""
        status = self.model[b].status
        target = data.draw(st.sampled_from(sorted(set(STATUSES) - LIFECYCLE[status])))
        self._transition(b, target)

    @precondition(lambda self: any(b.keys for b in self.model.values()))
    @rule(data=st.data(), to=st.sampled_from(STATUSES))
    def replay_key(self, data, to):
        """The same lifecycle idempotency key replays the first result and changes nothing,
        whatever it asks for now."""
        b = data.draw(st.sampled_from(sorted(i for i, m in self.model.items() if m.keys)))
        key = data.draw(st.sampled_from(sorted(self.model[b].keys)), label="key")
        with self._session() as s:
            before = self._fingerprint(s)
            booking = get_booking(s, b, lock=True)
            result = transition(s, self.actor, booking, to, idempotency_key=key)
            s.commit()
            assert result.replayed
            assert result.event.idempotency_key == key
            if self.model[b].keys[key] is not None:
                assert result.event.id == self.model[b].keys[key]
            assert self._fingerprint(s) == before, "a replayed key changed the data"

    @rule(b=bookings, data=st.data())
    def pay(self, b, data):
        m = self.model[b]
        due = max(m.total - m.net, 0)
        amount = data.draw(
            (st.just(due) | st.integers(1, due) if due else st.nothing())
            | st.integers(due + 1, due + 2000),
            label="amount",
        )

        self._pay(m, amount)

    def _pay(self, m: Expected, amount: int) -> None:
        def act(s: Session):
            booking = get_booking(s, m.id, lock=True)
            return record_manual_payment(s, self.actor, booking, amount=amount, method="cash")

        # A refunded booking is closed to money (its guard promised refunds cover payments).
        refused = m.status == "refunded"
        self._request(act, refusal=BookingClosed if refused else None)
        if not refused:
            m.paid_in += amount

    @rule(b=bookings, data=st.data())
    def refund(self, b, data):
        m = self.model[b]
        can = m.refundable
        amount = data.draw(
            (st.just(can) | st.integers(1, can) if can > 0 else st.nothing())
            | st.integers(max(can, 0) + 1, max(can, 0) + 3000),
            label="amount",
        )

        self._refund(m, amount)

    def _refund(self, m: Expected, amount: int) -> None:
        def act(s: Session):
            booking = get_booking(s, m.id, lock=True)
            return record_manual_refund(s, self.actor, booking, amount=amount, reason="goodwill")

        refused = amount > m.refundable
        self._request(act, refusal=RefundExceedsPaid if refused else None)
        if not refused:
            m.refunded += amount

    # -- the lifecycle, as the model sees it ---------------------------------------------------

    def _refusal(self, m: Expected, target: str) -> type[AppError] | None:
        if target not in LIFECYCLE[m.status]:
            return InvalidTransition
        if target == "payment_confirmed" and m.net < m.total:  # deposit = total here
            return PreconditionFailed
        if target == "refunded" and m.refunded < m.paid_in:
            return PreconditionFailed
        return None

    def _transition(self, b: str, target: str, *, key=None, reason=None) -> None:
        m = self.model[b]
        refusal = self._refusal(m, target)
        started = self.deps[m.schedule_id].started()

        def act(s: Session):
            booking = get_booking(s, b, lock=True)
            metadata = {"reason": reason} if reason else None
            return transition(
                s, self.actor, booking, target, note=reason, metadata=metadata, idempotency_key=key
            )

        result = self._request(act, refusal=refusal)
        if refusal is not None:
            return
        assert not result.replayed
        assert (result.event.from_status, result.event.to_status) == (m.status, target)
        self._entered(m, target, started=started)
        if target == "cancelled":
            m.cancel_reason = reason
        if key is not None:
            m.keys[key] = result.event.id

    def _entered(self, m: Expected, target: str, *, started: bool) -> None:
        """PRODUCT.md "Seats come back": on cancelled, or on refunded before the tour starts;
        never on no_show or completed (a booking refunded after reaching either of those keeps
        the seats it used, as docs/bookings.md and transitions.py read that sentence)."""
        if target == "payment_confirmed":
            m.net_at_confirm = m.net
        if target == "refunded":
            m.covered_at_refunded = m.refunded >= m.paid_in
            m.refunded_before_start = not started and m.status not in TRIP_ENDED
        if m.held and (target == "cancelled" or (target == "refunded" and m.refunded_before_start)):
            self.deps[m.schedule_id].taken -= m.held
            m.held = 0
        m.status = target
        m.chain.append(target)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def the_database_agrees(self):
        """Checked after every step, in one read transaction (one snapshot)."""
        with self._session(write=False) as s:
            rows = list(s.scalars(select(Booking).where(Booking.schedule_id.in_(list(self.deps)))))
            assert {r.id for r in rows} == set(self.model)
            self._check_seats(s, rows)
            self._check_bookings(s, rows)
            self._check_lifecycle(s)

    def _check_seats(self, s: Session, rows: list[Booking]) -> None:
        """Invariant 1: every counter equals the seats its bookings hold, within capacity."""
        schedules = s.execute(
            select(Schedule.id, Schedule.capacity, Schedule.seats_taken).where(
                Schedule.id.in_(list(self.deps))
            )
        ).all()
        assert len(schedules) == len(self.deps)
        for sid, capacity, taken in schedules:
            held = sum(r.held_seats for r in rows if r.schedule_id == sid)
            assert taken >= 0
            assert taken == held, f"schedule {sid}: counter {taken}, bookings hold {held}"
            if capacity is not None:
                assert taken <= capacity
            assert taken == self.deps[sid].taken, "the model and the counter disagree"

    def _check_bookings(self, s: Session, rows: list[Booking]) -> None:
        totals = totals_by_booking(s, [r.id for r in rows])
        outs = {o["id"]: o for o in page_out(s, rows)}
        for r in rows:
            m = self.model[r.id]
            assert r.status == m.status
            assert r.held_seats == m.held
            assert r.cancel_reason == m.cancel_reason
            # Seats are held exactly while the booking is live (PRODUCT.md "Seats come back").
            if r.status == "cancelled" or (r.status == "refunded" and m.refunded_before_start):
                assert r.held_seats == 0
            elif r.status != "refunded":
                assert r.held_seats == m.seats
            # Money (invariant 2): the ledger's sums, the derived status, never over-refunded.
            t = totals[r.id]
            assert (t.paid_in, t.refunded, t.refund_pending) == (m.paid_in, m.refunded, 0)
            assert t.refunded + t.refund_pending <= t.paid_in
            status = expected_payment_status(t.paid_in, t.refunded, r.total)
            assert ledger.payment_status(t, r.total).value == status
            assert outs[r.id]["payment_status"] == status
            assert outs[r.id]["balance_due"] == max(r.total - t.net, 0)
            # Money-bearing statuses are guarded.
            if r.status in CONFIRMED_OR_BEYOND:
                assert m.net_at_confirm is not None and m.net_at_confirm >= r.deposit_required
            if r.status == "refunded":
                assert m.covered_at_refunded
                assert t.refunded >= t.paid_in

    def _check_lifecycle(self, s: Session) -> None:
        """Every booking's events are one path through PRODUCT.md's table from booking_created,
        ending at its status, and the one the model walked."""
        events = s.execute(
            select(LifecycleEvent.booking_id, LifecycleEvent.from_status, LifecycleEvent.to_status)
            .where(LifecycleEvent.booking_id.in_(list(self.model)))
            .order_by(LifecycleEvent.created_at, LifecycleEvent.id)
        ).all()
        chains: dict[str, list[tuple[str | None, str]]] = {}
        for bid, frm, to in events:
            chains.setdefault(bid, []).append((frm, to))
        assert set(chains) == set(self.model)
        for bid, chain in chains.items():
            assert chain[0] == (None, "booking_created")
            for (_, prev), (frm, to) in zip(chain, chain[1:], strict=False):
                assert frm == prev and to in LIFECYCLE[frm], f"{bid}: {frm} -> {to}"
            assert [to for _, to in chain] == self.model[bid].chain


def test_booking_state_machine(db, org):
    machine = type("BookingStateMachineFor", (BookingStateMachine,), {"db": db, "org": org})
    profile = settings.default
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                profile,
                max_examples=min(profile.max_examples, 15),
                stateful_step_count=30,
                deadline=None,
            ),
        )
    finally:
        clock.reset()


def test_money_recorded_on_a_refunded_booking_keeps_refunds_covering_payments(db, org):
    machine = type("OneBooking", (BookingStateMachine,), {"db": db, "org": org})()
    try:
        # Paid in full, confirmed, completed, refunded in full, and in `refunded`.
        bid = machine.walked_booking(depth=6, no_show=False, dep=2, then_depart=False)
        assert machine.model[bid].status == "refunded"
        with db(write=True, organization_id=org.id) as s:
            try:
                booking = get_booking(s, bid, lock=True)
                record_manual_payment(s, machine.actor, booking, amount=1000, method="cash")
                s.commit()
            except BookingClosed:
                return  # refused: the refunded booking keeps its ledger as it was
        with db(write=False, organization_id=org.id) as s:
            t = totals_by_booking(s, [bid])[bid]
        assert t.refunded >= t.paid_in, f"refunded booking with {t}"
    finally:
        clock.reset()
