"""Seed 003's pricing rules as pure functions: worked examples and properties."""

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tos.core.money import apply_rate, divide_half_even
from tos.pricing.engine import (
    LineIn,
    Promo,
    PromoNotApplicable,
    Rule,
    Season,
    Tax,
    adjusted_unit,
    deposit_for,
    price,
    taxes_on,
    winning_season,
)

JULY = dt.date(2026, 7, 15)
ADULT = LineIn("scheduled", "Adult", 2, 5000, pricing_tier_id="t-adult", unit_type="ADULT")
CHILD = LineIn("scheduled", "Child", 1, 2500, pricing_tier_id="t-child", unit_type="CHILD")
SUMMER = Season("Summer Peak", dt.date(2026, 6, 1), dt.date(2026, 8, 31), "percentage", 2000)
VAT = Tax("VAT", 2300)


def test_a_worked_example_seasons_early_bird_promo_and_exclusive_vat():
    snap = price(
        currency="EUR", lines=[ADULT, CHILD], departure_date=JULY,
        booked_on=JULY - dt.timedelta(days=60), tour_id="tour",
        seasons=[SUMMER],
        rules=[Rule("early_bird", "Book 30 days ahead", "percentage", 1000, min_days_before=30),
               Rule("group", "Groups of 4+", "percentage", 1500, min_participants=4)],
        promo=Promo("SUMMER10", "fixed", 1000, currency="EUR", id="p1"),
        taxes=[VAT],
    )  # fmt: skip
    # Summer +20 %: adults 6000, child 3000.
    assert [ln.unit_amount for ln in snap.lines] == [6000, 3000]
    assert snap.subtotal == 15000
    # Early bird 10 % of 15000; no group (3 seats); the code takes 1000 of what is left.
    assert [(d.type, d.amount) for d in snap.discounts] == [
        ("early_bird", 1500), ("promotional_code", 1000)]  # fmt: skip
    assert snap.taxes[0].amount == 2875  # 23 % of 12500
    assert snap.total == 15000 - 2500 + 2875
    d = snap.as_dict()
    assert d["season"] == "Summer Peak"
    assert d["lines"][0]["base_unit_price"] == {"amount": 5000, "currency": "EUR"}
    assert d["discounts"][1] == {"type": "promotional_code", "description": "SUMMER10",
                                 "amount": {"amount": 1000, "currency": "EUR"},
                                 "code_id": "p1", "rule_id": None}  # fmt: skip
    assert d["taxes"][0]["rate"] == 0.23 and d["taxes"][0]["rate_bp"] == 2300


def test_an_inclusive_tax_is_inside_the_price_and_adds_nothing():
    snap = price(currency="EUR", lines=[ADULT], taxes=[Tax("IVA", 2300, inclusive=True)])
    assert snap.subtotal == 10000 and snap.total == 10000
    # net = 10000 / 1.23 = 8130.08 -> 8130; the tax is the rest.
    assert snap.taxes[0].amount == 1870 and snap.tax_total == 0


def test_the_highest_priority_season_wins_and_ties_go_to_the_later_start():
    low = Season("Low", dt.date(2026, 1, 1), dt.date(2026, 12, 31), "percentage", -1000, 0)
    high = Season("Holidays", dt.date(2026, 7, 1), dt.date(2026, 7, 31), "fixed", 700, 5)
    later = Season("Late July", dt.date(2026, 7, 10), dt.date(2026, 7, 31), "fixed", 900, 5)
    assert winning_season([low, high], JULY) is high
    assert winning_season([low, high, later], JULY) is later
    assert winning_season([low, high], dt.date(2026, 3, 1)) is low
    assert winning_season([high], dt.date(2026, 8, 1)) is None
    # Both ends inclusive.
    assert winning_season([high], dt.date(2026, 7, 31)) is high


def test_a_season_never_makes_a_price_negative_and_skips_items():
    cut = Season("Clearance", JULY, JULY, "fixed", -9999)
    item = LineIn("item", "Transfer", 1, 3000)
    snap = price(currency="EUR", lines=[ADULT, item], departure_date=JULY, seasons=[cut])
    assert [ln.unit_amount for ln in snap.lines] == [0, 3000]


def test_the_best_group_rule_applies_from_its_participant_count():
    rules = [
        Rule("group", "4+", "percentage", 500, min_participants=4),
        Rule("group", "6+", "percentage", 1000, min_participants=6),
        Rule("group", "other tour", "percentage", 5000, min_participants=2, tour_id="x"),
    ]
    six = LineIn("scheduled", "Adult", 6, 1000)
    snap = price(currency="EUR", lines=[six], tour_id="tour", rules=rules)
    assert [(d.description, d.amount) for d in snap.discounts] == [("6+", 600)]
    three = LineIn("scheduled", "Adult", 3, 1000)
    assert price(currency="EUR", lines=[three], tour_id="tour", rules=rules).discounts == []


def test_early_bird_counts_whole_local_days_before_the_departure():
    rule = Rule("early_bird", "30 days", "fixed", 500, currency="EUR", min_days_before=30)
    on = dict(currency="EUR", lines=[ADULT], departure_date=JULY, rules=[rule])
    assert price(**on, booked_on=JULY - dt.timedelta(days=30)).discount_total == 500
    assert price(**on, booked_on=JULY - dt.timedelta(days=29)).discount_total == 0
    # A fixed rule in another currency does not apply.
    usd = Rule("early_bird", "usd", "fixed", 500, currency="USD", min_days_before=1)
    early = JULY - dt.timedelta(days=90)
    snap = price(currency="EUR", lines=[ADULT], departure_date=JULY, booked_on=early, rules=[usd])
    assert snap.discount_total == 0


