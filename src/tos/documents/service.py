"""Issuing a booking's documents: invoice, credit notes, voucher, itinerary.

Rules:
- A document is never edited. A new version is a new row (and a new file); a refund gets a
  credit note, never a changed invoice.
- Invoices and credit notes take a gapless number per organization and year
  (tos.documents.numbering) in the caller's transaction; a rollback gives it back.
- Every issue_* is idempotent: the booking's row is locked first, so a second issuer (a retried
  job, a concurrent worker) waits and then finds the first one's document instead of making
  another. New versions come only from `regenerate`.
- A regenerated invoice re-renders the same invoice: same number, same issue date, same amount.
  The documents table allows a number once per organization, so the number is stored on the
  first version only and later versions carry NULL; `number_of` gives any version's number.
  If the booking's total has changed since the invoice was issued, regenerating it is refused
  (INVOICE_CHANGED): re-rendering would change the invoice.
- Every succeeded refund entry (refund, manual_refund, external_refund) gets one credit note,
  whether or not the booking has an invoice yet: a refund that overtakes the invoice job must
  still be documented. The credit note names the invoice when there is one, the booking always.
  Credit notes of one booking are numbered 1, 2, … in the `version` column (the table keeps
  (booking, type, version) unique); they are not regenerated.
- Storage: the row is flushed first, claiming its (booking, type, version) slot, then the file is
  written, then the caller commits. Only the slot's holder ever writes its key, so a committed
  row's file is never overwritten; a file left by a rolled-back transaction points nowhere and
  is overwritten by the next holder of the slot.
- Rendering runs inside the transaction, after the number is taken (the number is printed on
  the PDF), so invoices of one organization are issued one at a time.

The issue_* functions act as the system (they are called from outbox handlers); the session
must be scoped to the booking's organization and, on SQLite, be a write session."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.audit.service import record
from tos.bookings.models import Booking, BookingLine
from tos.bookings.service import get_booking
from tos.catalog.models import Tour, TourInclusion
from tos.core.clock import utcnow
from tos.core.errors import AppError, Conflict, NotFound, ValidationFailed
from tos.core.money import divide_half_even
from tos.crm.models import Customer
from tos.db.ids import new_id
from tos.documents import render, tokens
from tos.documents.models import DOCUMENT_TYPES, Document
from tos.documents.numbering import CREDIT_NOTE_SERIES, INVOICE_SERIES, format_number, next_number
from tos.documents.storage import NotStored, get_storage, storage_key
from tos.identity.actors import Actor
from tos.identity.models import Organization
from tos.inventory.models import Schedule
from tos.payments.ledger import EntryStatus, Kind
from tos.payments.models import LedgerEntry

INVOICE, CREDIT_NOTE, VOUCHER, ITINERARY = DOCUMENT_TYPES
REGENERABLE = (INVOICE, VOUCHER, ITINERARY)
REFUND_KINDS = frozenset({Kind.REFUND.value, Kind.MANUAL_REFUND.value, Kind.EXTERNAL_REFUND.value})
PDF = "application/pdf"


class InvoiceChanged(Conflict):
    code = "INVOICE_CHANGED"
    message = "The booking's total changed since the invoice was issued; an invoice is never edited"


class DocumentUnavailable(AppError):
    status_code = 500
    code = "DOCUMENT_UNAVAILABLE"
    message = "The document's stored file is missing or damaged"


# --- issuing ---------------------------------------------------------------------------------


def issue_invoice(session: Session, booking_id: str) -> Document:
    """The booking's invoice (its current version), issued now if it has none."""
    booking = get_booking(session, booking_id, lock=True)
    existing = _latest(session, booking.id, INVOICE)
    if existing is not None:
        return existing
    return _first_invoice(session, _system(booking), booking)


