"""A local, protocol-faithful stand-in for the parts of the Razorpay API TOS uses, for the
official `razorpay` SDK to talk to (https://razorpay.com/docs/api/).

Serves, JSON in and out like Razorpay: POST /v1/orders, GET /v1/orders (?receipt, count, skip),
GET /v1/orders/{id}, GET /v1/orders/{id}/payments, GET /v1/payments/{id}, POST
/v1/payments/{id}/refund, GET /v1/payments/{id}/refunds, GET /v1/refunds/{id}. It checks basic
auth key_id:key_secret (401 "Authentication failed" otherwise), honours `X-Refund-Idempotency`
(same key and body: the same refund; another body: 400), keeps its own records of orders,
payments, refunds and disputes per account, refuses refunds beyond what was captured, and
validates like Razorpay (amount >= 100, receipt <= 40 characters, at most 15 notes).

Test controls: `succeed` / `fail` / `dispute` / `set_refund_status` move the records as the
customer or bank would and return the webhook Razorpay would send (raw body, headers with
X-Razorpay-Signature and X-Razorpay-Event-Id); `event` / `signed` build any other;
`inject_error` makes the next requests fail with 5xx / 429; `captured` / `refunded` / `net` are
what Razorpay holds, to compare with TOS's ledger.

    with running_razorpay_fake() as fake:
        creds = fake.creds()  # tos Credentials pointing at the fake
"""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.signing import FakeProvider, Reply, dumps, new_id, razorpay_signature
from tos.payments.providers.base import Credentials

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{10,}$")
LIVE_REFUND = {"processed", "pending"}  # counted against the payment


@dataclass(frozen=True)
class RazorpayAccount:
    id: str
    key_id: str
    key_secret: str
    webhook_secret: str


def _error(
    status: int,
    description: str,
    *,
    code: str = "BAD_REQUEST_ERROR",
    field: str | None = None,
    source: str = "business",
    step: str = "payment_initiation",
    reason: str = "input_validation_failed",
) -> Reply:
    err: dict[str, Any] = {
        "code": code,
        "description": description,
        "source": source,
        "step": step,
        "reason": reason,
        "metadata": {},
    }
    if field:
        err["field"] = field
    return status, {"error": err}, {}


def _na_error(status: int, description: str, code: str = "BAD_REQUEST_ERROR") -> Reply:
    return _error(status, description, code=code, source="NA", step="NA", reason="NA")


def _no_such_id() -> Reply:
    return _error(400, "The id provided does not exist")


def _collection(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"entity": "collection", "count": len(items), "items": copy.deepcopy(items)}


