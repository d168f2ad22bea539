"""OCTO bookings over the one TOS booking lifecycle.

- reserve: a `partner` booking at `booking_created` that expires after `expirationMinutes`
  (OCTO ON_HOLD); its seats are taken by the seat guard like any booking's, and the hold
  expiry job of the bookings module cancels it with reason `expired` (OCTO EXPIRED).
  The reseller's uuid is the idempotency key: (reseller, uuid) is unique, so concurrent
  identical reservations make one booking, and the losers answer with the winner's.
- confirm: the reseller owes the booking (`on_account` ledger entry), which walks it
  booking_created -> payment_pending -> payment_confirmed in the same transaction.
- amend: another date, option, product or units through Core 2b's rebooking (the seats move
  atomically); a confirmed booking's account follows the price difference.
- cancel: the tour's cancellation policy decides what of the account is credited back
  (`external_refund`), reported as FULL, PARTIAL or NONE.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid as uuidlib
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tos.audit.service import record, snapshot
from tos.bookings.lifecycle import GROUPS, Status
from tos.bookings.models import Booking, BookingLine
from tos.bookings.rebook import rebook
from tos.bookings.schemas import BookingIn, BookingPatch, CustomerIn, LineItemIn
from tos.bookings.service import create_booking, get_booking, update_booking
from tos.bookings.transitions import transition
from tos.catalog.models import PricingTier, Tour
from tos.core.clock import utcnow
from tos.crm.service import find_or_create_customer
from tos.identity.organization import MAX_HOLD_MINUTES, hold_minutes_of
from tos.identity.permissions import Scope
from tos.inventory.models import Schedule
from tos.octo.availability import Option, availability_json, parse_date, resolve_option
from tos.octo.context import OctoContext
from tos.octo.errors import (
    BadRequest,
    InvalidAvailabilityId,
    InvalidBookingUuid,
    InvalidUnitId,
    Unprocessable,
)
from tos.octo.models import OctoBooking
from tos.octo.pricing import (
    NetTerms,
    booking_price,
    load_terms,
    net_total,
    org_taxes,
    price,
    unit_net,
)
from tos.octo.products import ID
from tos.octo.schemas import (
    CancelIn,
    ConfirmIn,
    ContactIn,
    ExtendIn,
    ReservationIn,
    UnitItemIn,
    UpdateIn,
)
from tos.payments.cancellation import policy_amount
from tos.payments.ledger import Kind
from tos.payments.queries import ledger_totals
from tos.payments.refunds import close_if_refunded
from tos.payments.service import record_channel_entry
from tos.pricing.tiers import applies

_UUID = re.compile(r"[0-9A-Za-z-]{1,64}")
LIST_LIMIT = 500
_CONFIRMED = GROUPS["confirmed"] | {Status.NO_SHOW}


# --- the OCTO view of a booking


def octo_status(booking: Booking, ob: OctoBooking, now: dt.datetime) -> str:
    status = Status(booking.status)
    if status in GROUPS["pending"]:
        expired = booking.expires_at is not None and booking.expires_at <= now
        return "EXPIRED" if expired else "ON_HOLD"
    if status in _CONFIRMED:
        return "CONFIRMED"
    if status is Status.COMPLETED:
        return "REDEEMED"
    if status in (Status.CANCELLED, Status.REFUNDED):
        # The hold expiry job cancels with reason `expired`; anyone else's cancel is a cancel.
        expired = booking.cancel_reason == "expired" and ob.cancelled_at is None
        return "EXPIRED" if expired else "CANCELLED"
    return "PENDING"


def _utc(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


_CONTACT_FIELDS = ("fullName", "firstName", "lastName", "emailAddress", "phoneNumber",
                   "postalCode", "country", "notes")  # fmt: skip


def contact_json(stored: dict[str, Any] | None) -> dict[str, Any]:
    stored = stored or {}
    out: dict[str, Any] = {k: stored.get(k) for k in _CONTACT_FIELDS}
    out["locales"] = list(stored.get("locales") or [])
    return out


def _schedule_row(s: Schedule) -> tuple[Any, ...]:
    return (s.id, s.variant_id, None, s.date, s.start_time, s.end_time, s.starts_at,
            s.capacity, s.seats_taken, s.status)  # fmt: skip


def _refund_from_ledger(session: Session, booking: Booking) -> str:
    """For a booking cancelled outside OCTO (by staff): what its account got back."""
    totals = ledger_totals(session, booking.id)
    if totals.paid_in == 0 or totals.refunded >= totals.paid_in:
        return "FULL"
    return "NONE" if totals.refunded == 0 else "PARTIAL"


class Renderer:
    """Booking JSON for one or many bookings, loading their departures and tours in bulk."""

    def __init__(self, ctx: OctoContext):
        self.ctx = ctx
        self.now = utcnow()
        self._terms: NetTerms | None = None

    @property
    def terms(self) -> NetTerms:
        if self._terms is None:
            r = self.ctx.reseller
            self._terms = load_terms(self.ctx.session, r.id, r.commission_bps)
        return self._terms

    def many(self, pairs: Sequence[tuple[OctoBooking, Booking]]) -> list[dict[str, Any]]:
        session = self.ctx.session
        schedule_ids = {b.schedule_id for _, b in pairs if b.schedule_id}
        schedules = (
            {
                s.id: s
                for s in session.scalars(select(Schedule).where(Schedule.id.in_(schedule_ids)))
            }
            if schedule_ids
            else {}
        )
        tour_ids = {s.tour_id for s in schedules.values()}
        tours = {row[0]: row for row in session.execute(
            select(Tour.id, Tour.timezone, Tour.availability_type).where(Tour.id.in_(tour_ids))
        )} if tour_ids else {}  # fmt: skip
        lines: dict[str, list[BookingLine]] = {}
        if self.ctx.pricing and pairs:
            stmt = select(BookingLine).where(
                BookingLine.booking_id.in_([b.id for _, b in pairs]),
                BookingLine.kind == "scheduled",
            )
            for line in session.scalars(stmt):
                lines.setdefault(line.booking_id, []).append(line)
        return [
            self._one(ob, b, schedules.get(b.schedule_id or ""), tours, lines.get(b.id, []))
            for ob, b in pairs
        ]

    def one(self, ob: OctoBooking, booking: Booking) -> dict[str, Any]:
        return self.many([(ob, booking)])[0]

    def _one(
        self, ob: OctoBooking, b: Booking, schedule: Schedule | None,
        tours: dict[str, Any], lines: list[BookingLine],
    ) -> dict[str, Any]:  # fmt: skip
        status = octo_status(b, ob, self.now)
        availability = None
        if schedule is not None:
            _, timezone, kind = tours[schedule.tour_id]
            option = Option(schedule.tour_id, timezone, kind, 0, schedule.variant_id)
            availability = availability_json(
                _schedule_row(schedule), option, ZoneInfo(timezone), self.now
            )
        cancellation = None
        if status == "CANCELLED":
            cancellation = {
                "refund": ob.refund or _refund_from_ledger(self.ctx.session, b),
                "reason": ob.cancel_reason or b.cancel_reason,
                "utcCancelledAt": _utc(ob.cancelled_at or b.updated_at),
            }
        live = status in ("ON_HOLD", "CONFIRMED")
        body: dict[str, Any] = {
            "id": b.id,
            "uuid": ob.uuid,
            "testMode": False,
            "resellerReference": ob.reseller_reference,
            "supplierReference": b.reference,
            "status": status,
            "utcCreatedAt": _utc(b.created_at),
            "utcUpdatedAt": _utc(max(b.updated_at, ob.updated_at)),
            "utcExpiresAt": _utc(b.expires_at) if status in ("ON_HOLD", "EXPIRED") else None,
            "utcRedeemedAt": None,
            "utcConfirmedAt": _utc(ob.confirmed_at),
            "productId": b.tour_id or "",
            "optionId": schedule.variant_id if schedule is not None else "",
            "cancellable": live and schedule is not None and schedule.starts_at > self.now,
            "cancellation": cancellation,
            "freesale": schedule is not None and schedule.capacity is None,
            "availabilityId": schedule.id if schedule is not None else None,
            "availability": availability,
            "contact": contact_json(ob.contact),
            "notes": b.notes,
            "deliveryMethods": ["VOUCHER"],
            "voucher": {
                "redemptionMethod": "MANIFEST",
                "utcRedeemedAt": None,
                # The guide finds the booking on the manifest by this reference.
                "deliveryOptions": [{"deliveryFormat": "QRCODE", "deliveryValue": b.reference}],
            } if status in ("CONFIRMED", "REDEEMED") else None,
            "unitItems": self._unit_items(ob, b, status, lines),
        }  # fmt: skip
        if self.ctx.pricing:
            body["pricing"] = booking_price(
                total=b.total, subtotal=b.subtotal, tax_total=b.tax_total, currency=b.currency,
                net=ob.net_total, taxes=(b.price_snapshot or {}).get("taxes", []),
            )  # fmt: skip
        return body

    def _unit_items(
        self, ob: OctoBooking, b: Booking, status: str, lines: list[BookingLine]
    ) -> list[dict[str, Any]]:
        by_tier = {line.pricing_tier_id: line for line in lines}
        taxes = org_taxes(self.ctx.organization.settings) if self.ctx.pricing else []
        items = []
        for item in ob.unit_items or []:
            out: dict[str, Any] = {
                "uuid": item["uuid"],
                "resellerReference": item.get("resellerReference"),
                "supplierReference": None,
                "unitId": item["unitId"],
                "status": status,
                "utcRedeemedAt": None,
                "contact": contact_json(item.get("contact")),
                "ticket": None,  # delivered per booking (the voucher), not per unit
            }
            line = by_tier.get(item["unitId"])
            if self.ctx.pricing and line is not None:
                amount = line.unit_amount
                out["pricing"] = price(amount, unit_net(amount, line.pricing_tier_id, self.terms),
                                       b.currency, taxes)  # fmt: skip
            items.append(out)
        return items


# --- finding


def find(ctx: OctoContext, uuid: str, *, lock: bool = False) -> tuple[OctoBooking, Booking]:
    """The reseller's booking by its uuid; another reseller's (or organization's) does not
    exist for this one: INVALID_BOOKING_UUID."""
    ob = _by_uuid(ctx, uuid)
    if ob is None:
        raise InvalidBookingUuid(value=uuid)
    return ob, get_booking(ctx.session, ob.booking_id, lock=lock)


def _by_uuid(ctx: OctoContext, uuid: str) -> OctoBooking | None:
    if not _UUID.fullmatch(uuid):
        return None
    return ctx.session.scalar(
        select(OctoBooking).where(
            OctoBooking.reseller_id == ctx.reseller.id, OctoBooking.uuid == uuid
        )
    )


def list_bookings(
    ctx: OctoContext, *, reseller_reference: str | None, supplier_reference: str | None,
    local_date: str | None, local_date_start: str | None, local_date_end: str | None,
    product_id: str | None, option_id: str | None,
) -> list[tuple[OctoBooking, Booking]]:  # fmt: skip
    filters = (reseller_reference, supplier_reference, local_date, local_date_start,
               local_date_end, product_id, option_id)  # fmt: skip
    if all(f is None for f in filters):
        raise BadRequest("filter by resellerReference, supplierReference, localDate, "
                         "localDateStart/localDateEnd, productId or optionId")  # fmt: skip
    stmt = (
        select(OctoBooking, Booking)
        .join(Booking, Booking.id == OctoBooking.booking_id)
        .where(OctoBooking.reseller_id == ctx.reseller.id)
    )
    if reseller_reference is not None:
        stmt = stmt.where(OctoBooking.reseller_reference == reseller_reference)
    if supplier_reference is not None:
        stmt = stmt.where(Booking.reference == supplier_reference)
    if product_id is not None:
        stmt = stmt.where(Booking.tour_id == product_id)
    if any(f is not None for f in (local_date, local_date_start, local_date_end, option_id)):
        stmt = stmt.join(Schedule, Schedule.id == Booking.schedule_id)
        if local_date is not None:
            stmt = stmt.where(Schedule.date == parse_date(local_date, "localDate"))
        if local_date_start is not None:
            stmt = stmt.where(Schedule.date >= parse_date(local_date_start, "localDateStart"))
        if local_date_end is not None:
            stmt = stmt.where(Schedule.date <= parse_date(local_date_end, "localDateEnd"))
        if option_id is not None:
            stmt = stmt.where(Schedule.variant_id == option_id)
    stmt = stmt.order_by(Booking.created_at, Booking.id).limit(LIST_LIMIT)
    return [(ob, b) for ob, b in ctx.session.execute(stmt)]


# --- building blocks


def _schedule(session: Session, availability_id: str | None, variant_id: str) -> Schedule:
    if not availability_id:
        raise InvalidAvailabilityId("availabilityId is required: every TOS product is booked "
                                    "on an availability", value="")  # fmt: skip
    schedule = None
    if ID.fullmatch(availability_id):
        schedule = session.scalar(
            select(Schedule).where(
                Schedule.id == availability_id, Schedule.variant_id == variant_id
            )
        )
    if schedule is None:
        raise InvalidAvailabilityId(value=availability_id)
    return schedule


def _line_items(
    session: Session, schedule: Schedule, items: Sequence[UnitItemIn]
) -> list[LineItemIn]:
    """One tier line per unit id, in the order the units first appear."""
    if not items:
        raise BadRequest("unitItems must name at least one unit")
    tiers = {
        t.id: t
        for t in session.scalars(select(PricingTier).where(PricingTier.tour_id == schedule.tour_id))
    }
    counts: dict[str, int] = {}
    for item in items:
        tier = tiers.get(item.unitId)
        if tier is None or not applies(tier, variant_id=schedule.variant_id, on=schedule.date):
            raise InvalidUnitId(value=item.unitId)
        counts[item.unitId] = counts.get(item.unitId, 0) + 1
    return [LineItemIn(pricing_tier_id=tier_id, quantity=n) for tier_id, n in counts.items()]


def _unit_items(items: Sequence[UnitItemIn]) -> list[dict[str, Any]]:
    return [
        {"uuid": item.uuid or str(uuidlib.uuid4()), "unitId": item.unitId,
         "resellerReference": item.resellerReference,
         "contact": _contact(item.contact) if item.contact else {}}
        for item in items
    ]  # fmt: skip


def _contact(contact: ContactIn | None) -> dict[str, Any]:
    if contact is None:
        return {}
    data = contact.model_dump()
    if data.get("emailAddress"):
        data["emailAddress"] = str(data["emailAddress"]).lower()
    if not data.get("fullName") and (data.get("firstName") or data.get("lastName")):
        data["fullName"] = " ".join(p for p in (data["firstName"], data["lastName"]) if p)
    return data


def _names(contact: dict[str, Any]) -> tuple[str, str]:
    first, last = contact.get("firstName") or "", contact.get("lastName") or ""
    if not (first or last) and contact.get("fullName"):
        first, _, last = contact["fullName"].partition(" ")
    return first[:100], last[:100]


def _guest_email(reseller_id: str) -> str:
    # The reseller's guests without an e-mail share one customer record per reseller: the
    # reseller owns its customers (PRODUCT.md channel rules); TOS only needs someone to book for.
    return f"octo-guests-{reseller_id}@resellers.tos.invalid"


def _customer_in(ctx: OctoContext, contact: dict[str, Any]) -> CustomerIn:
    first, last = _names(contact)
    email = contact.get("emailAddress")
    if not email:
        return CustomerIn.model_construct(email=_guest_email(ctx.reseller.id), first_name=first,
                                          last_name=last, phone=None)  # fmt: skip
    try:
        return CustomerIn(email=email, first_name=first, last_name=last,
                          phone=contact.get("phoneNumber"))  # fmt: skip
    except ValidationError:
        # A phone number TOS cannot read is kept in the OCTO contact, not on the customer.
        return CustomerIn(email=email, first_name=first, last_name=last)


def _hold_minutes(ctx: OctoContext, minutes: int | None) -> int:
    if minutes is None:
        return hold_minutes_of(ctx.organization.settings)
    if not 1 <= minutes <= MAX_HOLD_MINUTES:
        raise BadRequest(f"expirationMinutes must be between 1 and {MAX_HOLD_MINUTES}")
    return minutes


def _status_is(ctx: OctoContext, ob: OctoBooking, booking: Booking, allowed: set[str],
               doing: str) -> str:  # fmt: skip
    status = octo_status(booking, ob, utcnow())
    if status not in allowed:
        raise Unprocessable(f"a booking that is {status} cannot be {doing}")
    return status


def _audit_ob(ctx: OctoContext, ob: OctoBooking, action: str, before: dict[str, Any]) -> None:
    record(ctx.session, ctx.actor, action, ob, before=before, entity_type="octo_booking")


def _refresh_net(ctx: OctoContext, ob: OctoBooking, booking: Booking) -> None:
    r = ctx.reseller
    terms = load_terms(ctx.session, r.id, r.commission_bps)
    lines = ctx.session.scalars(
        select(BookingLine).where(BookingLine.booking_id == booking.id,
                                  BookingLine.kind == "scheduled")
    )  # fmt: skip
    ob.net_total = net_total(
        [(ln.pricing_tier_id, ln.unit_amount, ln.quantity) for ln in lines],
        terms,
        org_taxes(ctx.organization.settings),
    )


# --- commands


def reserve(ctx: OctoContext, body: ReservationIn) -> tuple[OctoBooking, Booking]:
    session = ctx.session
    if body.uuid is not None:
        if not _UUID.fullmatch(body.uuid):
            raise BadRequest("uuid must be a UUID")
        earlier = _by_uuid(ctx, body.uuid)
        if earlier is not None:
            return earlier, get_booking(session, earlier.booking_id)
    option = resolve_option(session, body.productId, body.optionId)
    schedule = _schedule(session, body.availabilityId, option.variant_id)
    lines = _line_items(session, schedule, body.unitItems)
    minutes = _hold_minutes(ctx, body.expirationMinutes)
    contact = _contact(body.contact)
    data = BookingIn.model_construct(
        schedule_id=schedule.id, customer=_customer_in(ctx, contact), line_items=lines,
        special_requests=None, dietary_restrictions=None, notes=body.notes, source="partner",
        hold=False, expires_at=utcnow() + dt.timedelta(minutes=minutes), promotional_code=None,
        assigned_to=None, utm_source=None, utm_medium=None, utm_campaign=None, utm_term=None,
        utm_content=None,
    )  # fmt: skip
    uuid = body.uuid or str(uuidlib.uuid4())
    made: list[OctoBooking] = []

    def claim_uuid(booking: Booking) -> None:
        # Before the seat guard: a concurrent twin with this uuid fails here, seatless.
        ob = OctoBooking(booking_id=booking.id, reseller_id=ctx.reseller.id, uuid=uuid,
                         reseller_reference=body.resellerReference, contact=contact,
                         unit_items=_unit_items(body.unitItems))  # fmt: skip
        session.add(ob)
        session.flush()
        record(session, ctx.actor, "octo_booking.reserved", ob, entity_type="octo_booking")
        made.append(ob)

    try:
        booking = create_booking(session, ctx.actor, ctx.organization, data,  # type: ignore[arg-type]
                                 before_seats=claim_uuid)  # fmt: skip
    except IntegrityError:
        session.rollback()
        earlier = _by_uuid(ctx, uuid) if body.uuid is not None else None
        if earlier is None:
            raise
        return earlier, get_booking(session, earlier.booking_id)
    ob = made[0]
    _refresh_net(ctx, ob, booking)
    return ob, booking


def extend(ctx: OctoContext, uuid: str, body: ExtendIn) -> tuple[OctoBooking, Booking]:
    ob, booking = find(ctx, uuid, lock=True)
    _status_is(ctx, ob, booking, {"ON_HOLD"}, "extended")
    _set_expiry(ctx, booking, _hold_minutes(ctx, body.expirationMinutes))
    return ob, booking


def _set_expiry(ctx: OctoContext, booking: Booking, minutes: int) -> None:
    # The hold expiry job already queued looks again when it runs and finds the later expiry.
    before = snapshot(booking)
    booking.expires_at = utcnow() + dt.timedelta(minutes=minutes)
    record(ctx.session, ctx.actor, "booking.updated", booking, before=before)


def confirm(ctx: OctoContext, uuid: str, body: ConfirmIn) -> tuple[OctoBooking, Booking]:
    session, actor = ctx.session, ctx.actor
    ob, booking = find(ctx, uuid, lock=True)
    status = _status_is(ctx, ob, booking, {"ON_HOLD", "CONFIRMED"}, "confirmed")
    if status == "CONFIRMED":
        return ob, booking  # a retried confirmation changes nothing
    before_ob = snapshot(ob)
    if body.unitItems is not None:
        _change(ctx, ob, booking, schedule_id=booking.schedule_id, items=body.unitItems)
    _apply_contact(ctx, ob, booking, body.contact)
    if body.resellerReference is not None:
        ob.reseller_reference = body.resellerReference
    before = snapshot(booking)
    booking.expires_at = None
    record(session, actor, "booking.updated", booking, before=before)
    if booking.total > 0:
        record_channel_entry(session, actor, booking, Kind.ON_ACCOUNT, booking.total,
                             reference=f"octo:{ob.uuid}")  # fmt: skip
    meta = {"channel": "octo", "reseller_id": ctx.reseller.id,
            "reseller_reference": ob.reseller_reference}  # fmt: skip
    transition(session, actor, booking, Status.PAYMENT_PENDING, note="OCTO confirmation",
               metadata=meta, idempotency_key=f"octo-confirm:{booking.id}:pending")  # fmt: skip
    transition(session, actor, booking, Status.PAYMENT_CONFIRMED, note="OCTO confirmation",
               metadata=meta, idempotency_key=f"octo-confirm:{booking.id}")  # fmt: skip
    ob.confirmed_at = utcnow()
    _refresh_net(ctx, ob, booking)
    _audit_ob(ctx, ob, "octo_booking.confirmed", before_ob)
    return ob, booking


def _apply_contact(
    ctx: OctoContext, ob: OctoBooking, booking: Booking, contact: ContactIn | None
) -> None:
    """The OCTO contact as sent, and the booking's customer found or made by its e-mail."""
    if contact is None:
        return
    data = _contact(contact)
    ob.contact = data
    if not data.get("emailAddress"):
        return
    customer_in = _customer_in(ctx, data)
    customer = find_or_create_customer(
        ctx.session, ctx.actor, email=customer_in.email, first_name=customer_in.first_name,
        last_name=customer_in.last_name, phone=customer_in.phone,
    )  # fmt: skip
    if customer.id != booking.customer_id:
        before = snapshot(booking)
        booking.customer_id = customer.id
        record(ctx.session, ctx.actor, "booking.updated", booking, before=before)


def _change(
    ctx: OctoContext, ob: OctoBooking, booking: Booking, *, schedule_id: str | None,
    items: Sequence[UnitItemIn] | None, variant_id: str | None = None,
) -> None:  # fmt: skip
    """Move the booking (other departure, option, product) and/or change its units, with the
    seats moving atomically; a confirmed booking's account follows the price difference."""
    session = ctx.session
    current = session.scalar(select(Schedule).where(Schedule.id == booking.schedule_id))
    assert current is not None
    target = current
    if schedule_id != current.id or variant_id not in (None, current.variant_id):
        target = _schedule(session, schedule_id, variant_id or current.variant_id)
    if items is None:
        # Keep the units: they must exist on the new departure too.
        items = [UnitItemIn(uuid=u["uuid"], unitId=u["unitId"],
                            resellerReference=u.get("resellerReference"))
                 for u in ob.unit_items]  # fmt: skip
        kept_contacts = {u["uuid"]: u.get("contact") or {} for u in ob.unit_items}
    else:
        kept_contacts = {}
    lines = _line_items(session, target, items)
    confirmed = octo_status(booking, ob, utcnow()) == "CONFIRMED"
    moved = rebook(session, ctx.actor, ctx.organization.currency, ctx.organization.settings,
                   booking, schedule_id=target.id, line_items=lines)  # fmt: skip
    unit_items = _unit_items(items)
    for u in unit_items:
        if not u["contact"] and u["uuid"] in kept_contacts:
            u["contact"] = kept_contacts[u["uuid"]]
    ob.unit_items = unit_items
    if confirmed and moved.difference > 0:
        record_channel_entry(session, ctx.actor, booking, Kind.ON_ACCOUNT, moved.difference,
                             reference=f"octo:{ob.uuid}", reason="amendment")  # fmt: skip
    elif confirmed and moved.difference < 0:
        record_channel_entry(session, ctx.actor, booking, Kind.EXTERNAL_REFUND,
                             -moved.difference, reference=f"octo:{ob.uuid}",
                             reason="amendment credit")  # fmt: skip
    _refresh_net(ctx, ob, booking)


def update(ctx: OctoContext, uuid: str, body: UpdateIn) -> tuple[OctoBooking, Booking]:
    ob, booking = find(ctx, uuid, lock=True)
    status = _status_is(ctx, ob, booking, {"ON_HOLD", "CONFIRMED"}, "changed")
    before_ob = snapshot(ob)
    sent = body.model_fields_set
    moving = sent & {"productId", "optionId", "availabilityId", "unitItems"}
    if moving:
        variant_id = None
        if body.productId is not None or body.optionId is not None:
            current = ctx.session.scalar(
                select(Schedule.variant_id).where(Schedule.id == booking.schedule_id)
            )
            product = body.productId or booking.tour_id or ""
            if body.productId not in (None, booking.tour_id) and body.optionId is None:
                raise BadRequest("give optionId with a new productId")
            variant_id = resolve_option(ctx.session, product, body.optionId or current or "")[4]
        _change(ctx, ob, booking, schedule_id=body.availabilityId or booking.schedule_id,
                items=body.unitItems, variant_id=variant_id)  # fmt: skip
    if "notes" in sent:
        update_booking(ctx.session, ctx.actor, booking, BookingPatch(notes=body.notes),
                       scope=Scope.ALL)  # fmt: skip
    if body.contact is not None:
        _apply_contact(ctx, ob, booking, body.contact)
    if body.resellerReference is not None:
        ob.reseller_reference = body.resellerReference
    if body.expirationMinutes is not None:
        if status != "ON_HOLD":
            raise Unprocessable("only a booking ON_HOLD has an expiry to change")
        _set_expiry(ctx, booking, _hold_minutes(ctx, body.expirationMinutes))
    _audit_ob(ctx, ob, "octo_booking.updated", before_ob)
    return ob, booking


def cancel(ctx: OctoContext, uuid: str, body: CancelIn) -> tuple[OctoBooking, Booking]:
    session, actor = ctx.session, ctx.actor
    ob, booking = find(ctx, uuid, lock=True)
    status = octo_status(booking, ob, utcnow())
    if status in ("CANCELLED", "EXPIRED"):
        return ob, booking  # already over: a retried cancellation changes nothing
    _status_is(ctx, ob, booking, {"ON_HOLD", "CONFIRMED"}, "cancelled")
    before_ob = snapshot(ob)
    reason = body.reason or "cancelled by the reseller"
    owed = ledger_totals(session, booking.id).net
    credit = policy_amount(session, booking, owed) if owed > 0 else 0
    transition(session, actor, booking, Status.CANCELLED, note=reason,
               metadata={"reason": reason, "channel": "octo", "reseller_id": ctx.reseller.id},
               idempotency_key=f"octo-cancel:{booking.id}")  # fmt: skip
    if credit > 0:
        record_channel_entry(session, actor, booking, Kind.EXTERNAL_REFUND, credit,
                             reference=f"octo:{ob.uuid}",
                             reason="cancellation policy credit")  # fmt: skip
        session.flush()
    close_if_refunded(session, actor, booking)
    ob.refund = "FULL" if credit >= owed else ("NONE" if credit == 0 else "PARTIAL")
    ob.cancelled_at = utcnow()
    ob.cancel_reason = reason
    _audit_ob(ctx, ob, "octo_booking.cancelled", before_ob)
    return ob, booking
