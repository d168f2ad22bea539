"""The cancellation refund rule: which rule applies, how much it gives back, and how a policy's
rules are checked and stored. Pure: no database."""

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tos.catalog.policies import (
    FULL,
    MAX_HOURS,
    check_rules,
    hours_before,
    policy_refund,
    refund_bps,
)
from tos.core.errors import ValidationFailed


def rule(hours, bps):
    return {"hours_before_tour": hours, "refund_bps": bps}


WEEK_HALF_NONE = [rule(168, 10000), rule(72, 5000), rule(0, 0)]


@pytest.mark.parametrize(
    ("hours", "bps"),
    [
        (1000, 10000),
        (168, 10000),  # a rule's own hour is met
        (167.99, 5000),
        (100, 5000),
        (72, 5000),
        (71.5, 0),
        (0, 0),
        (-5, 0),
        (math.inf, 10000),
    ],
)
def test_the_rule_with_the_most_hours_still_met_applies(hours, bps):
    assert refund_bps(WEEK_HALF_NONE, hours) == bps
    assert refund_bps(list(reversed(WEEK_HALF_NONE)), hours) == bps  # order does not matter


def test_no_rule_met_refunds_nothing_and_no_policy_refunds_everything():
    assert refund_bps([rule(48, 10000)], 47.9) == 0
    assert refund_bps([], 1000) == 0
    assert refund_bps(None, 1000) == refund_bps(None, -1) == FULL
    assert policy_refund(12345, None, -100) == 12345


def test_after_the_start_only_a_zero_hour_rule_applies():
    assert refund_bps([rule(24, 10000), rule(0, 2500)], -0.01) == 2500
    assert refund_bps([rule(24, 10000), rule(0, 2500)], -1000) == 2500
    assert refund_bps([rule(24, 10000), rule(1, 2500)], -1) == 0
    assert refund_bps([rule(24, 10000), rule(1, 2500)], 0.5) == 0


def test_refunds_round_half_even_and_never_exceed_the_amount():
    assert policy_refund(10000, WEEK_HALF_NONE, 100) == 5000
    assert policy_refund(1, WEEK_HALF_NONE, 100) == 0  # 0.5 rounds to even
    assert policy_refund(3, WEEK_HALF_NONE, 100) == 2  # 1.5 rounds to even
    assert policy_refund(999, [rule(0, 3333)], 1) == 333  # 332.97
    assert policy_refund(0, WEEK_HALF_NONE, 500) == 0
    # A hand-made rule beyond 100 % (the API refuses one) still refunds at most the amount.
    assert policy_refund(500, [rule(0, 25000)], 1) == 500
    assert policy_refund(500, [rule(0, -10)], 1) == 0


def test_nonsense_inputs_are_refused():
    with pytest.raises(ValueError):
        policy_refund(-1, WEEK_HALF_NONE, 10)
    with pytest.raises(ValueError):
        refund_bps(WEEK_HALF_NONE, math.nan)


def test_hours_before_counts_from_the_cancellation_to_the_start():
    start = dt.datetime(2030, 6, 1, 9, tzinfo=dt.UTC)
    assert hours_before(start, start - dt.timedelta(days=3, minutes=30)) == 72.5
    assert hours_before(start, start + dt.timedelta(hours=2)) == -2


def test_rules_are_stored_most_hours_first():
    given_rules = [rule(0, 0), rule(168, 10000), rule(72, 5000)]
    assert check_rules(given_rules) == WEEK_HALF_NONE
    assert check_rules([rule(24, 7000), rule(24 * 30, 7000)]) == [rule(720, 7000), rule(24, 7000)]


def _path(exc_info):
    return exc_info.value.details["fields"][0]["path"]


def test_repeated_hours_are_refused_at_the_repeat():
    with pytest.raises(ValidationFailed) as exc:
        check_rules([rule(72, 5000), rule(0, 0), rule(72, 4000)])
    assert _path(exc) == ["rules", 2, "hours_before_tour"]


def test_a_later_cancellation_refunding_more_is_refused_at_that_rule():
    with pytest.raises(ValidationFailed) as exc:
        check_rules([rule(168, 5000), rule(0, 0), rule(72, 10000)])
    assert _path(exc) == ["rules", 2, "refund_bps"]
    with pytest.raises(ValidationFailed) as exc:
        check_rules([rule(0, 100), rule(24, 0)])
    assert _path(exc) == ["rules", 0, "refund_bps"]


# --- properties

amounts = st.integers(min_value=0, max_value=10**13)
hours = st.floats(min_value=-10_000, max_value=20_000, allow_nan=False)


@st.composite
def valid_rules(draw):
    """Rules as the API stores them: unique hours, the refund shrinking as the tour nears."""
    marks = draw(st.lists(st.integers(0, MAX_HOURS), min_size=1, max_size=20, unique=True))
    rates = draw(st.lists(st.integers(0, FULL), min_size=len(marks), max_size=len(marks)))
    pairs = zip(sorted(marks), sorted(rates), strict=True)
    rules = [rule(h, bps) for h, bps in pairs]
    return draw(st.permutations(rules))


any_rules = st.lists(
    st.builds(rule, st.integers(0, MAX_HOURS), st.integers(-FULL, 3 * FULL)), max_size=20
)


@given(amount=amounts, rules=st.one_of(st.none(), any_rules, valid_rules()), when=hours)
def test_a_refund_is_never_negative_nor_more_than_the_amount(amount, rules, when):
    assert 0 <= policy_refund(amount, rules, when) <= amount


@given(amount=amounts, rules=valid_rules(), a=hours, b=hours)
def test_cancelling_earlier_never_refunds_less(amount, rules, a, b):
    later, earlier = sorted((a, b))
    assert policy_refund(amount, rules, earlier) >= policy_refund(amount, rules, later)


@given(rules=valid_rules(), when=hours)
def test_the_rate_is_the_one_of_the_latest_deadline_still_met(rules, when):
    met = [r for r in rules if r["hours_before_tour"] <= max(when, 0)]
    expected = max(met, key=lambda r: r["hours_before_tour"])["refund_bps"] if met else 0
    assert refund_bps(rules, when) == expected
    stored = check_rules(rules)
    assert [r["hours_before_tour"] for r in stored] == sorted(
        (r["hours_before_tour"] for r in rules), reverse=True
    )
    assert refund_bps(stored, when) == expected
