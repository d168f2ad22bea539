"""A priced cart: lines, discounts and taxes in minor units, and the snapshot every booking
stores (seed 003's subtotal, discounts, taxes, total). The arithmetic that fills it is
tos.pricing.engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class PricedLine:
    kind: str  # scheduled | item
    name: str
    quantity: int
    unit_amount: int
    pricing_tier_id: str | None = None
    unit_type: str | None = None
    participants: list[dict[str, Any]] = field(default_factory=list)
    base_unit_amount: int | None = None  # the tier's price before the season's adjustment

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_amount


@dataclass(frozen=True, slots=True)
class AppliedDiscount:
    type: str  # promotional_code | early_bird | group | manual
    description: str
    amount: int
    code_id: str | None = None
    rule_id: str | None = None


@dataclass(frozen=True, slots=True)
class AppliedTax:
    name: str
    rate_bp: int
    amount: int
    inclusive: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    currency: str
    lines: list[PricedLine]
    discounts: list[AppliedDiscount] = field(default_factory=list)
    taxes: list[AppliedTax] = field(default_factory=list)
    season: str | None = None

    @property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def discount_total(self) -> int:
        return sum(d.amount for d in self.discounts)

    @property
    def tax_total(self) -> int:
        """Exclusive taxes only: inclusive ones are already inside the line prices."""
        return sum(t.amount for t in self.taxes if not t.inclusive)

    @property
    def total(self) -> int:
        return max(self.subtotal - self.discount_total + self.tax_total, 0)

    @property
    def seats(self) -> int:
        return sum(line.quantity for line in self.lines if line.kind == "scheduled")

    @property
    def promo_discount(self) -> AppliedDiscount | None:
        return next((d for d in self.discounts if d.type == "promotional_code"), None)

    def money(self, amount: int) -> dict[str, Any]:
        return {"amount": amount, "currency": self.currency}

    def as_dict(self) -> dict[str, Any]:
        """Seed 003's shape; rates also as basis points, the exact figure."""
        return {
            "currency": self.currency,
            "season": self.season,
            "lines": [
                {
                    "kind": ln.kind,
                    "name": ln.name,
                    "pricing_tier_id": ln.pricing_tier_id,
                    "unit_type": ln.unit_type,
                    "quantity": ln.quantity,
                    "base_unit_price": self.money(
                        ln.unit_amount if ln.base_unit_amount is None else ln.base_unit_amount
                    ),
                    "unit_price": self.money(ln.unit_amount),
                    "total_price": self.money(ln.amount),
                }
                for ln in self.lines
            ],
            "subtotal": self.money(self.subtotal),
            "discounts": [
                {
                    "type": d.type,
                    "description": d.description,
                    "amount": self.money(d.amount),
                    "code_id": d.code_id,
                    "rule_id": d.rule_id,
                }
                for d in self.discounts
            ],
            "taxes": [
                {
                    "name": t.name,
                    "rate": t.rate_bp / 10_000,
                    "rate_bp": t.rate_bp,
                    "inclusive": t.inclusive,
                    "amount": self.money(t.amount),
                }
                for t in self.taxes
            ],
            "discount_total": self.money(self.discount_total),
            "tax_total": self.money(self.tax_total),
            "total": self.money(self.total),
        }
