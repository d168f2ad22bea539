"""Customers: one per normalised email within an organization."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.core.contact import normalize_email
from tos.crm.models import Customer
from tos.identity.actors import Actor


def find_or_create_customer(
    session: Session,
    actor: Actor,
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    phone: str | None = None,
) -> Customer:
    """The customer with this email, created if new; blanks on an existing one are filled in,
    nothing already known is overwritten by a booking form. Both are audited."""
    email = normalize_email(email)
    customer = session.scalar(select(Customer).where(Customer.email == email))
    if customer is None:
        customer = Customer(email=email, first_name=first_name, last_name=last_name, phone=phone)
        try:
            with session.begin_nested():
                session.add(customer)
        except IntegrityError:
            # Created by a concurrent booking a moment ago: use that one.
            customer = session.scalar(select(Customer).where(Customer.email == email))
            assert customer is not None
        else:
            record(session, actor, "customer.created", customer)
            return customer
    before = snapshot(customer)
    filled = False
    for field, value in (("first_name", first_name), ("last_name", last_name), ("phone", phone)):
        if value and not getattr(customer, field):
            setattr(customer, field, value)
            filled = True
    if filled:
        record(session, actor, "customer.updated", customer, before=before)
    return customer
