"""A booking's price snapshot from its lines: pure arithmetic on minor units.

Core 2b adds seasons, promo codes, group and early-bird rules and taxes to the same snapshot
shape (seed 003's subtotal, discounts, taxes, total)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Amount columns (lines, totals, ledger entries) are 32-bit integers on PostgreSQL: anything
# larger is refused as invalid input on both databases rather than stored on one only.


@dataclass(frozen=True, slots=True)
class PricedLine:
    kind: str  # scheduled | item
    name: str
    quantity: int
    unit_amount: int
    pricing_tier_id: str | None = None
    unit_type: str | None = None
    participants: list[dict[str, Any]] = field(default_factory=list)

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_amount


@dataclass(frozen=True, slots=True)
class Snapshot:
    currency: str
    lines: list[PricedLine]
    discounts: list[dict[str, Any]] = field(default_factory=list)
    taxes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def discount_total(self) -> int:
        return sum(d["amount"] for d in self.discounts)

    @property
    def tax_total(self) -> int:
        """Exclusive taxes only: inclusive ones are already inside the line prices."""
        return sum(t["amount"] for t in self.taxes if not t.get("inclusive"))

    @property
    def total(self) -> int:
        return max(self.subtotal - self.discount_total + self.tax_total, 0)

    @property
    def seats(self) -> int:
        return sum(line.quantity for line in self.lines if line.kind == "scheduled")

    def as_dict(self) -> dict[str, Any]:
        money = lambda amount: {"amount": amount, "currency": self.currency}  # noqa: E731
        return {
            "currency": self.currency,
            "lines": [
                {
                    "kind": ln.kind,
                    "name": ln.name,
                    "pricing_tier_id": ln.pricing_tier_id,
                    "unit_type": ln.unit_type,
                    "quantity": ln.quantity,
                    "unit_price": money(ln.unit_amount),
                    "total_price": money(ln.amount),
                }
                for ln in self.lines
            ],
            "subtotal": money(self.subtotal),
            "discounts": self.discounts,
            "taxes": self.taxes,
            "total": money(self.total),
        }
