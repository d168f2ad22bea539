import datetime as dt
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from tos.pricing.tiers import applies, tiers_for

D = dt.date


@dataclass
class Tier:
    name: str
    variant_id: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    sort_order: int = 0


def names(tiers):
    return [t.name for t in tiers]


def test_tour_wide_tiers_apply_to_every_variant():
    assert names(tiers_for([Tier("Adult")], variant_id="v1", on=D(2026, 5, 1))) == ["Adult"]


def test_a_variant_tier_applies_only_to_its_variant():
    tiers = [Tier("Adult"), Tier("VIP", variant_id="v2")]
    assert names(tiers_for(tiers, variant_id="v1", on=D(2026, 5, 1))) == ["Adult"]
    assert names(tiers_for(tiers, variant_id="v2", on=D(2026, 5, 1))) == ["Adult", "VIP"]


def test_validity_is_inclusive_at_both_ends():
    summer = Tier("Summer", valid_from=D(2026, 6, 1), valid_until=D(2026, 8, 31))
    assert not applies(summer, variant_id="v", on=D(2026, 5, 31))
    assert applies(summer, variant_id="v", on=D(2026, 6, 1))
    assert applies(summer, variant_id="v", on=D(2026, 8, 31))
    assert not applies(summer, variant_id="v", on=D(2026, 9, 1))


def test_open_ended_validity_has_no_bound_on_that_side():
    assert applies(Tier("Late", valid_from=D(2026, 1, 1)), variant_id="v", on=D(2099, 1, 1))
    assert applies(Tier("Early", valid_until=D(2026, 1, 1)), variant_id="v", on=D(2000, 1, 1))


def test_tiers_are_ordered_by_sort_order_then_name():
    tiers = [Tier("Child", sort_order=1), Tier("Senior", sort_order=0),
             Tier("Adult", sort_order=1)]  # fmt: skip
    assert names(tiers_for(tiers, variant_id="v", on=D(2026, 1, 1))) == [
        "Senior", "Adult", "Child",
    ]  # fmt: skip


tier_strategy = st.builds(
    Tier,
    name=st.text(min_size=1, max_size=5),
    variant_id=st.sampled_from([None, "v1", "v2"]),
    valid_from=st.none() | st.dates(D(2026, 1, 1), D(2026, 12, 31)),
    valid_until=st.none() | st.dates(D(2026, 1, 1), D(2026, 12, 31)),
    sort_order=st.integers(0, 3),
)


@given(tiers=st.lists(tier_strategy, max_size=12), on=st.dates(D(2026, 1, 1), D(2026, 12, 31)))
def test_selection_keeps_exactly_the_applicable_tiers_in_order(tiers, on):
    chosen = tiers_for(tiers, variant_id="v1", on=on)
    assert sorted(map(id, chosen)) == sorted(
        id(t) for t in tiers if applies(t, variant_id="v1", on=on)
    )
    keys = [(t.sort_order, t.name) for t in chosen]
    assert keys == sorted(keys)
    for t in chosen:
        assert t.variant_id in (None, "v1")
        assert t.valid_from is None or t.valid_from <= on
        assert t.valid_until is None or on <= t.valid_until