def issue_credit_note(session: Session, ledger_entry_id: str) -> Document | None:
    """The credit note of one refund entry, issued now if it has none. None while the entry is
    not a succeeded refund (a pending one: call again once it settles; a failed one credits
    nothing). ValueError for an entry that is not a refund at all."""
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.id == ledger_entry_id))
    if entry is None:
        raise NotFound("ledger entry", ledger_entry_id)
    if entry.kind not in REFUND_KINDS:
        raise ValueError(f"ledger entry {entry.id} is a {entry.kind}, not a refund")
    if entry.status != EntryStatus.SUCCEEDED.value:
        return None
    booking = get_booking(session, entry.booking_id, lock=True)
    existing = session.scalar(select(Document).where(Document.ledger_entry_id == entry.id))
    if existing is not None:
        return existing
    facts = _facts(session, booking)
    invoice = _original_invoice(session, booking.id)
    latest = _latest(session, booking.id, CREDIT_NOTE)
    version = latest.version + 1 if latest else 1
    issued_on = _local_date(facts.org, utcnow())
    n = next_number(
        session, CREDIT_NOTE_SERIES, issued_on.year, organization_id=booking.organization_id
    )
    number = format_number(CREDIT_NOTE_SERIES, issued_on.year, n)
    # version=1 for the template: a credit note's version counts credit notes, not re-renders.
    context = _common(facts, version=1, issued_on=issued_on) | {
        "number": number,
        "invoice_number": invoice.number if invoice else None,
        "total": entry.amount,
        "currency": entry.currency,
        "reason": entry.reason,
        "method": entry.method,
        "taxes": _credited_taxes(booking, entry.amount),
    }
    pdf = render.render_pdf("credit_note.html", context)
    return _store(
        session, _system(booking), booking, CREDIT_NOTE, version, pdf,
        number=number, ledger_entry_id=entry.id, amount=entry.amount, currency=entry.currency,
        language=context["language"], action="document.issued",
    )  # fmt: skip


def issue_voucher(session: Session, booking_id: str) -> Document:
    """The booking's voucher (its current version), issued now if it has none."""
    return _issue_once(session, booking_id, VOUCHER)


def issue_itinerary(session: Session, booking_id: str) -> Document:
    """The booking's itinerary (its current version), issued now if it has none."""
    return _issue_once(session, booking_id, ITINERARY)


def regenerate(session: Session, actor: Actor, booking_id: str, type_: str) -> Document:
    """A new version of the booking's invoice, voucher or itinerary, rendered from the booking
    as it is now (an invoice: the same invoice again, see the module's rules); the first
    version if there is none yet."""
    if type_ not in REGENERABLE:
        raise ValidationFailed(
            "type must be one of invoice, voucher, itinerary (credit notes are issued per refund)",
            path=["type"],
        )
    booking = get_booking(session, booking_id, lock=True)
    latest = _latest(session, booking.id, type_)
    if type_ == INVOICE:
        if latest is None:
            return _first_invoice(session, actor, booking)
        return _reissue_invoice(session, actor, booking, latest.version + 1)
    version = latest.version + 1 if latest else 1
    action = "document.regenerated" if latest else "document.issued"
    return _render_travel_document(session, actor, booking, type_, version, action)


def read(document: Document) -> bytes:
    """The document's bytes, checked against the checksum stored with its row."""
    try:
        data = get_storage().get(document.storage_key)
    except NotStored:
        raise DocumentUnavailable(details={"document_id": document.id, "reason": "missing"})
    if hashlib.sha256(data).hexdigest() != document.checksum:
        raise DocumentUnavailable(details={"document_id": document.id, "reason": "checksum"})
    return data


# --- reads -----------------------------------------------------------------------------------


def documents_of(session: Session, booking_id: str) -> list[Document]:
    return list(
        session.scalars(
            select(Document)
            .where(Document.booking_id == booking_id)
            .order_by(Document.created_at, Document.type, Document.version)
        )
    )


def get_document(session: Session, document_id: str) -> Document:
    doc = session.scalar(select(Document).where(Document.id == document_id))
    if doc is None:
        raise NotFound("document", document_id)
    return doc


def number_of(session: Session, document: Document) -> str | None:
    """The document's number; for a re-rendered invoice, the number it was issued with."""
    if document.number or document.type != INVOICE:
        return document.number
    original = _original_invoice(session, document.booking_id)
    return original.number if original else None


# --- internals -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Facts:
    booking: Booking
    org: Organization
    customer: Customer
    tour: Tour | None
    schedule: Schedule | None
    lines: list[BookingLine]


def _system(booking: Booking) -> Actor:
    return Actor.system(booking.organization_id)


def _latest(session: Session, booking_id: str, type_: str) -> Document | None:
    return session.scalar(
        select(Document)
        .where(Document.booking_id == booking_id, Document.type == type_)
        .order_by(Document.version.desc())
        .limit(1)
    )


def _original_invoice(session: Session, booking_id: str) -> Document | None:
    return session.scalar(
        select(Document).where(
            Document.booking_id == booking_id,
            Document.type == INVOICE,
            Document.number.is_not(None),
        )
    )


def _issue_once(session: Session, booking_id: str, type_: str) -> Document:
    booking = get_booking(session, booking_id, lock=True)
    existing = _latest(session, booking.id, type_)
    if existing is not None:
        return existing
    return _render_travel_document(session, _system(booking), booking, type_, 1, "document.issued")


