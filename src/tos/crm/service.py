"""Customers: one per normalised email within an organization; duplicates are merged, and a
merged customer's email keeps resolving to the survivor."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.bookings.models import Booking
from tos.core.clock import utcnow
from tos.core.contact import normalize_email
from tos.core.errors import Conflict, NotFound, ValidationFailed
from tos.crm.models import Customer
from tos.db import tenancy
from tos.db.ids import new_id
from tos.db.upsert import adopt, insert_if_absent
from tos.identity.actors import Actor
from tos.pricing.models import PromoRedemption

# Merges flatten chains, so a merged customer points at a live one; the bound only guards
# against a loop written by hand.
_MAX_HOPS = 8
# Blanks on the survivor that a merge fills from the other customer.
_FILLED_ON_MERGE = ("first_name", "last_name", "phone", "source_detail", "preferred_currency")


# --- a booking's customer ---------------------------------------------------------------------


def find_or_create_customer(
    session: Session,
    actor: Actor,
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    phone: str | None = None,
) -> Customer:
    """The customer with this email (the survivor, if it was merged), created if new; blanks on
    an existing one are filled in, nothing already known is overwritten by a booking form. Both
    are audited. Either way the customer's last activity is now."""
    email = normalize_email(email)
    now = utcnow()
    values = {
        "id": new_id(), "organization_id": tenancy.current_org(session), "email": email,
        "first_name": first_name, "last_name": last_name, "phone": phone, "notes": None,
        "tags": [], "marketing_consent": False, "last_activity_at": now, "created_at": now,
        "updated_at": now,
    }  # fmt: skip
    # One round trip for the usual case, a new email; a concurrent booking with the same new
    # email makes this a no-op, and the select below finds its customer.
    if insert_if_absent(session, Customer, values, conflict=["organization_id", "email"]):
        customer = adopt(session, Customer(**values))
        record(session, actor, "customer.created", customer)
        return customer
    customer = _live_customer(session, Customer.email == email)
    before = snapshot(customer)
    filled = False
    for field, value in (("first_name", first_name), ("last_name", last_name), ("phone", phone)):
        if value and not getattr(customer, field):
            setattr(customer, field, value)
            filled = True
    customer.last_activity_at = now
    if filled:
        record(session, actor, "customer.updated", customer, before=before)
    return customer


def _live_customer(session: Session, where: Any) -> Customer:
    """The customer matching `where`, or the survivor it was merged into, held with FOR KEY
    SHARE until commit: a merge (FOR UPDATE) waits for the booking being written to commit
    and then moves it, or the booking waits for the merge and then sees the row as merged.
    It is the lock the booking's foreign key takes anyway; the last-activity stamp then holds
    the row like any update, so one customer's simultaneous bookings commit in turn."""
    for _ in range(_MAX_HOPS):
        stmt = select(Customer).where(where).with_for_update(read=True, key_share=True)
        customer = session.scalar(stmt.execution_options(populate_existing=True))
        assert customer is not None
        if customer.merged_into_id is None:
            return customer
        where = Customer.id == customer.merged_into_id
    raise Conflict("customer merge chain too long", details={"customer_id": customer.id})


# --- reads ------------------------------------------------------------------------------------


def customer_id_by_email(session: Session, email: str | None) -> str | None:
    """The customer an email belongs to now (a merged one's survivor: merges repoint, so one
    hop), without creating or locking anything."""
    if email is None:
        return None
    row = session.execute(
        select(Customer.id, Customer.merged_into_id).where(Customer.email == normalize_email(email))
    ).first()
    return None if row is None else (row.merged_into_id or row.id)


def get_customer(session: Session, customer_id: str, *, lock: bool = False) -> Customer:
    """Another organization's customer is not found (tenancy filters every query). `lock`
    takes FOR NO KEY UPDATE: it waits for a merge of this customer, and bookings (FOR KEY
    SHARE) do not wait for it."""
    stmt = select(Customer).where(Customer.id == customer_id)
    if lock:
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    customer = session.scalar(stmt)
    if customer is None:
        raise NotFound("customer", customer_id)
    return customer


# --- update -----------------------------------------------------------------------------------


def update_customer(session: Session, actor: Actor, customer_id: str, **changes: Any) -> Customer:
    customer = get_customer(session, customer_id, lock=True)
    _check_live(customer)
    if changes.get("email") is not None:
        changes["email"] = normalize_email(changes["email"])
        if changes["email"] != customer.email:
            _check_email_free(session, changes["email"])
    if "marketing_consent" in changes:
        changes |= _consent_change(customer, changes["marketing_consent"])
    changed = {k: v for k, v in changes.items() if getattr(customer, k) != v}
    if not changed:
        return customer
    before = snapshot(customer)
    for name, value in changed.items():
        setattr(customer, name, value)
    _flush(session, customer.email)
    record(session, actor, "customer.updated", customer, before=before)
    return customer


