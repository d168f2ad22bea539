"""The website's own checkout and the customer's self-service (seed 003's public booking
procedures), behind /public/v1: the request bodies and the rules — create a held booking with its
payment intent, find a booking only for its customer's email, cancel under the tour's policy.
The routes (rate limits, the organization by slug) are in public_api.py."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import status
from pydantic import Field, model_validator
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tos.bookings import queries, service
from tos.bookings.errors import BookingClosed
from tos.bookings.lifecycle import Status, can_transition
from tos.bookings.models import Booking, BookingLine, LifecycleEvent
from tos.bookings.schemas import BookingIn, CustomerIn, ParticipantIn, Strict, Text
from tos.bookings.seats import CapacityExceeded
from tos.catalog.models import Tour
from tos.config import get_settings
from tos.core.clock import utcnow
from tos.core.contact import normalize_email
from tos.core.errors import NotFound, ValidationFailed
from tos.crm.models import Customer
from tos.db import tenancy
from tos.idempotency import service as idempotency
from tos.identity.actors import Actor
from tos.identity.models import Organization
from tos.inventory.models import Schedule
from tos.payments import intents
from tos.payments.cancellation import cancel_with_refund
from tos.payments.errors import PaymentsNotConfigured
from tos.payments.models import Payment
from tos.payments.queries import ledger_totals

# Bookings that came through a channel are the channel's to cancel (PRODUCT.md "Effects follow
# the channel"): the customer cancels where they booked.
_CHANNEL_SOURCES = frozenset({"ota", "partner", "sync"})
_CHECKOUT_ROUTE = "POST /public/v1/checkout"


# --- request bodies --------------------------------------------------------------------------


class CheckoutCustomerIn(CustomerIn):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)


class CheckoutLineIn(Strict):
    """Seats of one pricing tier; the price is the tier's."""

    pricing_tier_id: str = Field(max_length=36)
    quantity: int = Field(ge=1, le=1000)
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _no_more_participants_than_seats(self) -> CheckoutLineIn:
        if len(self.participants) > self.quantity:
            raise ValueError("more participants than quantity")
        return self


class CheckoutIn(Strict):
    schedule_id: str = Field(max_length=36)
    customer: CheckoutCustomerIn
    line_items: list[CheckoutLineIn] = Field(min_length=1, max_length=20)
    promotional_code: str | None = Field(None, min_length=1, max_length=64)
    special_requests: Text | None = None
    dietary_restrictions: Text | None = None
    provider: Literal["sandbox", "stripe", "razorpay"] = "sandbox"
    pay: Literal["full", "deposit"] = Field(
        "full", description="full: the whole total now; deposit: the deposit rule's amount"
    )
    utm_source: str | None = Field(None, max_length=200)
    utm_medium: str | None = Field(None, max_length=200)
    utm_campaign: str | None = Field(None, max_length=200)
    utm_term: str | None = Field(None, max_length=200)
    utm_content: str | None = Field(None, max_length=200)

    def booking_in(self) -> BookingIn:
        data = self.model_dump(exclude={"provider", "pay"}, exclude_none=True)
        return BookingIn.model_validate({**data, "source": "website", "hold": True})


class CustomerCancelIn(Strict):
    email: str = Field(max_length=320)
    reason: str = Field("cancelled by the customer", min_length=1, max_length=500)


# --- commands and reads (the handlers below only resolve the organization and commit) ----------


