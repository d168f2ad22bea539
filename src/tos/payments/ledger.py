"""The booking's money ledger, as pure arithmetic over its entries (PRODUCT.md "Where the money
is"). Payment status is derived here and nowhere else; it is never typed by hand."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    CAPTURED = "captured"  # through a TOS payment provider
    MANUAL = "manual"  # cash, bank transfer recorded by staff
    EXTERNAL = "external"  # charged by a source website before it synced the booking
    ON_ACCOUNT = "on_account"  # an OCTO reseller or agent owes it
    REFUND = "refund"  # through the provider: pending -> succeeded | failed
    MANUAL_REFUND = "manual_refund"
    EXTERNAL_REFUND = "external_refund"


class EntryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PARTIAL = "partial"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


MONEY_IN = frozenset({Kind.CAPTURED, Kind.MANUAL, Kind.EXTERNAL, Kind.ON_ACCOUNT})
MONEY_OUT = frozenset({Kind.REFUND, Kind.MANUAL_REFUND, Kind.EXTERNAL_REFUND})


@dataclass(frozen=True, slots=True)
class Entry:
    kind: Kind
    status: EntryStatus
    amount: int  # minor units, always positive; the kind says the direction


@dataclass(frozen=True, slots=True)
class Totals:
    paid_in: int  # succeeded money in
    refunded: int  # succeeded money out
    refund_pending: int  # reserved by refunds not yet settled

    @property
    def net(self) -> int:
        return self.paid_in - self.refunded

    @property
    def refundable(self) -> int:
        """What can still be refunded: pending refunds already count against it."""
        return self.paid_in - self.refunded - self.refund_pending


def totals(entries: Iterable[Entry]) -> Totals:
    paid_in = refunded = pending = 0
    for e in entries:
        if e.kind in MONEY_IN and e.status is EntryStatus.SUCCEEDED:
            paid_in += e.amount
        elif e.kind in MONEY_OUT:
            if e.status is EntryStatus.SUCCEEDED:
                refunded += e.amount
            elif e.status is EntryStatus.PENDING:
                pending += e.amount
    return Totals(paid_in=paid_in, refunded=refunded, refund_pending=pending)


def payment_status(t: Totals, amount_due: int, *, disputed: bool = False) -> PaymentStatus:
    if disputed:
        return PaymentStatus.DISPUTED
    if t.refunded > 0:
        full = t.refunded >= t.paid_in
        return PaymentStatus.REFUNDED if full else PaymentStatus.PARTIALLY_REFUNDED
    if t.paid_in <= 0:
        return PaymentStatus.PAID if amount_due <= 0 else PaymentStatus.UNPAID
    return PaymentStatus.PAID if t.paid_in >= amount_due else PaymentStatus.PARTIAL


def covers(t: Totals, required: int) -> bool:
    """Whether money in (net of refunds) reaches `required` (the deposit or the amount due)."""
    return t.net >= required


def refunds_cover_payments(t: Totals) -> bool:
    return t.refunded >= t.paid_in
