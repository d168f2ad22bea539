"""Which pricing tiers apply to a departure: pure, no database.

A tier applies to a schedule when it belongs to the schedule's variant or to the whole tour
(variant_id None), and the schedule's local date lies within its validity (both ends
inclusive, open when unset). Tiers are shown by sort_order, then name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Protocol, TypeVar


class TierLike(Protocol):
    @property
    def variant_id(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def valid_from(self) -> dt.date | None: ...
    @property
    def valid_until(self) -> dt.date | None: ...
    @property
    def sort_order(self) -> int: ...


T = TypeVar("T", bound=TierLike)


def applies(tier: TierLike, *, variant_id: str, on: dt.date) -> bool:
    if tier.variant_id is not None and tier.variant_id != variant_id:
        return False
    if tier.valid_from is not None and on < tier.valid_from:
        return False
    return tier.valid_until is None or on <= tier.valid_until


def tiers_for(tiers: Iterable[T], *, variant_id: str, on: dt.date) -> list[T]:
    chosen = [t for t in tiers if applies(t, variant_id=variant_id, on=on)]
    chosen.sort(key=lambda t: (t.sort_order, t.name))
    return chosen