def organization_by_slug(session: Session, slug: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise NotFound("organization", slug)
    tenancy.set_scope(session, org.id)
    return org


def _customer_actor(org: Organization, email: str) -> Actor:
    return Actor(type="customer", id=None, organization_id=org.id, name=normalize_email(email))


def checkout(
    session: Session, org: Organization, body: CheckoutIn, idempotency_key: str | None
) -> tuple[int, dict[str, Any], bool]:
    """The booking (a hold of the organization's hold time) and its payment intent in one
    transaction: (status code, response, replayed). Nothing is left behind on any error."""
    claim: str | None = None
    if idempotency_key is not None:
        found = idempotency.claim(session, scope=_CHECKOUT_ROUTE, key=idempotency_key,
                                  body=body.model_dump(mode="json"))  # fmt: skip
        if isinstance(found, idempotency.Replay):
            return found.status_code, found.body, True
        claim = found
    if body.provider == "sandbox" and get_settings().env == "production":
        # The sandbox's checkout page confirms payments that move no money.
        raise PaymentsNotConfigured("sandbox payments are not available in production")
    _require_active_tour(session, body.schedule_id)
    actor = _customer_actor(org, body.customer.email)
    out: dict[str, Any] = {}

    def before_seats(booking: Booking) -> None:
        # The provider is called before the seat guard so the departure's hot row is not locked
        # through a provider round trip; a departure already full fails first, without one.
        _fail_fast_if_full(session, booking)
        payment = _open_payment(session, actor, booking, body)
        out.update(booking=_checkout_booking(booking), payment=_payment_out(payment))
        if claim is not None:
            idempotency.complete(session, claim, status.HTTP_201_CREATED, out)

    service.create_booking(session, actor, org, body.booking_in(), before_seats=before_seats)
    return status.HTTP_201_CREATED, out, False


def _require_active_tour(session: Session, schedule_id: str) -> None:
    """Only what the public catalog shows can be booked from outside: another departure is
    answered as an unknown one."""
    tour_status = session.scalar(
        select(Tour.status).join(Schedule, Schedule.tour_id == Tour.id)
        .where(Schedule.id == schedule_id)
    )  # fmt: skip
    if tour_status is not None and tour_status != "active":
        raise ValidationFailed("no such schedule", path=["schedule_id"])


def _fail_fast_if_full(session: Session, booking: Booking) -> None:
    """A read without a lock: the guarded UPDATE after it still decides."""
    row = session.execute(
        select(Schedule.capacity, Schedule.seats_taken).where(Schedule.id == booking.schedule_id)
    ).one()
    if row.capacity is not None and row.seats_taken + booking.held_seats > row.capacity:
        available = max(row.capacity - row.seats_taken, 0)
        raise CapacityExceeded(
            f"only {available} spots left",
            details={"schedule_id": booking.schedule_id, "available_spots": available,
                     "requested": booking.held_seats},
        )  # fmt: skip


def _open_payment(
    session: Session, actor: Actor, booking: Booking, body: CheckoutIn
) -> Payment | None:
    """The intent for the whole total, or for the deposit; none when nothing is due now (a
    free booking, a zero deposit): the booking stays booking_created for staff to confirm, and
    its hold ends without cancelling it (the ledger covers a zero deposit)."""
    amount = booking.deposit_required if body.pay == "deposit" else booking.total
    if amount <= 0:
        return None
    payment, _ = intents.create_intent(
        session, actor, booking, provider=body.provider, amount=amount,
        idempotency_key=f"checkout:{booking.id}",
    )  # fmt: skip
    return payment


def _money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def _lines_out(lines: list[BookingLine], currency: str, *, names: bool) -> list[dict[str, Any]]:
    out = []
    for ln in lines:
        line: dict[str, Any] = {
            "pricing_tier_id": ln.pricing_tier_id, "name": ln.name, "quantity": ln.quantity,
            "unit_price": _money(ln.unit_amount, currency),
            "total_price": _money(ln.amount, currency),
        }  # fmt: skip
        if names:
            line["participants"] = ln.participants
        out.append(line)
    return out


def _checkout_booking(booking: Booking) -> dict[str, Any]:
    cur = booking.currency
    return {
        "id": booking.id,
        "reference": booking.reference,
        "status": booking.status,
        "subtotal": _money(booking.subtotal, cur),
        "discount_total": _money(booking.discount_total, cur),
        "tax_total": _money(booking.tax_total, cur),
        "total": _money(booking.total, cur),
        "deposit_required": _money(booking.deposit_required, cur),
        "expires_at": _iso(booking.expires_at),
        "line_items": _lines_out(booking.lines, cur, names=True),
    }


def _payment_out(payment: Payment | None) -> dict[str, Any] | None:
    if payment is None:
        return None
    return {
        "id": payment.id,
        "provider": payment.provider,
        "status": payment.status,
        "amount": _money(payment.amount, payment.currency),
        # What the browser needs: checkoutUrl (sandbox), clientSecret and publishableKey
        # (Stripe), orderId and keyId (Razorpay).
        "client": payment.client_payload,
    }


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else _aware(value).isoformat()


def find_for_customer(
    session: Session, reference: str, email: str, *, lock: bool = False
) -> Booking:
    """The booking with this reference whose customer has this email (or had it, before a
    merge into them). One 404 for every miss, so a reference's existence never shows."""
    wanted = normalize_email(email)
    stmt = select(Booking).where(Booking.reference == reference.strip().upper())
    booking = session.scalar(stmt.with_for_update() if lock else stmt)
    if booking is not None:
        owner = session.scalar(
            select(Customer.id).where(
                Customer.email == wanted,
                or_(Customer.id == booking.customer_id,
                    Customer.merged_into_id == booking.customer_id),
            )
        )  # fmt: skip
        if owner is not None:
            return booking
    raise NotFound("booking")


def _self_service_block(booking: Booking, starts_at: dt.datetime | None) -> str | None:
    """Why the customer may not cancel this live booking themselves (staff still may)."""
    if booking.source in _CHANNEL_SOURCES:
        return "this booking is cancelled through where it was made"
    if starts_at is not None and _aware(starts_at) <= utcnow():
        return "the tour has started"
    return None


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def public_view(session: Session, booking: Booking) -> dict[str, Any]:
    """What the customer sees of their booking: no ids, notes, ledger or other customers."""
    detail = queries.booking_detail(session, booking)
    cur = booking.currency
    tour_name = session.scalar(select(Tour.name).where(Tour.id == booking.tour_id))
    schedule = session.scalar(select(Schedule).where(Schedule.id == booking.schedule_id))
    starts_at = schedule.starts_at if schedule else None
    cancellable = (
        can_transition(booking.status, Status.CANCELLED)
        and _self_service_block(booking, starts_at) is None
    )
    return {
        "reference": booking.reference,
        "status": booking.status,
        "payment_status": detail["payment_status"],
        "tour_name": tour_name,
        "schedule": None if schedule is None else {
            "date": schedule.date.isoformat(),
            "start_time": schedule.start_time.isoformat(timespec="minutes"),
            "end_time": schedule.end_time.isoformat(timespec="minutes"),
            "timezone": schedule.timezone,
            "starts_at": _iso(schedule.starts_at),
        },
        "participants_count": booking.participants_count,
        "line_items": _lines_out(detail["line_items"], cur, names=False),
        "total": _money(booking.total, cur),
        "paid": _money(detail["paid"], cur),
        "balance_due": _money(detail["balance_due"], cur),
        "expires_at": _iso(booking.expires_at),
        "cancellable": cancellable,
    }  # fmt: skip


def cancel_by_customer(
    session: Session, org: Organization, booking: Booking, email: str, reason: str
) -> dict[str, Any]:
    """`booking` must be row-locked. Cancels through the lifecycle engine (409
    INVALID_TRANSITION from a status that cannot be cancelled) and refunds what the tour's
    cancellation policy says (PRODUCT.md "Who refunds how much on cancel"). Repeating it is a
    replay: no second refund, and the refund reported is what the ledger holds by then."""
    key = f"customer-cancel:{booking.id}"
    replay = session.scalar(
        select(LifecycleEvent.id).where(
            LifecycleEvent.booking_id == booking.id, LifecycleEvent.idempotency_key == key
        )
    )
    if replay is None and can_transition(booking.status, Status.CANCELLED):
        starts_at = session.scalar(
            select(Schedule.starts_at).where(Schedule.id == booking.schedule_id)
        )
        why = _self_service_block(booking, starts_at)
        if why is not None:
            raise BookingClosed(why, details={"reference": booking.reference})
    done = cancel_with_refund(
        session, _customer_actor(org, email), booking, reason=reason, refund_amount=None,
        may_choose=False, idempotency_key=key,
    )  # fmt: skip
    if done.result.replayed:
        totals = ledger_totals(session, booking.id)
        amount = totals.refunded + totals.refund_pending
        state = "pending" if totals.refund_pending else "succeeded" if amount else "none"
    else:
        amount = done.refund_amount
        state = "pending" if amount else "none"  # the provider calls follow through the outbox
    return {"amount": amount, "currency": booking.currency, "status": state}


# --- routes ------------------------------------------------------------------------------------
