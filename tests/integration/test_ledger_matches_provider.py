"""TOS's ledger against the provider's own records, under random sequences of API calls: intents,
payments and declines (signed webhooks, replayed at random), refunds of any amount (too much is
a 409), cancellations, transient provider errors, and the outbox run now and then. Once drained,
every payment's captured and refunded money on the ledger is exactly what the Stripe fake holds;
at every step, refunds (settled or reserved) never exceed what TOS took."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from tests.booking_builders import Departure, create_booking, make_departure
from tests.factories import OrgFixture
from tests.fakes.stripe_server import PAYABLE, StripeFake, running_stripe_fake
from tests.payment_builders import drain
from tos.bookings.models import Booking
from tos.core.clock import utcnow
from tos.db import tenancy
from tos.db.session import SessionFactory
from tos.outbox.models import OutboxMessage
from tos.payments.models import LedgerEntry
from tos.payments.providers import stripe as stripe_adapter

# A refund's amount: absolute, or relative to what can be refunded, so that refunds often reach
# the edge ("over" is one more than that: a 409).
AMOUNTS = st.one_of(st.integers(1, 16_000), st.sampled_from(["third", "half", "rest", "over"]))
# Each operation, as often as it is listed; `pick` chooses among the candidates.
OPS = ["create", "pay", "pay", "decline", "replay", "refund", "refund", "refund", "pay_again",
       "cancel", "run_outbox", "provider_error"]  # fmt: skip
STEP = st.tuples(st.sampled_from(OPS), st.integers(0, 1_000), AMOUNTS, st.booleans())
START = st.lists(st.tuples(st.integers(1, 3), st.sampled_from(["open", "paid", "declined"])),
                 min_size=1, max_size=3)  # fmt: skip


@dataclass
class World:
    client: object
    db: SessionFactory
    org: OrgFixture
    dep: Departure
    fake: StripeFake


@dataclass
class Money:
    captured: int = 0
    refunded: int = 0
    pending: int = 0


def drain_now(db: SessionFactory, org_id: str) -> None:
    """The outbox, with every back-off cut short."""
    with db(write=True) as s, tenancy.unscoped(s):
        s.execute(update(OutboxMessage).where(OutboxMessage.organization_id == org_id,
                                              OutboxMessage.status == "pending")
                  .values(due_at=utcnow()))  # fmt: skip
        s.commit()
    drain(db, org_id)


class Run:
    """One example: its own bookings in the world's organization, checked against the fake."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.bookings: list[str] = []
        self.refs: dict[str, str] = {}  # payment id -> pi_…
        self.booking_of: dict[str, str] = {}  # payment id -> booking id
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []
        self.paid: list[str] = []  # bookings with a payment that went through
        self.drained = True

    # --- reading ------------------------------------------------------------------------------

    def money(self) -> tuple[dict[str, Money], dict[str, str]]:
        """Per payment, (captured, refunded, pending) on the ledger; per booking, its status."""
        per: dict[str, Money] = defaultdict(Money)
        with self.w.db(write=False, organization_id=self.w.org.id) as s:
            for e in s.scalars(
                select(LedgerEntry).where(LedgerEntry.booking_id.in_(self.bookings))
            ):
                m = per[e.payment_id]
                if e.kind == "captured" and e.status == "succeeded":
                    m.captured += e.amount
                elif e.kind == "refund" and e.status == "succeeded":
                    m.refunded += e.amount
                elif e.kind == "refund" and e.status == "pending":
                    m.pending += e.amount
            rows = s.execute(
                select(Booking.id, Booking.status).where(Booking.id.in_(self.bookings))
            )
            return per, {booking_id: status for booking_id, status in rows}

    def refundable(self, booking_id: str) -> int:
        per, _ = self.money()
        mine = [p for p, b in self.booking_of.items() if b == booking_id]
        return sum(per[p].captured - per[p].refunded - per[p].pending for p in mine)

    def open_payments(self) -> list[str]:
        return [p for p, ref in self.refs.items() if self.w.fake.intents[ref]["status"] in PAYABLE]

    # --- acting -------------------------------------------------------------------------------

    def post(self, delivery: tuple[bytes, dict[str, str]]):
        body, headers = delivery
        url = f"/api/payments/webhook?provider=stripe&org={self.w.org.slug}"
        return self.w.client.post(url, content=body, headers=headers)

    def intent(self, booking_id: str):
        r = self.w.client.post(f"/api/v1/bookings/{booking_id}/payments",
                               json={"provider": "stripe"},
                               headers=self.w.org.headers("manager"))  # fmt: skip
        if r.status_code == 201:
            self.refs[r.json()["id"]] = r.json()["provider_ref"]
            self.booking_of[r.json()["id"]] = booking_id
        return r

    def create(self, adults: int) -> None:
        b = create_booking(self.w.client, self.w.org, self.w.dep, adults=adults)
        self.bookings.append(b["id"])
        assert self.intent(b["id"]).status_code == 201

    def settle(self, payment_id: str, succeed: bool) -> None:
        """The customer pays, or the card is declined; Stripe's signed webhook reaches TOS."""
        ref = self.refs[payment_id]
        delivery = self.w.fake.succeed(ref) if succeed else self.w.fake.fail(ref)
        r = self.post(delivery)
        assert r.status_code == 200 and r.json()["data"]["outcome"] == "accepted", r.text
        self.deliveries.append(delivery)
        if succeed:
            self.paid.append(self.booking_of[payment_id])
        self.drained = False

    def refund(self, booking_id: str, spec: int | str) -> None:
        left = self.refundable(booking_id)
        relative = {"third": left // 3, "half": left // 2, "rest": left, "over": left + 1}
        amount = spec if isinstance(spec, int) else max(relative[spec], 1)
        r = self.w.client.post(f"/api/v1/bookings/{booking_id}/refunds",
                               json={"amount": amount, "reason": "goodwill"},
                               headers=self.w.org.headers("accountant"))  # fmt: skip
        if amount <= left:
            assert r.status_code == 202, r.text
            assert sum(e["amount"] for e in r.json()) == amount
            self.drained = False
        else:
            assert r.status_code == 409 and r.json()["error"]["code"] == "REFUND_EXCEEDS_PAID"

    def run_outbox(self) -> None:
        drain_now(self.w.db, self.w.org.id)
        self.drained = True

    def provider_error(self, pick: int, spec: int | str) -> None:
        """Stripe fails a refund call once: the refund stays reserved and the outbox retries."""
        self.run_outbox()
        candidates = [b for b in self.bookings if self.refundable(b) > 0]
        if not candidates:
            return
        self.w.fake.inject_error([500, 503, 429][pick % 3], 1)
        booking_id = candidates[pick % len(candidates)]
        if isinstance(spec, int):  # within what is refundable: the call is made
            spec = min(spec, self.refundable(booking_id))
        self.refund(booking_id, "rest" if spec == "over" else spec)
        drain(self.w.db, self.w.org.id)  # the first call fails and backs off
        assert not self.w.fake._faults
        with self.w.db(write=False, organization_id=self.w.org.id) as s:
            (waiting,) = s.scalars(select(OutboxMessage).where(
                OutboxMessage.handler == "payments.execute_refund",
                OutboxMessage.status == "pending")).all()  # fmt: skip
            entry = s.scalar(select(LedgerEntry).where(
                LedgerEntry.id == waiting.payload["entry_id"]))  # fmt: skip
        assert waiting.attempts == 1 and waiting.last_error
        assert entry is not None and entry.status == "pending"
        ids = [r["metadata"].get("refund_id") for r in self.w.fake.refunds.values()]
        assert entry.id not in ids  # Stripe never took it
        self.drained = False

    def step(self, op: str, pick: int, spec: int | str, process: bool) -> None:
        """One operation; `process`: the outbox runs right after it (webhooks, refund calls)."""
        if op == "create":
            self.create(1 + pick % 3)
        elif op in ("pay", "decline") and (open_ := self.open_payments()):
            self.settle(open_[pick % len(open_)], op == "pay")
        elif op == "replay" and self.deliveries:
            r = self.post(self.deliveries[pick % len(self.deliveries)])
            assert r.status_code == 200 and r.json()["data"]["duplicate"] is True, r.text
        elif op == "refund":  # mostly bookings with money to give back; the others answer 409
            pool = self.paid + self.bookings
            self.refund(pool[pick % len(pool)], spec)
        elif op == "pay_again" and self.paid:
            # after a refund the balance is due again; paid in full or cancelled: a 409
            r = self.intent(self.paid[pick % len(self.paid)])
            assert r.status_code in (201, 409), r.text
        elif op == "cancel":  # an owner: all that is left goes back, and what lands later
            booking_id = self.bookings[pick % len(self.bookings)]
            r = self.w.client.post(f"/api/v1/bookings/{booking_id}/cancel", json={"reason": "x"},
                                   headers=self.w.org.headers("owner"))  # fmt: skip
            assert r.status_code in (200, 409), r.text
            self.drained = False
        elif op == "run_outbox":
            self.run_outbox()
        elif op == "provider_error":
            self.provider_error(pick, spec)
        if process:
            self.run_outbox()

    # --- the invariant ------------------------------------------------------------------------

    def check(self) -> None:
        per, statuses = self.money()
        fake = self.w.fake
        for payment_id, ref in self.refs.items():
            m = per[payment_id]
            # never more out than came in, counting what is reserved
            assert m.refunded + m.pending <= m.captured, (payment_id, m)
            # TOS never books money Stripe does not hold
            assert m.captured <= fake.captured(ref) and m.refunded <= fake.refunded(ref)
            if self.drained:
                assert (m.captured, m.refunded, m.pending) == (
                    fake.captured(ref), fake.refunded(ref), 0), (payment_id, m)  # fmt: skip
        if not self.drained:
            return
        for booking_id, status in statuses.items():
            mine = [per[p] for p, b in self.booking_of.items() if b == booking_id]
            captured, refunded = sum(m.captured for m in mine), sum(m.refunded for m in mine)
            if status in ("cancelled", "refunded"):  # everything went back, even late payments
                assert refunded == captured, (booking_id, status, captured, refunded)
            elif captured:
                assert status == "payment_confirmed", (booking_id, status)


def test_ledger_matches_stripe(client, db, org, monkeypatch) -> None:
    # TOS's outbox does the retrying; the SDK's own would hide the injected errors.
    monkeypatch.setattr(stripe_adapter.provider, "max_network_retries", 0)
    dep = make_departure(db, org.id, capacity=None, days_ahead=30)
    with running_stripe_fake() as fake:
        acct = fake.account
        creds = {"secret_key": acct.secret_key, "key_id": acct.publishable_key,
                 "webhook_secret": acct.webhook_secret, "api_base": fake.url}  # fmt: skip
        r = client.put("/api/v1/payment-accounts/stripe", headers=org.headers("owner"), json=creds)
        assert r.status_code == 200, r.text
        world = World(client, db, org, dep, fake)

        @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(start=START, steps=st.lists(STEP, min_size=4, max_size=12))
        def example(start, steps) -> None:
            fake._faults.clear()  # none left over from a failed example while shrinking
            run = Run(world)
            for adults, fate in start:
                run.create(adults)
                if fate != "open":
                    run.settle(next(reversed(run.refs)), fate == "paid")
            run.run_outbox()
            run.check()
            for step in steps:
                run.step(*step)
                run.check()
            run.run_outbox()  # whatever the last step left, once drained it all matches
            run.check()

        example()
