"""Gapless invoice numbers under concurrency: threads, each with its own session, take numbers
and issue invoices at once, some rolling back. Whatever the interleaving (SQLite serialises
writers; PostgreSQL queues them on the sequence row's lock), the committed numbers are exactly
1..N: no gap, no duplicate."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.booking_builders import create_booking, make_departure
from tos.documents import render, service
from tos.documents.models import Document, NumberSequence
from tos.documents.numbering import next_number


@pytest.fixture(autouse=True)
def documents_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TOS_DOCUMENTS_DIR", str(tmp_path / "documents"))


def slow_fake_pdf(template: str, context: dict) -> bytes:
    time.sleep(0.05)
    return f"%PDF-1.4 {template} {context['number']} {uuid.uuid4()}".encode()


def run_threads(count: int, target: Callable[[int], None]) -> None:
    """Start `count` threads together; re-raise the first error any of them met."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_numbers_are_gapless_when_transactions_roll_back(db, org, other_org):
    committed: list[int] = []
    guard = threading.Lock()

    def issuer(i: int) -> None:
        rng = random.Random(i)
        for j in range(6):
            with db(write=True, organization_id=org.id) as session:
                n = next_number(session, "INV", 2031)
                time.sleep(rng.uniform(0, 0.003))  # hold the number while others queue
                if (i + j) % 3 == 0:
                    session.rollback()  # the number goes back to the next issuer
                    continue
                session.commit()
                with guard:
                    committed.append(n)

    run_threads(8, issuer)
    assert len(committed) == 32
    assert sorted(committed) == list(range(1, 33))
    with db(write=False, organization_id=org.id) as session:
        row = session.scalar(select(NumberSequence).where(NumberSequence.series == "INV"))
        assert (row.year, row.last_number) == (2031, 32)
        # Series and years count apart; so do organizations.
        assert next_number(session, "CN", 2031) == 1
        assert next_number(session, "INV", 2032) == 1
        session.rollback()
    with db(write=True, organization_id=other_org.id) as session:
        assert next_number(session, "INV", 2031) == 1
        session.rollback()


def test_concurrent_invoices_take_consecutive_numbers_and_one_per_booking(
    client, db, org, monkeypatch
):
    dep = make_departure(db, org.id, capacity=50)
    bookings = [create_booking(client, org, dep, email=f"c{i}@example.com")["id"] for i in range(6)]
    first, racing = bookings[0], bookings[1:]
    rolled_back = set(racing[:2])
    guard = threading.Lock()

    def issue(booking_id: str, *, commit: bool = True) -> str:
        with db(write=True, organization_id=org.id) as session:
            doc = service.issue_invoice(session, booking_id)
            number = service.number_of(session, doc)
            assert number is not None
            if commit:
                session.commit()
            else:
                session.rollback()  # its number, row and (orphan) file are given back
            return number

    year = dt.datetime.now(ZoneInfo(org.timezone)).year
    expected = [f"INV-{year}-{n:06d}" for n in range(1, 8)]
    numbers = {first: issue(first)}  # rendered by WeasyPrint
    assert numbers[first] == expected[0]
    # The racing renders are stand-ins that hold the lock a while, as a render does: real ones
    # (~0.3 s of CPU each) on a loaded machine could queue past SQLite's 5 s busy timeout.
    monkeypatch.setattr(render, "render_pdf", slow_fake_pdf)

    def worker(i: int) -> None:
        booking_id = racing[i]
        number = issue(booking_id, commit=booking_id not in rolled_back)
        if booking_id not in rolled_back:
            with guard:
                numbers[booking_id] = number

    run_threads(len(racing), worker)
    assert sorted(numbers.values()) == expected[:4]

    # The rolled-back bookings issue again: the next numbers, no gap.
    for booking_id in sorted(rolled_back):
        numbers[booking_id] = issue(booking_id)
    assert sorted(numbers.values()) == expected[:6]

    # One booking, several issuers at once (a retried job beside the first): one invoice.
    same = create_booking(client, org, dep, email="same@example.com")["id"]
    seen: list[str] = []

    def same_booking(_: int) -> None:
        number = issue(same)
        with guard:
            seen.append(number)

    run_threads(4, same_booking)
    assert seen == [expected[6]] * 4

    with db(write=False, organization_id=org.id) as session:
        docs = session.scalars(select(Document).where(Document.type == "invoice")).all()
        assert sorted(d.number for d in docs) == expected
        assert len({d.booking_id for d in docs}) == 7
        # Every committed row's file is the one it names (the orphans of the rolled-back
        # attempts were overwritten by their slot's next holder).
        for doc in docs:
            assert service.read(doc).startswith(b"%PDF-")
