"""Documents of a booking: invoices, credit notes, vouchers, itineraries. A document is never
edited: a new version is a new row, and a refund gets a credit note, never a changed invoice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tos.core.clock import utcnow
from tos.db.base import Base, IdMixin, TenantOwned

DOCUMENT_TYPES = ("invoice", "credit_note", "voucher", "itinerary")


class Document(IdMixin, TenantOwned, Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("booking_id", "type", "version"),
        UniqueConstraint("organization_id", "number"),
        # One credit note per refund entry.
        UniqueConstraint("ledger_entry_id"),
        Index("ix_documents_booking", "booking_id", "type"),
    )

    booking_id: Mapped[str] = mapped_column(ForeignKey("bookings.id", ondelete="RESTRICT"))
    type: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Invoices and credit notes: the gapless number, e.g. INV-2026-000042 / CN-2026-000003.
    number: Mapped[str | None] = mapped_column(String(40))
    ledger_entry_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_entries.id"))
    language: Mapped[str] = mapped_column(String(8), default="en")
    storage_key: Mapped[str] = mapped_column(String(300))
    checksum: Mapped[str] = mapped_column(String(64))  # SHA-256 of the stored bytes
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(60), default="application/pdf")
    amount: Mapped[int | None] = mapped_column(BigInteger)  # invoice/credit note total
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NumberSequence(TenantOwned, Base):
    """Gapless numbering per organization, series and year: the next number is taken by a
    guarded UPDATE … RETURNING in the transaction that stores the document, so a rollback gives
    the number back and concurrent issuers queue on the row."""

    __tablename__ = "number_sequences"
    __table_args__ = (PrimaryKeyConstraint("organization_id", "series", "year"),)

    series: Mapped[str] = mapped_column(String(8))  # INV | CN
    year: Mapped[int] = mapped_column(Integer)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