def _consent_change(customer: Customer, consent: bool) -> dict[str, Any]:
    """GDPR: the date is when consent was given, so re-confirming it keeps the first date, and
    withdrawing it clears the date."""
    if not consent:
        return {"marketing_consent_date": None}
    if customer.marketing_consent:
        return {}
    return {"marketing_consent_date": utcnow()}


def _check_email_free(session: Session, email: str) -> None:
    existing = session.scalar(select(Customer).where(Customer.email == email))
    if existing is not None:
        raise _email_taken(email, existing)


def _email_taken(email: str, existing: Customer | None = None) -> Conflict:
    details: dict[str, Any] = {"email": email}
    if existing is not None:
        # A merged customer keeps its email (so it resolves to the survivor): say so.
        details |= {"customer_id": existing.id, "merged_into_id": existing.merged_into_id}
    return Conflict("another customer has this email", details=details)


def _flush(session: Session, email: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        # Only the email is unique; a concurrent change to the same one lands here.
        raise _email_taken(email) from None


def _check_live(customer: Customer) -> None:
    if customer.merged_into_id is not None:
        raise Conflict(
            "this customer was merged into another",
            details={"customer_id": customer.id, "merged_into_id": customer.merged_into_id},
        )


# --- merge ------------------------------------------------------------------------------------


def merge_customers(session: Session, actor: Actor, survivor_id: str, other_id: str) -> Customer:
    """Merge `other` into the survivor: its bookings and promo redemptions move, the survivor's
    blanks are filled from it, and it stays behind as a pointer to the survivor."""
    if survivor_id == other_id:
        raise ValidationFailed("a customer cannot be merged into itself", path=["other_id"])
    survivor, other = _lock_pair(session, survivor_id, other_id)
    _check_live(survivor)
    _check_live(other)
    survivor_before, other_before = snapshot(survivor), snapshot(other)
    moved = _move_history(session, other.id, survivor.id)
    absorb(survivor, other)
    other.merged_into_id = survivor.id
    session.flush()
    after = snapshot(survivor) | {"merged_customer": other_before, **moved}
    record(session, actor, "customer.merged", survivor, before=survivor_before, after=after)
    record(session, actor, "customer.updated", other, before=other_before)
    return survivor


def _lock_pair(session: Session, survivor_id: str, other_id: str) -> tuple[Customer, Customer]:
    """Both rows FOR UPDATE, in id order so two merges of the same pair cannot deadlock; the
    second merge then sees the first one's result (populate_existing) and is refused."""
    stmt = (
        select(Customer)
        .where(Customer.id.in_([survivor_id, other_id]))
        .order_by(Customer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = {c.id: c for c in session.scalars(stmt)}
    if survivor_id not in found:
        raise NotFound("customer", survivor_id)
    if other_id not in found:
        raise NotFound("customer", other_id)
    return found[survivor_id], found[other_id]


def _move_history(session: Session, from_id: str, to_id: str) -> dict[str, list[str]]:
    """Everything that points at the retired customer now points at the survivor, including
    customers merged into it earlier (chains stay one hop long). The ids go into the audit."""

    def repoint(column: Any) -> list[str]:
        entity = column.class_
        stmt = (
            update(entity)
            .where(column == from_id)
            .values({column.key: to_id})
            .returning(entity.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(session.scalars(stmt))

    return {
        "moved_booking_ids": repoint(Booking.customer_id),
        "moved_promo_redemption_ids": repoint(PromoRedemption.customer_id),
        "repointed_customer_ids": repoint(Customer.merged_into_id),
    }


def absorb(survivor: Customer, other: Customer) -> None:
    """What the survivor keeps: its own values, blanks filled from the other, the union of
    tags, both notes, consent if either consented (since the earlier date), the later
    activity."""
    for field in _FILLED_ON_MERGE:
        if not getattr(survivor, field) and getattr(other, field):
            setattr(survivor, field, getattr(other, field))
    survivor.tags = list(dict.fromkeys([*survivor.tags, *other.tags]))
    survivor.notes = "\n\n".join(n for n in (survivor.notes, other.notes) if n) or None
    consent_dates = [c.marketing_consent_date for c in (survivor, other) if c.marketing_consent]
    if consent_dates:
        survivor.marketing_consent = True
        survivor.marketing_consent_date = _earliest(consent_dates)
    survivor.last_activity_at = max(survivor.last_activity_at, other.last_activity_at)


def _earliest(dates: list[dt.datetime | None]) -> dt.datetime | None:
    known = [d for d in dates if d is not None]
    return min(known) if known else None