def _first_invoice(session: Session, actor: Actor, booking: Booking) -> Document:
    facts = _facts(session, booking)
    issued_on = _local_date(facts.org, utcnow())
    # The number last: from here to the commit the sequence row is locked.
    n = next_number(
        session, INVOICE_SERIES, issued_on.year, organization_id=booking.organization_id
    )
    number = format_number(INVOICE_SERIES, issued_on.year, n)
    context = _invoice_context(facts, number=number, issued_on=issued_on, version=1)
    pdf = render.render_pdf("invoice.html", context)
    return _store(
        session, actor, booking, INVOICE, 1, pdf, number=number, amount=booking.total,
        currency=booking.currency, language=context["language"], action="document.issued",
    )  # fmt: skip


def _reissue_invoice(session: Session, actor: Actor, booking: Booking, version: int) -> Document:
    original = _original_invoice(session, booking.id)
    assert original is not None and original.number is not None
    if (booking.total, booking.currency) != (original.amount, original.currency):
        raise InvoiceChanged(
            details={
                "invoice": original.number,
                "invoiced": {"amount": original.amount, "currency": original.currency},
                "booking_total": {"amount": booking.total, "currency": booking.currency},
            }
        )
    facts = _facts(session, booking)
    issued_on = _local_date(facts.org, original.created_at)
    context = _invoice_context(facts, number=original.number, issued_on=issued_on, version=version)
    pdf = render.render_pdf("invoice.html", context)
    # The number stays on the original row (unique per organization): see number_of.
    return _store(
        session, actor, booking, INVOICE, version, pdf, number=None, amount=original.amount,
        currency=original.currency, language=context["language"],
        action="document.regenerated", shown_number=original.number,
    )  # fmt: skip


def _render_travel_document(
    session: Session, actor: Actor, booking: Booking, type_: str, version: int, action: str
) -> Document:
    facts = _facts(session, booking)
    issued_on = _local_date(facts.org, utcnow())
    context = _common(facts, version=version, issued_on=issued_on)
    if type_ == VOUCHER:
        token = tokens.booking_token(booking.id, booking.organization_id, booking.reference)
        context |= {
            "token": token,
            "qr": render.qr_svg(token),
            "participants": _participant_names(facts.lines),
            "meeting_point": facts.tour.meeting_point if facts.tour else None,
            "special_requests": booking.special_requests,
        }
    else:
        context |= _itinerary_context(session, facts)
    pdf = render.render_pdf(f"{type_}.html", context)
    return _store(
        session, actor, booking, type_, version, pdf, language=context["language"], action=action
    )


def _store(
    session: Session,
    actor: Actor,
    booking: Booking,
    type_: str,
    version: int,
    pdf: bytes,
    *,
    language: str,
    action: str,
    number: str | None = None,
    ledger_entry_id: str | None = None,
    amount: int | None = None,
    currency: str | None = None,
    shown_number: str | None = None,
) -> Document:
    doc = Document(
        id=new_id(),
        organization_id=booking.organization_id,
        booking_id=booking.id,
        type=type_,
        version=version,
        number=number,
        ledger_entry_id=ledger_entry_id,
        language=language,
        storage_key=storage_key(booking.organization_id, booking.id, type_, version),
        checksum=hashlib.sha256(pdf).hexdigest(),
        size=len(pdf),
        content_type=PDF,
        amount=amount,
        currency=currency,
        created_at=utcnow(),
    )
    session.add(doc)
    # Claim the (booking, type, version) slot before writing its file: a concurrent claimer
    # fails here (or waits, then fails) and never overwrites a committed document's file.
    session.flush()
    get_storage().put(doc.storage_key, pdf)
    after = {
        "booking_id": booking.id,
        "reference": booking.reference,
        "type": type_,
        "version": version,
        "number": number or shown_number,
        "ledger_entry_id": ledger_entry_id,
        "amount": amount,
        "currency": currency,
        "storage_key": doc.storage_key,
        "checksum": doc.checksum,
        "size": doc.size,
    }
    record(session, actor, action, doc, after=after, entity_type="document")
    return doc


def _facts(session: Session, booking: Booking) -> _Facts:
    org = session.get(Organization, booking.organization_id)
    customer = session.scalar(select(Customer).where(Customer.id == booking.customer_id))
    assert org is not None and customer is not None
    tour = (
        session.scalar(select(Tour).where(Tour.id == booking.tour_id)) if booking.tour_id else None
    )
    schedule = (
        session.scalar(select(Schedule).where(Schedule.id == booking.schedule_id))
        if booking.schedule_id
        else None
    )
    lines = list(
        session.scalars(
            select(BookingLine)
            .where(BookingLine.booking_id == booking.id)
            .order_by(BookingLine.created_at, BookingLine.id)
        )
    )
    return _Facts(booking, org, customer, tour, schedule, lines)


def _local_date(org: Organization, instant: dt.datetime) -> dt.date:
    return instant.astimezone(ZoneInfo(org.timezone)).date()


