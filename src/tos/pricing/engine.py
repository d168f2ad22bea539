"""Seed 003's composable pricing: pure functions of integers (minor units, basis points).

The order, and the one rounding rule (half-even on minor units, `core.money.apply_rate`), are
documented in docs/pricing.md:

1. A tier line's unit price is the tier's price adjusted by the winning season: the highest
   priority among the seasons whose inclusive local dates hold the departure's date (a tie goes
   to the later start date, then the later-created season). A percentage adjusts by a rate of
   the tier price, a fixed adjustment by an amount per unit; a unit price is never below 0.
2. A line comes to quantity x unit price; the subtotal is the sum of the lines.
3. Discounts apply one after the other, each to what the earlier ones left, and never more than
   that: the best early-bird rule, the best group rule, then the promotional code.
4. Taxes are charged on the discounted amount. Inclusive taxes are inside it: the net is the
   amount x 10 000 / (10 000 + the inclusive rates), each inclusive tax its rate of the net (the
   last one takes the rounding remainder, so net + inclusive taxes = the amount). Exclusive taxes
   are their rate of the net, added on top.

total = subtotal - discounts + exclusive taxes, and is never negative.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tos.core.money import BASIS_POINTS, apply_rate, divide_half_even
from tos.pricing.quote import AppliedDiscount, AppliedTax, PricedLine, Snapshot


@dataclass(frozen=True, slots=True)
class Season:
    name: str
    start_date: dt.date
    end_date: dt.date
    adjustment_type: str  # percentage (basis points) | fixed (minor units per unit)
    adjustment_value: int
    priority: int = 0
    order: tuple = ()  # tie-break after priority and start date (creation time, id)
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """An automatic discount (group or early_bird)."""

    kind: str
    name: str
    discount_type: str
    discount_value: int
    currency: str | None = None
    min_participants: int | None = None
    min_days_before: int | None = None
    tour_id: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Promo:
    code: str
    discount_type: str
    discount_value: int
    currency: str | None = None
    min_booking_amount: int | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Tax:
    name: str
    rate_bp: int
    inclusive: bool = False


@dataclass(frozen=True, slots=True)
class LineIn:
    """A line before pricing: a tier line (kind scheduled) or an unscheduled item."""

    kind: str
    name: str
    quantity: int
    unit_amount: int  # the tier's price, or the item's own
    pricing_tier_id: str | None = None
    unit_type: str | None = None
    participants: list = field(default_factory=list)


class PromoNotApplicable(Exception):
    def __init__(self, reason: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.reason = reason
        self.details = details


def winning_season(seasons: Iterable[Season], on: dt.date) -> Season | None:
    active = [s for s in seasons if s.start_date <= on <= s.end_date]
    return max(active, key=lambda s: (s.priority, s.start_date, s.order), default=None)


def adjusted_unit(amount: int, season: Season | None) -> int:
    if season is None:
        return amount
    if season.adjustment_type == "percentage":
        delta = apply_rate(amount, season.adjustment_value)
    else:
        delta = season.adjustment_value
    return max(amount + delta, 0)


def discount_amount(
    discount_type: str, value: int, base: int, *, currency: str, value_currency: str | None
) -> int | None:
    """What a percentage or fixed discount takes off `base` (never more than `base`); None when
    a fixed discount is in another currency and so does not apply."""
    if discount_type == "percentage":
        return min(apply_rate(base, value), base)
    if value_currency is not None and value_currency != currency:
        return None
    return min(value, base)


def rule_applies(rule: Rule, *, tour_id: str | None, seats: int, days_ahead: int | None) -> bool:
    if rule.tour_id is not None and rule.tour_id != tour_id:
        return False
    if rule.kind == "group":
        return rule.min_participants is not None and seats >= rule.min_participants
    return (
        days_ahead is not None
        and rule.min_days_before is not None
        and days_ahead >= rule.min_days_before
    )


def price(
    *,
    currency: str,
    lines: Sequence[LineIn],
    departure_date: dt.date | None = None,
    booked_on: dt.date | None = None,
    tour_id: str | None = None,
    seasons: Sequence[Season] = (),
    rules: Sequence[Rule] = (),
    promo: Promo | None = None,
    taxes: Sequence[Tax] = (),
) -> Snapshot:
    season = winning_season(seasons, departure_date) if departure_date is not None else None
    priced = [_priced(line, season) for line in lines]
    subtotal = sum(line.amount for line in priced)
    seats = sum(line.quantity for line in priced if line.kind == "scheduled")
    days_ahead = (
        (departure_date - booked_on).days
        if departure_date is not None and booked_on is not None
        else None
    )

    discounts: list[AppliedDiscount] = []
    remaining = subtotal
    for kind in ("early_bird", "group"):
        best = _best_rule(rules, kind, remaining, currency, tour_id, seats, days_ahead)
        if best is not None:
            rule, amount = best
            discounts.append(AppliedDiscount(kind, rule.name, amount, rule_id=rule.id))
            remaining -= amount
    if promo is not None:
        amount = _promo_amount(promo, subtotal, remaining, currency)
        discounts.append(AppliedDiscount("promotional_code", promo.code, amount, code_id=promo.id))
        remaining -= amount
    return Snapshot(
        currency=currency,
        lines=priced,
        discounts=discounts,
        taxes=taxes_on(remaining, taxes),
        season=season.name if season is not None else None,
    )


def _priced(line: LineIn, season: Season | None) -> PricedLine:
    unit = adjusted_unit(line.unit_amount, season) if line.kind == "scheduled" else line.unit_amount
    return PricedLine(
        line.kind,
        line.name,
        line.quantity,
        unit,
        pricing_tier_id=line.pricing_tier_id,
        unit_type=line.unit_type,
        participants=list(line.participants),
        base_unit_amount=line.unit_amount,
    )


def _best_rule(
    rules: Sequence[Rule],
    kind: str,
    base: int,
    currency: str,
    tour_id: str | None,
    seats: int,
    days_ahead: int | None,
) -> tuple[Rule, int] | None:
    best: tuple[Rule, int] | None = None
    for rule in rules:
        if rule.kind != kind or not rule_applies(
            rule, tour_id=tour_id, seats=seats, days_ahead=days_ahead
        ):
            continue
        amount = discount_amount(
            rule.discount_type, rule.discount_value, base,
            currency=currency, value_currency=rule.currency,
        )  # fmt: skip
        if amount is not None and amount > 0 and (best is None or amount > best[1]):
            best = (rule, amount)
    return best


def _promo_amount(promo: Promo, subtotal: int, remaining: int, currency: str) -> int:
    if (
        promo.currency is not None
        and promo.currency != currency
        and (promo.discount_type == "fixed" or promo.min_booking_amount is not None)
    ):
        raise PromoNotApplicable(
            "currency", f"code {promo.code} is for bookings in {promo.currency}",
            currency=promo.currency,
        )  # fmt: skip
    if promo.min_booking_amount is not None and subtotal < promo.min_booking_amount:
        raise PromoNotApplicable(
            "min_booking_value",
            f"code {promo.code} needs a booking of at least {promo.min_booking_amount}",
            min_booking_amount=promo.min_booking_amount, subtotal=subtotal,
        )  # fmt: skip
    amount = discount_amount(
        promo.discount_type, promo.discount_value, remaining,
        currency=currency, value_currency=promo.currency,
    )  # fmt: skip
    return amount or 0


def taxes_on(amount: int, taxes: Sequence[Tax]) -> list[AppliedTax]:
    """The taxes on a discounted amount, in the organization's order."""
    inclusive = [t for t in taxes if t.inclusive]
    net = divide_half_even(amount * BASIS_POINTS, BASIS_POINTS + sum(t.rate_bp for t in inclusive))
    shares: dict[int, int] = {}
    left = amount - net
    for i, tax in enumerate(inclusive):
        share = left if i == len(inclusive) - 1 else min(apply_rate(net, tax.rate_bp), left)
        shares[id(tax)] = share
        left -= share
    return [
        AppliedTax(t.name, t.rate_bp, shares[id(t)], inclusive=True)
        if t.inclusive
        else AppliedTax(t.name, t.rate_bp, apply_rate(net, t.rate_bp))
        for t in taxes
    ]


def deposit_for(total: int, rule: Mapping[str, Any]) -> int:
    """What confirming a booking needs paid: the organization's deposit rule (full, a
    percentage in basis points, or a fixed amount), never more than the total."""
    kind = rule.get("type", "full")
    if kind == "percentage":
        return min(apply_rate(total, int(rule["value"])), total)
    if kind == "fixed":
        return min(int(rule["value"]), total)
    return total
