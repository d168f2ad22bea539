"""The sandbox provider's hosted checkout page: /sandbox/checkout/{payment_id}.

No authentication: as with a real provider's checkout URL, the payment id is the capability.
"Pay" and "Decline" settle the sandbox's own charge (requires_action → succeeded | failed) and,
in the same transaction, queue the signed webhook the sandbox then sends back to TOS
("payments.sandbox_send", tos.payments.sandbox_sender) — asynchronously, as a real provider
does. A second click changes nothing and says so. Refused in production, where the public
checkout refuses sandbox payments too: this page confirms payments that move no money."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.bookings.models import Booking
from tos.config import get_settings
from tos.core.http import register_error_renderer
from tos.core.money import currency_exponent, to_major
from tos.db import tenancy
from tos.db.ids import new_id
from tos.db.session import get_session_factory
from tos.outbox import service as outbox
from tos.payments.models import Payment, SandboxCharge
from tos.payments.providers import sandbox

log = logging.getLogger("tos.payments")

router = APIRouter(tags=["sandbox"])
SEND_HANDLER = "payments.sandbox_send"
PaymentId = Annotated[str, Path(min_length=1, max_length=64)]
Outcome = Literal["sent", "unchanged"]
_EVENTS = {"pay": ("succeeded", "payment.succeeded"), "decline": ("failed", "payment.failed")}


@dataclass(frozen=True, slots=True)
class _View:
    reference: str
    amount: int
    currency: str
    charge_status: str
    shop_status: str  # TOS's Payment.status: what the shop has made of the webhook so far


# --- reads and writes ------------------------------------------------------------------------


def _sandbox_payment(session: Session, payment_id: str) -> Payment | None:
    with tenancy.unscoped(session):
        return session.scalar(
            select(Payment).where(Payment.id == payment_id, Payment.provider == "sandbox")
        )


def _charge(session: Session, payment_id: str, *, lock: bool = False) -> SandboxCharge | None:
    stmt = select(SandboxCharge).where(SandboxCharge.payment_id == payment_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def _view(payment_id: str) -> _View | None:
    with get_session_factory()(write=False) as session:
        payment = _sandbox_payment(session, payment_id)
        if payment is None:
            return None
        with tenancy.unscoped(session):
            reference = session.scalar(
                select(Booking.reference).where(Booking.id == payment.booking_id)
            )
    with sandbox.records(write=False) as records:
        charge = _charge(records, payment_id)
        if charge is None:
            return None
        return _View(reference or "", charge.amount, charge.currency, charge.status,
                     payment.status)  # fmt: skip


def _settle(payment_id: str, action: str) -> Outcome | None:
    """Move the charge out of requires_action and queue its webhook; None = no such payment."""
    to_status, event = _EVENTS[action]
    with get_session_factory()(write=True) as db:
        payment = _sandbox_payment(db, payment_id)
        if payment is None:
            return None
        tenancy.set_scope(db, payment.organization_id)
        records = sandbox.records(write=True)
        # On PostgreSQL the sandbox's records live in TOS's database: one transaction writes the
        # charge and its send job. On SQLite they are a sibling file (sandbox.records), so two
        # transactions, taken in the order TOS's provider calls take them (main file, then the
        # sandbox's) and committed sandbox first: a crash in between leaves a succeeded charge
        # without a webhook, which reconciliation (retrieve) finds, as with a real provider.
        shared = records.get_bind().engine.url == db.get_bind().engine.url
        if shared:
            records.close()
            records = db
        try:
            charge = _charge(records, payment_id, lock=True)
            if charge is None:
                return None
            if charge.status != "requires_action":
                return "unchanged"
            charge.status = to_status
            outbox.enqueue(db, SEND_HANDLER,
                           {"payment_id": payment_id, "event": event,
                            "event_id": "evt_" + new_id().replace("-", "")})  # fmt: skip
            if not shared:
                records.commit()
            db.commit()
        finally:
            if not shared:
                records.close()
    log.info("sandbox checkout %s: %s", payment_id, event)
    return "sent"


# --- routes ----------------------------------------------------------------------------------


def _available() -> bool:
    return get_settings().env != "production"


@router.get("/sandbox/checkout/{payment_id}", response_class=HTMLResponse)
def checkout_page(
    payment_id: PaymentId, result: Annotated[str | None, Query(max_length=20)] = None
) -> HTMLResponse:
    view = _view(payment_id) if _available() else None
    if view is None:
        return _not_found()
    return HTMLResponse(_render(payment_id, view, result))


@router.post("/sandbox/checkout/{payment_id}/pay", response_class=HTMLResponse)
def pay(payment_id: PaymentId) -> Response:
    return _act(payment_id, "pay")


@router.post("/sandbox/checkout/{payment_id}/decline", response_class=HTMLResponse)
def decline(payment_id: PaymentId) -> Response:
    return _act(payment_id, "decline")


def _act(payment_id: str, action: str) -> Response:
    outcome = _settle(payment_id, action) if _available() else None
    if outcome is None:
        return _not_found()
    # Post/redirect/get: reloading the page does not post the form again.
    return RedirectResponse(f"/sandbox/checkout/{payment_id}?result={outcome}", status_code=303)


# --- HTML ------------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:26rem;margin:4rem auto;background:#fff;border-radius:12px;padding:2rem;
box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.1rem;margin:0 0 .25rem}.tag{color:#6b7280;font-size:.85rem;margin:0 0 1.5rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.5rem 1rem;margin:0 0 1.5rem}
dt{color:#6b7280}dd{margin:0;font-weight:600}
.amount{font-size:1.6rem}.note{background:#eef6ee;border-radius:8px;padding:.75rem 1rem}
.note.same{background:#fdf6e3}.actions{display:flex;gap:.75rem}form{flex:1}
button{width:100%;padding:.75rem;border:0;border-radius:8px;font-size:1rem;cursor:pointer}
.pay{background:#2563eb;color:#fff}.decline{background:#e5e7eb;color:#1d2330}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _money(amount: int, currency: str) -> str:
    return f"{to_major(amount, currency):,.{currency_exponent(currency)}f} {currency}"


def _render(payment_id: str, view: _View, result: str | None) -> str:
    e = html.escape
    shop = {"succeeded": "payment confirmed", "failed": "payment failed", "cancelled": "cancelled"}
    rows = [("Booking", e(view.reference)),
            ("Amount", f'<span class="amount">{e(_money(view.amount, view.currency))}</span>'),
            ("Status", e(view.charge_status.replace("_", " ")))]  # fmt: skip
    if view.shop_status in shop:
        rows.append(("Shop", e(shop[view.shop_status])))
    parts = [
        "<h1>Sandbox checkout</h1>",
        '<p class="tag">Test payments: no money moves.</p>',
        "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>",
    ]
    if result == "sent" and view.shop_status == "requires_action":  # the webhook is on its way
        note = ("Decline sent — the shop will be told shortly." if view.charge_status == "failed"
                else "Payment sent — the shop will confirm it shortly.")  # fmt: skip
        parts.append(f'<p class="note">{note}</p>')
    elif result == "unchanged":
        parts.append(
            f'<p class="note same">Nothing changed: this payment is already '
            f"{e(view.charge_status.replace('_', ' '))}.</p>"
        )
    if view.charge_status == "requires_action":
        base = f"/sandbox/checkout/{e(payment_id)}"
        parts.append(
            '<div class="actions">'
            f'<form method="post" action="{base}/pay"><button class="pay">Pay</button></form>'
            f'<form method="post" action="{base}/decline">'
            '<button class="decline">Decline</button></form></div>'
        )
    return _page(f"Pay booking {view.reference}", "".join(parts))


def _not_found() -> HTMLResponse:
    body = "<h1>Checkout not found</h1><p>This sandbox checkout link is not valid.</p>"
    return HTMLResponse(_page("Checkout not found", body), status_code=404)


def _error_page(request: Request, status: int, code: str, message: str, details: dict):
    body = f"<h1>{html.escape(message)}</h1><p>{html.escape(code)}</p>"
    return HTMLResponse(_page(message, body), status_code=status)


# The page's own errors (a 405, an over-long id) as HTML too, not the API's JSON.
register_error_renderer("/sandbox/", _error_page)
