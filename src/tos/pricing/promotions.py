"""Promotional codes at booking time: which code a cart may use, and its redemption.

A code's uses are counted by one guarded UPDATE (current_uses < max_uses), so a limited code is
never over-used whatever the concurrency: PostgreSQL re-checks the condition once a concurrent
redeemer commits, SQLite serialises writers, and a CHECK constraint backs both. The per-customer
limit is counted after that UPDATE, which holds the code's row lock, so two bookings of one
customer cannot both slip under it. A redemption is given back when its booking is cancelled
before any money came in.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tos.core.clock import utcnow
from tos.core.errors import Conflict, ValidationFailed
from tos.pricing.engine import Promo
from tos.pricing.models import PromoRedemption, PromotionalCode


class PromoCodeInvalid(ValidationFailed):
    code = "PROMO_CODE_INVALID"
    message = "This promotional code cannot be used for this booking"


class PromoCodeExhausted(Conflict):
    code = "PROMO_CODE_EXHAUSTED"
    message = "This promotional code has no uses left"


def normalize_code(code: str) -> str:
    return code.strip().upper()


def invalid(
    reason: str, message: str, path: list[str | int], **details: object
) -> PromoCodeInvalid:
    return PromoCodeInvalid(message, path=path, details={"reason": reason, **details})


def find_usable(
    session: Session,
    code: str,
    *,
    tour_id: str | None,
    variant_id: str | None,
    customer_id: str | None,
    now: dt.datetime,
    path: list[str | int],
) -> PromotionalCode:
    """The active, valid code that targets this departure and has uses left (checked again,
    atomically, when it is redeemed); PROMO_CODE_INVALID (422) or PROMO_CODE_EXHAUSTED (409)."""
    promo = session.scalar(
        select(PromotionalCode).where(PromotionalCode.code == normalize_code(code))
    )
    if promo is None:
        raise invalid("not_found", f"no promotional code {code!r}", path)
    if promo.status != "active":
        raise invalid(promo.status, f"code {promo.code} is {promo.status}", path)
    if now < promo.valid_from:
        raise invalid("not_yet_valid", f"code {promo.code} is valid from {promo.valid_from}",
                      path, valid_from=promo.valid_from.isoformat())  # fmt: skip
    if now >= promo.valid_until:
        raise invalid("expired", f"code {promo.code} expired at {promo.valid_until}", path,
                      valid_until=promo.valid_until.isoformat())  # fmt: skip
    if not targets(promo, tour_id=tour_id, variant_id=variant_id):
        raise invalid("not_applicable", f"code {promo.code} does not apply to this tour", path)
    if promo.max_uses is not None and promo.current_uses >= promo.max_uses:
        raise exhausted(promo)
    if customer_id is not None and promo.max_uses_per_customer is not None:
        used = uses_by_customer(session, promo.id, customer_id)
        if used >= promo.max_uses_per_customer:
            raise customer_limit(promo, used)
    return promo


def targets(promo: PromotionalCode, *, tour_id: str | None, variant_id: str | None) -> bool:
    if promo.applicable_tour_ids and tour_id not in promo.applicable_tour_ids:
        return False
    return not promo.applicable_variant_ids or variant_id in promo.applicable_variant_ids


def as_terms(promo: PromotionalCode) -> Promo:
    return Promo(
        code=promo.code,
        discount_type=promo.discount_type,
        discount_value=promo.discount_value,
        currency=promo.currency,
        min_booking_amount=promo.min_booking_amount,
        id=promo.id,
    )


def exhausted(promo: PromotionalCode) -> PromoCodeExhausted:
    return PromoCodeExhausted(
        f"code {promo.code} has been used {promo.max_uses} times, its limit",
        details={"code": promo.code, "max_uses": promo.max_uses},
    )


def customer_limit(promo: PromotionalCode, used: int) -> PromoCodeExhausted:
    return PromoCodeExhausted(
        f"this customer has used code {promo.code} {used} times, its limit per customer",
        details={"code": promo.code, "max_uses_per_customer": promo.max_uses_per_customer,
                 "reason": "max_uses_per_customer"},
    )  # fmt: skip


def uses_by_customer(session: Session, promo_id: str, customer_id: str) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                PromoRedemption.promotional_code_id == promo_id,
                PromoRedemption.customer_id == customer_id,
                PromoRedemption.released_at.is_(None),
            )
        )
        or 0
    )


def redeem(
    session: Session, promo: PromotionalCode, *, booking_id: str, customer_id: str, amount: int
) -> None:
    """Count one use, atomically; raise PROMO_CODE_EXHAUSTED when none is left."""
    result = session.execute(
        update(PromotionalCode)
        .where(
            PromotionalCode.id == promo.id,
            PromotionalCode.status == "active",
            (PromotionalCode.max_uses.is_(None))
            | (PromotionalCode.current_uses < PromotionalCode.max_uses),
        )
        .values(current_uses=PromotionalCode.current_uses + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise exhausted(promo)
    if promo.max_uses_per_customer is not None:
        used = uses_by_customer(session, promo.id, customer_id)
        if used >= promo.max_uses_per_customer:
            raise customer_limit(promo, used)
    session.add(
        PromoRedemption(
            organization_id=promo.organization_id,
            promotional_code_id=promo.id,
            booking_id=booking_id,
            customer_id=customer_id,
            amount=amount,
        )
    )


def release(session: Session, booking_id: str) -> bool:
    """Give a booking's use of its code back; False when it had none (or gave it back)."""
    redemption = session.scalar(
        select(PromoRedemption).where(
            PromoRedemption.booking_id == booking_id, PromoRedemption.released_at.is_(None)
        )
    )
    if redemption is None:
        return False
    redemption.released_at = utcnow()
    session.execute(
        update(PromotionalCode)
        .where(PromotionalCode.id == redemption.promotional_code_id)
        .values(current_uses=PromotionalCode.current_uses - 1)
        .execution_options(synchronize_session=False)
    )
    return True
