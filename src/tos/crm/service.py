"""Customers: one per normalised email within an organization."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.core.clock import utcnow
from tos.core.contact import normalize_email
from tos.crm.models import Customer
from tos.db import tenancy
from tos.db.ids import new_id
from tos.db.upsert import adopt, insert_if_absent
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
    now = utcnow()
    values = {
        "id": new_id(), "organization_id": tenancy.current_org(session), "email": email,
        "first_name": first_name, "last_name": last_name, "phone": phone, "notes": None,
        "tags": [], "marketing_consent": False, "created_at": now, "updated_at": now,
    }  # fmt: skip
    # One round trip for the usual case, a new email; a concurrent booking with the same new
    # email makes this a no-op, and the select below finds its customer.
    if insert_if_absent(session, Customer, values, conflict=["organization_id", "email"]):
        customer = adopt(session, Customer(**values))
        record(session, actor, "customer.created", customer)
        return customer
    customer = session.scalar(select(Customer).where(Customer.email == email))
    assert customer is not None
    before = snapshot(customer)
    filled = False
    for field, value in (("first_name", first_name), ("last_name", last_name), ("phone", phone)):
        if value and not getattr(customer, field):
            setattr(customer, field, value)
            filled = True
    if filled:
        record(session, actor, "customer.updated", customer, before=before)
    return customer