def _common(f: _Facts, *, version: int, issued_on: dt.date) -> dict[str, Any]:
    legal = (f.org.settings or {}).get("legal")
    legal = legal if isinstance(legal, dict) else {}
    name = f"{f.customer.first_name} {f.customer.last_name}".strip() or f.customer.email
    return {
        "language": f.customer.preferred_language or "en",
        "currency": f.booking.currency,
        "version": version,
        "issued_on": issued_on,
        "rendered_on": _local_date(f.org, utcnow()),
        "seller": {
            "name": f.org.name,
            **{k: legal.get(k) for k in ("legal_name", "address", "tax_id", "email", "phone")},
        },
        "buyer": {"name": name, "email": f.customer.email, "phone": f.customer.phone},
        "booking": {"reference": f.booking.reference, "status": f.booking.status},
        "service": _service(f),
        "lines": [
            {"name": ln.name, "quantity": ln.quantity} for ln in f.lines if ln.kind != "adjustment"
        ],
    }


def _service(f: _Facts) -> dict[str, Any] | None:
    if f.tour is None:
        return None
    out: dict[str, Any] = {"tour_name": f.tour.name, "date": None, "start_time": None}
    if f.schedule is not None:
        zone = ZoneInfo(f.schedule.timezone)
        out |= {
            "date": f.schedule.date,
            "start_time": f.schedule.start_time,
            "end_time": f.schedule.end_time,
            "end_date": f.schedule.ends_at.astimezone(zone).date(),
            "timezone": f.schedule.timezone,
        }
    return out


def _invoice_context(f: _Facts, *, number: str, issued_on: dt.date, version: int) -> dict[str, Any]:
    b = f.booking
    snap = b.price_snapshot or {}
    if snap.get("lines"):
        lines = [
            {
                "name": ln["name"],
                "quantity": ln["quantity"],
                "unit_amount": ln["unit_price"]["amount"],
                "amount": ln["total_price"]["amount"],
            }
            for ln in snap["lines"]
        ]
    else:  # bookings priced outside TOS (synced) carry their lines only
        lines = [
            {"name": ln.name, "quantity": ln.quantity, "unit_amount": ln.unit_amount,
             "amount": ln.amount}
            for ln in f.lines
        ]  # fmt: skip
    return _common(f, version=version, issued_on=issued_on) | {
        "number": number,
        "lines": lines,
        "discounts": [
            {"description": d["description"], "amount": d["amount"]["amount"]}
            for d in snap.get("discounts", [])
        ],
        "taxes": [
            {
                "name": t["name"],
                "rate_bp": t["rate_bp"],
                "inclusive": t["inclusive"],
                "amount": t["amount"]["amount"],
            }
            for t in snap.get("taxes", [])
        ],  # fmt: skip
        "subtotal": b.subtotal,
        "discount_total": b.discount_total,
        "tax_total": b.tax_total,
        "total": b.total,
    }


def _credited_taxes(booking: Booking, refunded: int) -> list[dict[str, Any]]:
    """The tax inside a refund: each tax's share of the booking's total, in proportion."""
    if booking.total <= 0:
        return []
    return [
        {
            "name": t["name"],
            "rate_bp": t["rate_bp"],
            "amount": divide_half_even(refunded * t["amount"]["amount"], booking.total),
        }
        for t in (booking.price_snapshot or {}).get("taxes", [])
    ]


def _participant_names(lines: list[BookingLine]) -> list[str]:
    names = []
    for ln in lines:
        for p in ln.participants or []:
            name = f"{p.get('first_name', '')} {p.get('last_name', '')}".strip()
            if name:
                names.append(name)
    return names


def _itinerary_context(session: Session, f: _Facts) -> dict[str, Any]:
    b = f.booking
    out: dict[str, Any] = {
        "tour": None,
        "instructions": f.schedule.special_instructions if f.schedule else None,
        "special_requests": b.special_requests,
        "dietary": b.dietary_restrictions,
    }
    if f.tour is None:
        return out
    items = session.scalars(
        select(TourInclusion)
        .where(TourInclusion.tour_id == f.tour.id)
        .order_by(TourInclusion.sort_order, TourInclusion.id)
    ).all()
    hours, minutes = divmod(f.tour.duration_minutes, 60)
    out["tour"] = {
        "name": f.tour.name,
        "short_description": f.tour.short_description,
        "duration": f"{hours} h {minutes:02d} min" if hours else f"{minutes} min",
        "meeting_point": f.tour.meeting_point,
        "end_point": f.tour.end_point,
        "highlights": f.tour.highlights or [],
        "inclusions": [i.text for i in items if i.type == "inclusion"],
        "exclusions": [i.text for i in items if i.type == "exclusion"],
    }
    return out
