"""The booking lifecycle table, held whole against PRODUCT.md (transcribed independently below):
every allowed and every forbidden (from, to) pair, the seed 003 group names, and where seats
come back."""

import itertools

import pytest

from tos.bookings.lifecycle import (
    GROUPS,
    MONEY_STATUSES,
    Status,
    allowed_targets,
    can_transition,
    expand_status_filter,
    releases_seats,
)

# PRODUCT.md "One booking lifecycle (seed 000, extended)", copied by hand.
SPEC = """
lead_created -> quotation_sent | cancelled
quotation_sent -> quotation_approved | cancelled
quotation_approved -> booking_created | cancelled
booking_created -> payment_pending | cancelled
payment_pending -> payment_confirmed | cancelled | refunded
payment_confirmed -> supplier_confirmed | cancelled | refunded
supplier_confirmed -> documents_generated | cancelled | refunded
documents_generated -> completed | no_show | cancelled | refunded
completed -> refunded
no_show -> refunded
cancelled -> refunded
refunded ->
"""


def _spec() -> dict[str, set[str]]:
    table: dict[str, set[str]] = {}
    for line in SPEC.strip().splitlines():
        source, _, targets = line.partition("->")
        table[source.strip()] = {t.strip() for t in targets.split("|") if t.strip()}
    return table


ALLOWED = _spec()
STATUSES = sorted(ALLOWED)
PAIRS = list(itertools.product(STATUSES, STATUSES))


def test_the_spec_names_exactly_the_twelve_statuses_of_the_engine():
    assert set(ALLOWED) == {s.value for s in Status}
    assert len(ALLOWED) == 12


@pytest.mark.parametrize(
    "source,target", [(s, t) for s, t in PAIRS if t in ALLOWED[s]], ids="{0[0]}->{0[1]}".format
)
def test_an_allowed_transition_is_allowed(source, target):
    assert can_transition(source, target)
    assert can_transition(Status(source), Status(target))


@pytest.mark.parametrize(
    "source,target", [(s, t) for s, t in PAIRS if t not in ALLOWED[s]], ids="{0[0]}-x-{0[1]}".format
)
def test_a_transition_not_in_the_table_is_forbidden(source, target):
    assert not can_transition(source, target)


@pytest.mark.parametrize("source", STATUSES)
def test_allowed_targets_lists_the_table_row_sorted(source):
    assert allowed_targets(source) == sorted(ALLOWED[source])


def test_refunded_is_terminal():
    assert allowed_targets("refunded") == []


@pytest.mark.parametrize("status", STATUSES)
def test_no_status_may_move_to_itself(status):
    assert not can_transition(status, status)


def test_every_status_but_refunded_and_the_ends_of_the_trip_can_be_cancelled():
    cancellable = {s for s in STATUSES if can_transition(s, "cancelled")}
    assert cancellable == set(STATUSES) - {"cancelled", "refunded", "completed", "no_show"}


def test_an_unknown_status_is_a_value_error():
    with pytest.raises(ValueError):
        can_transition("booking_created", "archived")
    with pytest.raises(ValueError):
        allowed_targets("archived")


def test_the_money_statuses_are_payment_confirmed_and_refunded():
    assert {s.value for s in MONEY_STATUSES} == {"payment_confirmed", "refunded"}


# API.md "Status filters": seed 003's group names expand.
GROUP_SPEC = {
    "pending": {"booking_created", "payment_pending"},
    "confirmed": {"payment_confirmed", "supplier_confirmed", "documents_generated"},
    "cancelled": {"cancelled"},
    "completed": {"completed"},
    "no_show": {"no_show"},
}


@pytest.mark.parametrize("group", sorted(GROUP_SPEC))
def test_a_group_name_expands_to_its_lifecycle_statuses(group):
    assert {s.value for s in expand_status_filter([group])} == GROUP_SPEC[group]
    assert {s.value for s in GROUPS[group]} == GROUP_SPEC[group]


def test_group_names_and_statuses_mix_in_one_filter():
    got = expand_status_filter(["pending", "refunded", "payment_pending"])
    assert {s.value for s in got} == {"booking_created", "payment_pending", "refunded"}


def test_an_unknown_status_filter_is_a_value_error():
    with pytest.raises(ValueError):
        expand_status_filter(["pending", "shipped"])


def test_an_empty_status_filter_expands_to_nothing():
    assert expand_status_filter([]) == set()


# PRODUCT.md "Seats come back when a booking enters cancelled, or refunded before the tour
# starts; never on no_show or completed."
@pytest.mark.parametrize("started", [False, True])
def test_entering_cancelled_returns_held_seats_before_or_after_the_start(started):
    assert releases_seats(Status.CANCELLED, tour_started=started, seats_held=True)


def test_entering_refunded_before_the_tour_starts_returns_held_seats():
    assert releases_seats(Status.REFUNDED, tour_started=False, seats_held=True)


def test_entering_refunded_after_the_tour_started_keeps_the_seats():
    assert not releases_seats(Status.REFUNDED, tour_started=True, seats_held=True)


@pytest.mark.parametrize("target", ["completed", "no_show"])
@pytest.mark.parametrize("started", [False, True])
def test_completed_and_no_show_never_return_seats(target, started):
    assert not releases_seats(Status(target), tour_started=started, seats_held=True)


@pytest.mark.parametrize("target", STATUSES)
def test_nothing_is_returned_when_no_seats_are_held(target):
    assert not releases_seats(Status(target), tour_started=False, seats_held=False)


@pytest.mark.parametrize("target", [s for s in STATUSES if s not in ("cancelled", "refunded")])
def test_no_other_status_returns_seats(target):
    assert not releases_seats(Status(target), tour_started=False, seats_held=True)