def test_a_promo_below_its_minimum_or_in_another_currency_is_refused():
    promo = Promo("BIG", "percentage", 1000, currency="EUR", min_booking_amount=20000)
    with pytest.raises(PromoNotApplicable) as exc:
        price(currency="EUR", lines=[ADULT], promo=promo)
    assert exc.value.reason == "min_booking_value"
    with pytest.raises(PromoNotApplicable) as exc:
        price(currency="USD", lines=[ADULT], promo=Promo("E", "fixed", 100, currency="EUR"))
    assert exc.value.reason == "currency"


def test_a_fixed_promo_larger_than_the_cart_takes_only_the_cart():
    snap = price(currency="EUR", lines=[ADULT], promo=Promo("ALL", "fixed", 10**9), taxes=[VAT])
    assert snap.discount_total == 10000 and snap.total == 0 and snap.taxes[0].amount == 0


@pytest.mark.parametrize(
    ("num", "den", "expected"),
    [(5, 2, 2), (7, 2, 4), (-5, 2, -2), (-7, 2, -4), (1, 3, 0), (2, 3, 1), (25, 10, 2)],
)
def test_half_even_rounding(num, den, expected):
    assert divide_half_even(num, den) == expected


@given(st.integers(-(10**15), 10**15), st.integers(1, 10**9))
def test_half_even_matches_decimal(num, den):
    expected = int((Decimal(num) / Decimal(den)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    assert divide_half_even(num, den) == expected


lines_st = st.lists(
    st.builds(
        LineIn,
        st.sampled_from(["scheduled", "item"]),
        st.just("line"),
        st.integers(1, 50),
        st.integers(0, 10**7),
    ),
    min_size=1,
    max_size=6,
)
season_st = st.builds(
    Season, st.just("s"), st.just(dt.date(2026, 1, 1)), st.just(dt.date(2026, 12, 31)),
    st.sampled_from(["percentage", "fixed"]), st.integers(-10000, 20000), st.integers(0, 3),
)  # fmt: skip
rule_st = st.one_of(
    st.builds(Rule, st.just("group"), st.just("g"), st.sampled_from(["percentage", "fixed"]),
              st.integers(1, 10000), st.just(None), st.integers(2, 20)),
    st.builds(Rule, st.just("early_bird"), st.just("e"), st.sampled_from(["percentage", "fixed"]),
              st.integers(1, 10000), st.just(None), st.just(None), st.integers(1, 90)),
)  # fmt: skip
promo_st = st.builds(
    Promo, st.just("P"), st.sampled_from(["percentage", "fixed"]), st.integers(1, 10**7)
)
tax_st = st.builds(Tax, st.just("t"), st.integers(0, 10000), st.booleans())


@given(
    lines=lines_st,
    seasons=st.lists(season_st, max_size=3),
    rules=st.lists(rule_st, max_size=4),
    promo=st.none() | promo_st,
    taxes=st.lists(tax_st, max_size=3),
    days_ahead=st.integers(0, 200),
)
def test_pricing_properties(lines, seasons, rules, promo, taxes, days_ahead):
    snap = price(
        currency="EUR", lines=lines, departure_date=JULY,
        booked_on=JULY - dt.timedelta(days=days_ahead), tour_id="tour",
        seasons=seasons, rules=rules, promo=promo, taxes=taxes,
    )  # fmt: skip
    lines_total = sum(ln.amount for ln in snap.lines)
    assert snap.subtotal == lines_total
    assert all(d.amount >= 0 for d in snap.discounts)
    assert snap.discount_total <= lines_total
    if snap.promo_discount is not None:
        assert snap.promo_discount.amount <= lines_total
    assert all(ln.unit_amount >= 0 for ln in snap.lines)
    assert snap.total == snap.subtotal - snap.discount_total + snap.tax_total
    assert snap.total >= 0
    # Inclusive taxes are inside the discounted amount, never more than it.
    inclusive = sum(t.amount for t in snap.taxes if t.inclusive)
    assert 0 <= inclusive <= snap.subtotal - snap.discount_total
    # At most one discount of each kind.
    kinds = [d.type for d in snap.discounts]
    assert len(kinds) == len(set(kinds))


@given(st.integers(0, 10**13), st.lists(tax_st, max_size=4))
def test_inclusive_taxes_and_the_net_make_up_the_amount(amount, taxes):
    applied = taxes_on(amount, taxes)
    assert [t.name for t in applied] == [t.name for t in taxes]
    inclusive_rate = sum(t.rate_bp for t in taxes if t.inclusive)
    net = divide_half_even(amount * 10000, 10000 + inclusive_rate)
    if any(t.inclusive for t in taxes):
        assert net + sum(t.amount for t in applied if t.inclusive) == amount
    for tax, got in zip(taxes, applied, strict=True):
        if not tax.inclusive:
            assert got.amount == apply_rate(net, tax.rate_bp)


@given(
    st.integers(0, 10**13),
    st.one_of(
        st.just({"type": "full"}),
        st.builds(lambda v: {"type": "percentage", "value": v}, st.integers(1, 10000)),
        st.builds(lambda v: {"type": "fixed", "value": v}, st.integers(1, 10**13)),
    ),
)
def test_a_deposit_is_never_more_than_the_total(total, rule):
    assert 0 <= deposit_for(total, rule) <= total


@given(st.integers(0, 10**9), st.integers(-10000, 50000))
def test_an_adjusted_unit_price_is_never_negative(amount, bp):
    season = Season("s", JULY, JULY, "percentage", bp)
    assert adjusted_unit(amount, season) >= 0
