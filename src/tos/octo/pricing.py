"""`octo/pricing`: OCTO price objects from TOS pricing. Retail is what the customer pays with
every tax in it (inclusive taxes are inside the tier price, exclusive ones are added, as the
TOS engine prices a booking); net is what the reseller pays: its net rate for the tier when it
has one, else retail less its commission, else unknown (null)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.core.money import apply_rate, currency_exponent
from tos.identity.organization import taxes_of
from tos.octo.models import ResellerNetRate
from tos.pricing.engine import Tax, taxes_on


@dataclass(frozen=True, slots=True)
class NetTerms:
    commission_bps: int | None
    rates: Mapping[str, int] = field(default_factory=dict)  # tier id -> net per unit

    def key(self) -> tuple[Any, ...]:
        """For caches: two answers priced under the same terms are the same answer."""
        return (self.commission_bps, tuple(sorted(self.rates.items())))


def load_terms(session: Session, reseller_id: str, commission_bps: int | None) -> NetTerms:
    rows = session.execute(
        select(ResellerNetRate.pricing_tier_id, ResellerNetRate.amount).where(
            ResellerNetRate.reseller_id == reseller_id
        )
    ).all()
    return NetTerms(commission_bps, {tier_id: amount for tier_id, amount in rows})


def org_taxes(settings: Mapping[str, Any] | None) -> list[Tax]:
    return [Tax(t["name"], t["rate_bp"], t["inclusive"]) for t in taxes_of(dict(settings or {}))]


def unit_net(amount: int, tier_id: str | None, terms: NetTerms) -> int | None:
    """The reseller's price for one unit whose retail (before exclusive taxes) is `amount`."""
    if tier_id is not None and tier_id in terms.rates:
        return terms.rates[tier_id]
    if terms.commission_bps is not None:
        return amount - apply_rate(amount, terms.commission_bps)
    return None


def with_taxes(amount: int, taxes: Sequence[Tax]) -> tuple[int, list[Any]]:
    """(the amount with exclusive taxes added, the taxes applied to it)."""
    applied = taxes_on(amount, taxes)
    return amount + sum(t.amount for t in applied if not t.inclusive), applied


def price(
    amount: int,
    net_amount: int | None,
    currency: str,
    taxes: Sequence[Tax],
    *,
    original: int | None = None,
) -> dict[str, Any]:
    """An OCTO Pricing object for `amount` (minor units, before exclusive taxes). `original`
    (same basis) is shown when it is higher: the price before a season or discount lowered it."""
    retail, applied = with_taxes(amount, taxes)
    net_applied: list[Any] | None = None
    net = None
    if net_amount is not None:
        net, net_applied = with_taxes(net_amount, taxes)
    shown_original = retail
    if original is not None and original > amount:
        shown_original = with_taxes(original, taxes)[0]
    return {
        "original": shown_original,
        "retail": retail,
        "net": net,
        "currency": currency,
        "currencyPrecision": currency_exponent(currency),
        "includedTaxes": [
            {
                "name": t.name,
                "retail": t.amount,
                "original": t.amount,
                "net": net_applied[i].amount if net_applied is not None else None,
            }
            for i, t in enumerate(applied)
        ],  # fmt: skip
    }


def net_total(lines: Iterable[tuple[str | None, int, int]], terms: NetTerms,
              taxes: Sequence[Tax]) -> int | None:  # fmt: skip
    """What the reseller pays for a booking's tier lines [(tier id, unit amount, quantity)],
    exclusive taxes included; None when some line has no net price."""
    total = 0
    for tier_id, unit_amount, quantity in lines:
        net = unit_net(unit_amount, tier_id, terms)
        if net is None:
            return None
        total += net * quantity
    return with_taxes(total, taxes)[0]


def booking_price(
    *, total: int, subtotal: int, tax_total: int, currency: str, net: int | None,
    taxes: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    """The booking's own figures, as its price snapshot stored them (discounts included)."""
    return {
        "original": max(subtotal + tax_total, total),
        "retail": total,
        "net": net,
        "currency": currency,
        "currencyPrecision": currency_exponent(currency),
        "includedTaxes": [
            {
                "name": t["name"],
                "retail": t["amount"]["amount"],
                "original": t["amount"]["amount"],
                "net": None,
            }
            for t in taxes
        ],  # fmt: skip
    }