class RazorpayFake(FakeProvider):
    def __init__(self, *, refund_status: str = "processed") -> None:
        super().__init__(refund_status=refund_status)
        self.accounts: dict[str, RazorpayAccount] = {}  # by key id
        self.orders: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.account = self.add_account()

    # --- set-up --------------------------------------------------------------------------

    def start(self) -> RazorpayFake:
        self._server.start()
        return self

    def add_account(self) -> RazorpayAccount:
        acct = RazorpayAccount(
            id=new_id("acc_", 14),
            key_id=new_id("rzp_test_", 14),
            key_secret=new_id("", 24),
            webhook_secret=new_id("", 20),
        )
        self.accounts[acct.key_id] = acct
        return acct

    def creds(self, account: RazorpayAccount | None = None) -> Credentials:
        acct = account or self.account
        return Credentials(
            secret_key=acct.key_secret,
            key_id=acct.key_id,
            webhook_secret=acct.webhook_secret,
            api_base=self.url,
        )

    # --- the provider's records, for reconciliation -------------------------------------

    def payments_for(self, order_id: str) -> list[dict[str, Any]]:
        return [p for p in self.payments.values() if p["order_id"] == order_id]

    def refunds_for(self, order_id: str) -> list[dict[str, Any]]:
        ids = {p["id"] for p in self.payments_for(order_id)}
        return [r for r in self.refunds.values() if r["payment_id"] in ids]

    def captured(self, order_id: str | None = None) -> int:
        return sum(
            p["amount"]
            for p in self.payments.values()
            if p["captured"] and order_id in (None, p["order_id"])
        )

    def refunded(self, order_id: str | None = None) -> int:
        """Refunds that took money back (processed) or will (pending): not failed."""
        return sum(
            r["amount"]
            for r in self.refunds.values()
            if r["status"] in LIVE_REFUND
            and order_id in (None, self.payments[r["payment_id"]]["order_id"])
        )

    def net(self, order_id: str | None = None) -> int:
        return self.captured(order_id) - self.refunded(order_id)

    # --- what a customer / the bank does, and the webhook Razorpay sends about it --------

    def succeed(self, order_id: str) -> tuple[bytes, dict[str, str]]:
        """The customer pays the order in Checkout: a captured payment (auto-capture), the order
        paid; returns payment.captured (order.paid is in `events`; `event` signs it)."""
        with self._lock:
            order = self.orders[order_id]
            if order["status"] == "paid":
                raise ValueError(f"{order_id} is already paid")
            pay = self._payment(order, captured=True)
            order.update(
                status="paid",
                amount_paid=order["amount"],
                amount_due=0,
                attempts=order["attempts"] + 1,
            )
            self._record_event("payment.authorized", payment=pay)
            delivery = self.event("payment.captured", pay["id"])
            self._record_event("order.paid", payment=pay, order=order)
            return delivery

    def fail(
        self,
        order_id: str,
        description: str = "Payment processing failed because the card "
        "was declined by the issuing bank.",
    ) -> tuple[bytes, dict[str, str]]:
        """A declined attempt: a failed payment, the order attempted; returns payment.failed."""
        with self._lock:
            order = self.orders[order_id]
            if order["status"] == "paid":
                raise ValueError(f"{order_id} is already paid")
            pay = self._payment(order, captured=False, description=description)
            order.update(status="attempted", attempts=order["attempts"] + 1)
            return self.event("payment.failed", pay["id"])

    def dispute(self, order_id: str, reason_code: str = "chargeback") -> tuple[bytes, dict]:
        with self._lock:
            pay = next(p for p in self.payments_for(order_id) if p["captured"])
            disp = {
                "id": new_id("disp_", 14),
                "entity": "dispute",
                "payment_id": pay["id"],
                "amount": pay["amount"],
                "currency": pay["currency"],
                "amount_deducted": 0,
                "reason_code": reason_code,
                "respond_by": int(time.time()) + 7 * 86400,
                "status": "open",
                "phase": "chargeback",
                "created_at": int(time.time()),
            }
            self.disputes[disp["id"]] = disp
            self._owner[disp["id"]] = self._owner[pay["id"]]
            return self.event("payment.dispute.created", disp["id"])

    def set_refund_status(self, rfnd_id: str, status: str) -> tuple[bytes, dict[str, str]]:
        """A pending refund is processed, or fails; returns refund.processed / refund.failed."""
        with self._lock:
            refund = self.refunds[rfnd_id]
            was_live = refund["status"] in LIVE_REFUND
            refund["status"] = status
            pay = self.payments[refund["payment_id"]]
            if was_live and status not in LIVE_REFUND:  # the money did not go back after all
                pay["amount_refunded"] -= refund["amount"]
                self._refund_state(pay)
            return self.event(f"refund.{status}", rfnd_id)

    def event(
        self,
        name: str,
        entity_id: str,
        *,
        secret: str | None = None,
        event_id: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The webhook `name` about one of the fake's entities (order_, pay_, rfnd_, disp_),
        with the payload entities Razorpay sends alongside it."""
        with self._lock:
            entities: dict[str, dict[str, Any]] = {}
            if entity_id in self.disputes:
                disp = self.disputes[entity_id]
                entities = {"payment": self.payments[disp["payment_id"]], "dispute": disp}
            elif entity_id in self.refunds:
                refund = self.refunds[entity_id]
                entities = {"refund": refund, "payment": self.payments[refund["payment_id"]]}
            elif entity_id in self.payments:
                entities = {"payment": self.payments[entity_id]}
                if name.startswith("order."):
                    entities["order"] = self.orders[entities["payment"]["order_id"]]
            elif entity_id in self.orders:
                order = self.orders[entity_id]
                paid = [p for p in self.payments_for(entity_id) if p["captured"]]
                entities = {"payment": paid[-1], "order": order} if paid else {"order": order}
            else:
                raise KeyError(entity_id)
            evt = self._record_event(name, **entities)
            return self.signed(evt, secret=secret, event_id=event_id)

    def signed(
        self, event: dict[str, Any], *, secret: str | None = None, event_id: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Raw body and headers, signed with the account's webhook secret."""
        if secret is None:
            acct = next(
                (a for a in self.accounts.values() if a.id == event.get("account_id")),
                self.account,
            )
            secret = acct.webhook_secret
        body = dumps(event)
        return body, {
            "Content-Type": "application/json",
            "X-Razorpay-Signature": razorpay_signature(body, secret),
            "X-Razorpay-Event-Id": event_id or new_id("", 14),
            "User-Agent": "Razorpay-Webhook/v1",
        }

    def events_of_type(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    # --- internals ------------------------------------------------------------------------

    def _record_event(self, name: str, **entities: dict[str, Any]) -> dict[str, Any]:
        first = next(iter(entities.values()))
        owner = self._owner.get(first["id"], self.account.id)
        evt = {
            "entity": "event",
            "account_id": owner,
            "event": name,
            "contains": list(entities),
            "payload": {k: {"entity": copy.deepcopy(v)} for k, v in entities.items()},
            "created_at": int(time.time()),
        }
        self.events.append(evt)
        return evt

    def _payment(
        self, order: dict[str, Any], *, captured: bool, description: str = ""
    ) -> dict[str, Any]:
        fee = order["amount"] * 2 // 100 if captured else None
        pay = {
            "id": new_id("pay_", 14),
            "entity": "payment",
            "amount": order["amount"],
            "currency": order["currency"],
            "status": "captured" if captured else "failed",
            "order_id": order["id"],
            "invoice_id": None,
            "international": False,
            "method": "card",
            "amount_refunded": 0,
            "refund_status": None,
            "captured": captured,
            "description": None,
            "card_id": new_id("card_", 14),
            "bank": None,
            "wallet": None,
            "vpa": None,
            "email": "gaurav.kumar@example.com",
            "contact": "+919000090000",
            "notes": copy.deepcopy(order["notes"]),
            "fee": fee,
            "tax": fee * 18 // 118 if fee is not None else None,
            "error_code": None if captured else "BAD_REQUEST_ERROR",
            "error_description": None if captured else description,
            "error_source": None if captured else "issuer_bank",
            "error_step": None if captured else "payment_authorization",
            "error_reason": None if captured else "payment_declined",
            "acquirer_data": {"auth_code": "828553"} if captured else {},
            "created_at": int(time.time()),
        }
        self.payments[pay["id"]] = pay
        self._owner[pay["id"]] = self._owner[order["id"]]
        return pay

    @staticmethod
    def _refund_state(pay: dict[str, Any]) -> None:
        if pay["amount_refunded"] <= 0:
            pay.update(refund_status=None, status="captured")
        elif pay["amount_refunded"] < pay["amount"]:
            pay.update(refund_status="partial", status="captured")
        else:
            pay.update(refund_status="full", status="refunded")

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            status, doc, extra = self._dispatch(method, target, headers, body)
            self.request_log.append(
                {
                    "method": method,
                    "path": urlsplit(target).path,
                    "idempotency_key": headers.get("x-refund-idempotency"),
                    "status": status,
                }
            )
            return status, doc, extra

    def _dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        if self._faults:
            status = self._faults.pop(0)
            if status == 429:
                return _na_error(429, "Too many requests")
            return _na_error(
                status,
                "The server encountered an error. The incident has been reported to admins.",
                code="SERVER_ERROR",
            )
        acct = self._authenticate(headers.get("authorization", ""))
        if not isinstance(acct, RazorpayAccount):
            return acct
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        data: dict[str, Any] = {}
        if method in ("POST", "PATCH", "PUT") and body:
            try:
                data = json.loads(body)
            except ValueError:
                return _na_error(400, "The request body is not valid JSON")
        parts = [unquote(s) for s in url.path.strip("/").split("/")]
        match (method, parts):
            case ("POST", ["v1", "orders"]):
                return self._create_order(acct, data)
            case ("GET", ["v1", "orders"]):
                return self._list_orders(acct, query)
            case ("GET", ["v1", "orders", ident]):
                order = self._mine(self.orders, ident, acct)
                return (200, order, {}) if order else _no_such_id()
            case ("GET", ["v1", "orders", ident, "payments"]):
                if not self._mine(self.orders, ident, acct):
                    return _no_such_id()
                return 200, _collection(self.payments_for(ident)[::-1]), {}
            case ("GET", ["v1", "payments", ident]):
                pay = self._mine(self.payments, ident, acct)
                return (200, pay, {}) if pay else _no_such_id()
            case ("POST", ["v1", "payments", ident, "refund"]):
                return self._refund(acct, ident, data, headers.get("x-refund-idempotency"))
            case ("GET", ["v1", "payments", ident, "refunds"]):
                if not self._mine(self.payments, ident, acct):
                    return _no_such_id()
                mine = [r for r in self.refunds.values() if r["payment_id"] == ident]
                return 200, _collection(mine[::-1]), {}
            case ("GET", ["v1", "refunds", ident]):
                refund = self._mine(self.refunds, ident, acct)
                return (200, refund, {}) if refund else _no_such_id()
        return _na_error(404, "The requested URL was not found on the server.")

    def _authenticate(self, header: str) -> RazorpayAccount | Reply:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value:
            return _na_error(401, "Please provide your api key for authentication purposes.")
        try:
            key_id, _, secret = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return _na_error(401, "Authentication failed")
        acct = self.accounts.get(key_id)
        if acct is None or not secret or secret != acct.key_secret:
            return _na_error(401, "Authentication failed")
        return acct

    def _mine(self, table: dict[str, dict[str, Any]], ident: str, acct: RazorpayAccount) -> Any:
        obj = table.get(ident)
        return obj if obj is not None and self._owner.get(ident) == acct.id else None

    def _create_order(self, acct: RazorpayAccount, data: dict[str, Any]) -> Reply:
        amount = data.get("amount")
        if amount is None:
            return _error(400, "The amount field is required.", field="amount")
        if not isinstance(amount, int) or amount < 100:
            return _error(400, "The amount must be atleast INR 1.00", field="amount")
        currency = data.get("currency", "INR")
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
            return _error(400, "The requested currency is not supported.", field="currency")
        receipt = data.get("receipt")
        if receipt is not None and len(str(receipt)) > 40:
            return _error(
                400, "The receipt may not be greater than 40 characters.", field="receipt"
            )
        notes = data.get("notes") or {}
        if not isinstance(notes, dict) or len(notes) > 15:
            return _error(
                400, "Number of fields in notes should be less than or equal to 15", field="notes"
            )
        if any(len(str(v)) > 256 for v in notes.values()):
            return _error(400, "Notes value may not be greater than 256 characters.", field="notes")
        order: dict[str, Any] = {
            "id": new_id("order_", 14),
            "entity": "order",
            "amount": amount,
            "amount_paid": 0,
            "amount_due": amount,
            "currency": currency,
            "receipt": receipt,
            "offer_id": None,
            "status": "created",
            "attempts": 0,
            "notes": notes or [],
            "created_at": int(time.time()),
        }
        self.orders[order["id"]] = order
        self._owner[order["id"]] = acct.id
        return 200, copy.deepcopy(order), {}

    def _list_orders(self, acct: RazorpayAccount, query: dict[str, str]) -> Reply:
        try:
            count = min(int(query.get("count", 10)), 100)
            skip = int(query.get("skip", 0))
        except ValueError:
            return _error(400, "The count must be an integer.", field="count")
        mine = [o for o in self.orders.values() if self._owner.get(o["id"]) == acct.id]
        if "receipt" in query:
            mine = [o for o in mine if o["receipt"] == query["receipt"]]
        newest_first = mine[::-1]
        return 200, _collection(newest_first[skip : skip + count]), {}

    def _refund(
        self, acct: RazorpayAccount, pay_id: str, data: dict[str, Any], key: str | None
    ) -> Reply:
        if key is not None:
            if not IDEMPOTENCY_KEY.match(key):
                return _error(
                    400,
                    "The idempotency key must be at least 10 characters long "
                    "and contain only alphabets, numbers, hyphens and underscores.",
                    field="X-Refund-Idempotency",
                )
            stored = self._idempotent.get((acct.id, key))
            if stored is not None:
                if stored[0] != (pay_id, data):
                    return _na_error(
                        400,
                        "Different request with the same idempotency key "
                        "has already been processed.",
                    )
                return copy.deepcopy(stored[1])
        reply = self._create_refund(acct, pay_id, data)
        if key is not None and reply[0] == 200:
            self._idempotent[(acct.id, key)] = ((pay_id, copy.deepcopy(data)), copy.deepcopy(reply))
        return reply

    def _create_refund(self, acct: RazorpayAccount, pay_id: str, data: dict[str, Any]) -> Reply:
        pay = self._mine(self.payments, pay_id, acct)
        if pay is None:
            return _no_such_id()
        if not pay["captured"]:
            return _error(
                400,
                "The payment status should be captured for action to be taken",
                field="payment_id",
            )
        left = pay["amount"] - pay["amount_refunded"]
        if left <= 0:
            return _error(400, "The payment has been fully refunded already")
        amount = data.get("amount", left)
        if not isinstance(amount, int) or amount < 100:
            return _error(400, "The amount must be atleast INR 1.00", field="amount")
        if amount > left:
            return _error(
                400, "The refund amount provided is greater than amount captured", field="amount"
            )
        speed = data.get("speed", "normal")
        refund = {
            "id": new_id("rfnd_", 14),
            "entity": "refund",
            "amount": amount,
            "currency": pay["currency"],
            "payment_id": pay_id,
            "notes": data.get("notes") or [],
            "receipt": data.get("receipt"),
            "acquirer_data": {"arn": None},
            "created_at": int(time.time()),
            "batch_id": None,
            "status": self.refund_status,
            "speed_processed": "normal",
            "speed_requested": speed,
        }
        self.refunds[refund["id"]] = refund
        self._owner[refund["id"]] = acct.id
        if refund["status"] in LIVE_REFUND:
            pay["amount_refunded"] += amount
            self._refund_state(pay)
        self._record_event("refund.created", refund=refund, payment=pay)
        if refund["status"] == "processed":
            self._record_event("refund.processed", refund=refund, payment=pay)
        return 200, copy.deepcopy(refund), {}


@contextmanager
def running_razorpay_fake(*, refund_status: str = "processed") -> Iterator[RazorpayFake]:
    """A started RazorpayFake on 127.0.0.1:<free port>; stopped on exit."""
    fake = RazorpayFake(refund_status=refund_status).start()
    try:
        yield fake
    finally:
        fake.stop()
