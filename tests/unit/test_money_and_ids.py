from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tos.core.money import Money, currency_exponent, from_major, to_major
from tos.db.ids import new_id


def test_ids_are_uuid7_and_sort_by_creation_time():
    ids = [new_id() for _ in range(200)]
    assert all(i[14] == "7" for i in ids)
    assert len(set(ids)) == 200
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)


def test_money_refuses_floats_and_bad_currencies():
    with pytest.raises(TypeError):
        Money(10.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Money(10, "euro")


def test_money_refuses_mixing_currencies():
    with pytest.raises(ValueError):
        Money(1, "EUR") + Money(1, "USD")


@pytest.mark.parametrize("currency,exp", [("EUR", 2), ("JPY", 0), ("KWD", 3), ("THB", 2)])
def test_currency_exponents_follow_iso_4217(currency, exp):
    assert currency_exponent(currency) == exp


def test_seed_units_convert_to_minor_units_exactly():
    assert from_major(3490, "THB") == 349000
    assert from_major("12.5", "EUR") == 1250
    assert from_major(500, "JPY") == 500
    with pytest.raises(ValueError):
        from_major("1.234", "EUR")


@given(st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from(["EUR", "JPY", "KWD"]))
def test_minor_to_major_and_back_is_lossless(minor, currency):
    assert isinstance(to_major(minor, currency), Decimal)
    assert from_major(str(to_major(minor, currency)), currency) == minor
