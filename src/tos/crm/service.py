"""Customers: one per normalised email within an organization."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.core.contact import normalize_email
from tos.crm.models import Customer


def find_or_create_customer(
    session: Session,
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    phone: str | None = None,
) -> Customer:
    """The customer with this email, created if new; blanks on an existing one are filled in,
    nothing already known is overwritten by a booking form."""
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
        return customer
    if not customer.first_name and first_name:
        customer.first_name = first_name
    if not customer.last_name and last_name:
        customer.last_name = last_name
    if not customer.phone and phone:
        customer.phone = phone
    return customer
