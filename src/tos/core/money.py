"""Money: integer minor units plus an ISO 4217 code. Never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# ISO 4217 minor-unit exponents that differ from 2.
_EXPONENTS = {
    "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0,
    "JOD": 3, "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0,
    "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0, "VUV": 0, "XAF": 0,
    "XOF": 0, "XPF": 0,
}  # fmt: skip


# The largest amount TOS accepts in one field, in minor units: sums of many still fit the
# 64-bit columns (and are exact in JavaScript clients, below 2**53).
MAX_AMOUNT = 10**13


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def is_currency_code(value: str) -> bool:
    return len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        if not is_currency_code(self.currency):
            raise ValueError(f"not an ISO 4217 code: {self.currency!r}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, n: int) -> Money:
        return Money(self.amount * n, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def as_dict(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}


def from_major(units: int | str, currency: str) -> int:
    """Whole or decimal currency units (as seeds send them) to minor units, exactly."""
    exp = currency_exponent(currency)
    value = Decimal(str(units)) * (Decimal(10) ** exp)
    if value != value.to_integral_value():
        raise ValueError(f"{units} has more decimals than {currency} allows")
    return int(value)


def to_major(minor: int, currency: str) -> Decimal:
    return Decimal(minor) / (Decimal(10) ** currency_exponent(currency))


BASIS_POINTS = 10_000  # 100 %


def divide_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, ties to even: TOS's one rounding
    rule for money (docs/pricing.md). Exact on integers of any size."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def apply_rate(amount: int, basis_points: int) -> int:
    """`basis_points` / 10 000 of `amount` in minor units, rounded half-even."""
    return divide_half_even(amount * basis_points, BASIS_POINTS)
