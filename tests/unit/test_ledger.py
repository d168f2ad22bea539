"""The money ledger as pure arithmetic: totals by kind and status, derived payment status, the
guards of the money transitions, with hypothesis properties over arbitrary ledgers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tos.payments.ledger import (
    MONEY_IN,
    MONEY_OUT,
    Entry,
    EntryStatus,
    Kind,
    PaymentStatus,
    Totals,
    covers,
    payment_status,
    refunds_cover_payments,
    totals,
)

OK = EntryStatus.SUCCEEDED


def e(kind: str, amount: int, status: EntryStatus = OK) -> Entry:
    return Entry(Kind(kind), status, amount)


def test_money_in_and_money_out_are_the_seven_kinds_of_product_md():
    assert {k.value for k in MONEY_IN} == {"captured", "manual", "external", "on_account"}
    assert {k.value for k in MONEY_OUT} == {"refund", "manual_refund", "external_refund"}
    assert set(Kind) == MONEY_IN | MONEY_OUT


def test_an_empty_ledger_has_nothing_in_or_out():
    assert totals([]) == Totals(paid_in=0, refunded=0, refund_pending=0)


@pytest.mark.parametrize("kind", ["captured", "manual", "external", "on_account"])
def test_each_money_in_kind_counts_as_paid_when_it_succeeded(kind):
    assert totals([e(kind, 700)]).paid_in == 700


@pytest.mark.parametrize("kind", ["refund", "manual_refund", "external_refund"])
def test_each_money_out_kind_counts_as_refunded_when_it_succeeded(kind):
    t = totals([e("manual", 1000), e(kind, 300)])
    assert (t.paid_in, t.refunded, t.net) == (1000, 300, 700)


def test_pending_and_failed_money_in_counts_for_nothing():
    t = totals([e("captured", 500, EntryStatus.PENDING), e("captured", 500, EntryStatus.FAILED)])
    assert t == Totals(0, 0, 0)


def test_a_pending_refund_is_reserved_and_a_failed_one_is_not():
    t = totals(
        [
            e("captured", 1000),
            e("refund", 200, EntryStatus.PENDING),
            e("refund", 300, EntryStatus.FAILED),
        ]
    )
    assert (t.refunded, t.refund_pending, t.refundable, t.net) == (0, 200, 800, 1000)


def test_refundable_is_what_came_in_less_refunds_done_and_pending():
    t = totals([e("manual", 1000), e("manual_refund", 100), e("refund", 250, EntryStatus.PENDING)])
    assert t.refundable == 650


@pytest.mark.parametrize(
    "entries,due,expected",
    [
        ([], 1000, "unpaid"),
        ([], 0, "paid"),
        ([("manual", 1)], 1000, "partial"),
        ([("manual", 999)], 1000, "partial"),
        ([("manual", 1000)], 1000, "paid"),
        ([("manual", 600), ("captured", 400)], 1000, "paid"),
        ([("manual", 1500)], 1000, "paid"),
        ([("manual", 1000), ("manual_refund", 1)], 1000, "partially_refunded"),
        ([("manual", 1000), ("manual_refund", 1000)], 1000, "refunded"),
        ([("manual", 400), ("manual_refund", 400)], 1000, "refunded"),
        ([("manual", 400), ("manual_refund", 100)], 1000, "partially_refunded"),
    ],
)
def test_payment_status_is_derived_from_the_ledger(entries, due, expected):
    t = totals([e(kind, amount) for kind, amount in entries])
    assert payment_status(t, due).value == expected


def test_a_dispute_overrides_every_other_payment_status():
    t = totals([e("manual", 1000)])
    assert payment_status(t, 1000, disputed=True) is PaymentStatus.DISPUTED


def test_a_pending_refund_does_not_change_the_payment_status_yet():
    t = totals([e("captured", 1000), e("refund", 1000, EntryStatus.PENDING)])
    assert payment_status(t, 1000) is PaymentStatus.PAID


def test_covers_compares_money_kept_with_what_is_required():
    t = totals([e("manual", 1000), e("manual_refund", 200)])
    assert covers(t, 800) and not covers(t, 801)
    assert covers(totals([]), 0)


def test_refunds_cover_payments_when_everything_that_came_in_went_out():
    assert refunds_cover_payments(totals([]))
    assert not refunds_cover_payments(totals([e("manual", 10)]))
    assert refunds_cover_payments(totals([e("manual", 10), e("external_refund", 10)]))


# --- properties over arbitrary ledgers that respect the refund rule -------------------------

amounts = st.integers(min_value=1, max_value=10**9)
statuses = st.sampled_from(list(EntryStatus))


@st.composite
def ledgers(draw) -> list[Entry]:
    """Entries in order where refunds (pending included) never exceed what came in, as
    tos.payments.service enforces."""
    entries: list[Entry] = []
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.booleans()):
            entries.append(
                Entry(draw(st.sampled_from(sorted(MONEY_IN))), draw(statuses), draw(amounts))
            )
        else:
            room = totals(entries).refundable
            if room <= 0:
                continue
            amount = draw(st.integers(1, room))
            entries.append(Entry(draw(st.sampled_from(sorted(MONEY_OUT))), draw(statuses), amount))
    return entries


@given(ledgers(), st.integers(0, 10**10))
def test_payment_status_is_unpaid_exactly_when_nothing_came_in_and_something_is_due(entries, due):
    t = totals(entries)
    assert (payment_status(t, due) is PaymentStatus.UNPAID) == (t.paid_in == 0 and due > 0)


@given(ledgers(), st.integers(0, 10**10))
def test_payment_status_is_refunded_exactly_when_refunds_cover_a_payment(entries, due):
    t = totals(entries)
    expected = t.refunded > 0 and t.refunded >= t.paid_in
    assert (payment_status(t, due) is PaymentStatus.REFUNDED) == expected


@given(ledgers(), st.integers(0, 10**10))
def test_paid_and_partial_are_decided_by_the_amount_due_when_nothing_was_refunded(entries, due):
    t = totals(entries)
    status = payment_status(t, due)
    if t.refunded == 0 and t.paid_in > 0:
        assert status is (PaymentStatus.PAID if t.paid_in >= due else PaymentStatus.PARTIAL)
    if t.refunded > 0:
        assert status in (PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED)


@given(ledgers(), st.integers(0, 10**10), st.booleans())
def test_payment_status_is_always_one_of_the_six(entries, due, disputed):
    assert payment_status(totals(entries), due, disputed=disputed) in set(PaymentStatus)


@given(ledgers())
def test_refunds_never_exceed_what_came_in_and_net_is_never_negative(entries):
    t = totals(entries)
    assert 0 <= t.refunded + t.refund_pending <= t.paid_in
    assert t.net >= 0 and t.refundable >= 0
    assert t.net == t.paid_in - t.refunded


@given(ledgers(), st.lists(st.tuples(st.sampled_from(list(Kind)), statuses, amounts)))
def test_totals_do_not_depend_on_the_order_of_entries(entries, extra):
    more = entries + [Entry(k, s, a) for k, s, a in extra]
    assert totals(more) == totals(list(reversed(more)))


@given(ledgers(), st.integers(0, 10**10))
def test_covering_a_larger_amount_implies_covering_a_smaller_one(entries, required):
    t = totals(entries)
    if covers(t, required):
        assert covers(t, max(required - 1, 0))
    assert covers(t, t.net) and not covers(t, t.net + 1)


@given(ledgers())
def test_a_failed_entry_changes_no_total(entries):
    failed = [Entry(kind, EntryStatus.FAILED, 10**6) for kind in Kind]
    assert totals(entries + failed) == totals(entries)
