"""A local, protocol-faithful stand-in for the parts of the Stripe API TOS uses, for the
official `stripe` SDK to talk to (https://docs.stripe.com/api).

Serves, form-encoded in and JSON out like Stripe: POST /v1/payment_intents, GET
/v1/payment_intents/{id}, POST /v1/payment_intents/{id}/cancel, POST /v1/refunds, GET
/v1/refunds/{id}, GET /v1/charges/{id}, GET /v1/events/{id}. It checks the secret key (Bearer, or
basic auth with the key as user name) and answers Stripe's 401 body otherwise; replays
Idempotency-Key requests (same key and parameters: the same response, `Idempotent-Replayed:
true`; other parameters: 400 idempotency_error); keeps its own records of intents, charges,
refunds, disputes and events per account; refuses refunds beyond what was captured.

Test controls: `succeed` / `fail` / `dispute` / `set_refund_status` move the records the way a
customer or bank would, and return the webhook Stripe would send (raw body, signed headers);
`event` / `signed` build any other; `inject_error` makes the next requests fail with 5xx / 429;
`captured` / `refunded` / `net` are what Stripe holds, to compare with TOS's ledger.

    with running_stripe_fake() as fake:
        creds = fake.creds()  # tos Credentials pointing at the fake
"""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.signing import (
    FakeProvider,
    Reply,
    dumps,
    new_id,
    stripe_signature_header,
)
from tos.payments.providers.base import Credentials

API_VERSION = "2026-10-28.endive"
CANCELABLE = {
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
}
PAYABLE = CANCELABLE - {"requires_capture"}
REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}
LIVE_REFUND = {"succeeded", "pending", "requires_action"}  # counted as refunded on the charge


@dataclass(frozen=True)
class StripeAccount:
    id: str
    secret_key: str
    publishable_key: str
    webhook_secret: str


def decode_form(raw: str) -> dict[str, Any]:
    """Stripe's form encoding back to a document: `metadata[k]=v`, `expand[0]=x`."""
    doc: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node = doc
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def lists(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if node and all(k.isdigit() for k in node):
            return [lists(node[k]) for k in sorted(node, key=int)]
        return {k: lists(v) for k, v in node.items()}

    return lists(doc)


def _error(status: int, message: str, **fields: Any) -> Reply:
    err = {"message": message, "type": fields.pop("type", "invalid_request_error"), **fields}
    if "code" in err:
        err.setdefault("doc_url", f"https://stripe.com/docs/error-codes/{err['code']}")
    return status, {"error": err}, {}


def _missing(kind: str, ident: str, param: str) -> Reply:
    return _error(404, f"No such {kind}: '{ident}'", code="resource_missing", param=param)


def _money(amount: int, currency: str) -> str:
    return f"{currency.upper()} {amount / 100:.2f}"


class StripeFake(FakeProvider):
    def __init__(self, *, refund_status: str = "succeeded") -> None:
        super().__init__(refund_status=refund_status)
        self.accounts: dict[str, StripeAccount] = {}  # by secret key
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.account = self.add_account()

    # --- set-up --------------------------------------------------------------------------

    def start(self) -> StripeFake:
        self._server.start()
        return self

    def add_account(self) -> StripeAccount:
        acct = StripeAccount(
            id=new_id("acct_", 16),
            secret_key=new_id("sk_test_", 40),
            publishable_key=new_id("pk_test_", 40),
            webhook_secret=new_id("whsec_", 32),
        )
        self.accounts[acct.secret_key] = acct
        return acct

    def creds(self, account: StripeAccount | None = None) -> Credentials:
        acct = account or self.account
        return Credentials(
            secret_key=acct.secret_key,
            key_id=acct.publishable_key,
            webhook_secret=acct.webhook_secret,
            api_base=self.url,
        )

    # --- the provider's records, for reconciliation -------------------------------------

    def refunds_for(self, pi_id: str) -> list[dict[str, Any]]:
        return [r for r in self.refunds.values() if r["payment_intent"] == pi_id]

    def captured(self, pi_id: str | None = None) -> int:
        return sum(
            c["amount_captured"]
            for c in self.charges.values()
            if c["status"] == "succeeded" and pi_id in (None, c["payment_intent"])
        )

    def refunded(self, pi_id: str | None = None) -> int:
        """Refunds that took money back (succeeded) or will (pending): not failed/canceled."""
        return sum(
            r["amount"]
            for r in self.refunds.values()
            if r["status"] in LIVE_REFUND and pi_id in (None, r["payment_intent"])
        )

    def net(self, pi_id: str | None = None) -> int:
        return self.captured(pi_id) - self.refunded(pi_id)

    # --- what a customer / the bank does, and the webhook Stripe sends about it -----------

    def succeed(self, pi_id: str) -> tuple[bytes, dict[str, str]]:
        """The customer pays: a succeeded charge; returns payment_intent.succeeded."""
        with self._lock:
            pi = self.intents[pi_id]
            if pi["status"] not in PAYABLE:
                raise ValueError(f"{pi_id} is {pi['status']}: it cannot be paid")
            charge = self._charge(pi, succeeded=True)
            pi.update(
                status="succeeded",
                amount_received=pi["amount"],
                last_payment_error=None,
                latest_charge=charge["id"],
                payment_method=charge["payment_method"],
            )
            self._record_event("charge.succeeded", charge)
            return self.event("payment_intent.succeeded", pi_id)

    def fail(
        self, pi_id: str, message: str = "Your card was declined.", decline: str = "generic_decline"
    ) -> tuple[bytes, dict[str, str]]:
        """The card is declined: a failed charge, the intent back to requires_payment_method with
        last_payment_error; returns payment_intent.payment_failed."""
        with self._lock:
            pi = self.intents[pi_id]
            if pi["status"] not in PAYABLE:
                raise ValueError(f"{pi_id} is {pi['status']}: it cannot be attempted")
            charge = self._charge(pi, succeeded=False, message=message)
            pi.update(
                status="requires_payment_method",
                latest_charge=charge["id"],
                payment_method=None,
                last_payment_error={
                    "charge": charge["id"],
                    "code": "card_declined",
                    "decline_code": decline,
                    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                    "message": message,
                    "payment_method": {
                        "id": charge["payment_method"],
                        "object": "payment_method",
                        "type": "card",
                    },
                    "type": "card_error",
                },
            )
            self._record_event("charge.failed", charge)
            return self.event("payment_intent.payment_failed", pi_id)

    def dispute(self, pi_id: str, reason: str = "fraudulent") -> tuple[bytes, dict[str, str]]:
        with self._lock:
            charge = self.charges[self.intents[pi_id]["latest_charge"]]
            dp = {
                "id": new_id("dp_"),
                "object": "dispute",
                "amount": charge["amount"],
                "balance_transactions": [],
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "evidence": {},
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": pi_id,
                "reason": reason,
                "status": "needs_response",
            }
            self.disputes[dp["id"]] = dp
            self._owner[dp["id"]] = self._owner[pi_id]
            charge["disputed"] = True
            return self.event("charge.dispute.created", dp["id"])

    def set_refund_status(
        self, re_id: str, status: str, failure_reason: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A pending refund settles (succeeded) or the bank returns it (failed / canceled);
        returns refund.updated."""
        with self._lock:
            refund = self.refunds[re_id]
            was_live = refund["status"] in LIVE_REFUND
            refund["status"] = status
            if status == "failed":
                refund["failure_reason"] = failure_reason or "expired_or_canceled_card"
            charge = self.charges[refund["charge"]]
            if was_live and status not in LIVE_REFUND:  # the money did not go back after all
                charge["amount_refunded"] -= refund["amount"]
                charge["refunded"] = False
            if status == "failed":
                self._record_event("refund.failed", refund)
            return self.event("refund.updated", re_id)

    def event(
        self,
        event_type: str,
        object_id: str,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The webhook for `event_type` about one of the fake's objects, as it is now."""
        with self._lock:
            obj = self._find(object_id)
            if obj is None:
                raise KeyError(object_id)
            evt = self._record_event(event_type, obj)
            return self.signed(evt, secret=secret, timestamp=timestamp)

    def signed(
        self,
        event: dict[str, Any],
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        account: StripeAccount | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """Raw body and headers, signed with Stripe's scheme and the account's secret."""
        if secret is None:
            owner = self._owner.get(event["data"]["object"].get("id", ""))
            acct = account or next(
                (a for a in self.accounts.values() if a.id == owner), self.account
            )
            secret = acct.webhook_secret
        body = dumps(event)
        return body, {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": stripe_signature_header(body, secret, timestamp),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }

    def envelope(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }

    def events_of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]

    # --- internals ------------------------------------------------------------------------

    def _record_event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        evt = self.envelope(event_type, obj)
        self.events.append(evt)
        self._owner[evt["id"]] = self._owner.get(obj.get("id", ""), self.account.id)
        return evt

    def _find(self, ident: str) -> dict[str, Any] | None:
        for table in (self.intents, self.charges, self.refunds, self.disputes):
            if ident in table:
                return table[ident]
        return None

    def _charge(self, pi: dict[str, Any], *, succeeded: bool, message: str = "") -> dict[str, Any]:
        ch = {
            "id": new_id("ch_"),
            "object": "charge",
            "amount": pi["amount"],
            "amount_captured": pi["amount"] if succeeded else 0,
            "amount_refunded": 0,
            "balance_transaction": new_id("txn_") if succeeded else None,
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "captured": succeeded,
            "created": int(time.time()),
            "currency": pi["currency"],
            "customer": None,
            "description": pi["description"],
            "disputed": False,
            "failure_code": None if succeeded else "card_declined",
            "failure_message": None if succeeded else message,
            "livemode": False,
            "metadata": dict(pi["metadata"]),
            "outcome": {
                "network_status": "approved_by_network" if succeeded else "declined_by_network",
                "risk_level": "normal",
                "type": "authorized" if succeeded else "issuer_declined",
                "seller_message": "Payment complete." if succeeded else "The bank declined.",
            },
            "paid": succeeded,
            "payment_intent": pi["id"],
            "payment_method": new_id("pm_"),
            "payment_method_details": {
                "card": {
                    "brand": "visa",
                    "country": "US",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "funding": "credit",
                    "last4": "4242" if succeeded else "0002",
                },
                "type": "card",
            },
            "receipt_email": pi["receipt_email"],
            "refunded": False,
            "status": "succeeded" if succeeded else "failed",
        }
        self.charges[ch["id"]] = ch
        self._owner[ch["id"]] = self._owner[pi["id"]]
        return ch

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            status, doc, extra = self._dispatch(method, target, headers, body)
            self.request_log.append(
                {
                    "method": method,
                    "path": urlsplit(target).path,
                    "idempotency_key": headers.get("idempotency-key"),
                    "status": status,
                }
            )
            return status, doc, {"Request-Id": new_id("req_", 14), **extra}

    def _dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        if self._faults:
            status = self._faults.pop(0)
            if status == 429:
                return _error(
                    429,
                    "Request rate limit exceeded. Learn more about rate limits "
                    "here https://stripe.com/docs/rate-limits.",
                    code="rate_limit",
                )
            return _error(status, "An unknown error occurred", type="api_error")
        acct = self._authenticate(headers.get("authorization", ""))
        if not isinstance(acct, StripeAccount):
            return acct
        url = urlsplit(target)
        raw = body.decode() if method == "POST" else url.query
        params = decode_form(raw)
        key = headers.get("idempotency-key")
        if method == "POST" and key:
            fingerprint = (url.path, params)
            stored = self._idempotent.get((acct.id, key))
            if stored is not None:
                if stored[0] != fingerprint:
                    return _error(
                        400,
                        "Keys for idempotent requests can only be used with the "
                        "same parameters they were first used with. Try using a key "
                        f"other than '{key}' if you meant to execute a different "
                        "request.",
                        type="idempotency_error",
                    )
                status, doc, extra = stored[1]
                return status, doc, {**extra, "Idempotent-Replayed": "true"}
            reply = self._route(acct, method, url.path, params)
            if reply[0] < 500:  # Stripe saves the result once the endpoint has run
                self._idempotent[(acct.id, key)] = (fingerprint, copy.deepcopy(reply))
            return reply
        return self._route(acct, method, url.path, params)

    def _authenticate(self, header: str) -> StripeAccount | Reply:
        scheme, _, value = header.partition(" ")
        key = ""
        if scheme.lower() == "bearer":
            key = value.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(value).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
        if not key:
            return _error(
                401,
                "You did not provide an API key. You need to provide your API "
                "key in the Authorization header, using Bearer auth (e.g. "
                "'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        acct = self.accounts.get(key)
        if acct is None:
            shown = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]
            status, doc, _ = _error(401, f"Invalid API Key provided: {shown}")
            return status, doc, {"WWW-Authenticate": 'Basic realm="Stripe"'}
        return acct

    def _mine(self, table: dict[str, dict[str, Any]], ident: str, acct: StripeAccount) -> Any:
        obj = table.get(ident)
        return obj if obj is not None and self._owner.get(ident) == acct.id else None

    def _route(self, acct: StripeAccount, method: str, path: str, p: dict[str, Any]) -> Reply:
        parts = [unquote(s) for s in path.strip("/").split("/")]
        match (method, parts):
            case ("POST", ["v1", "payment_intents"]):
                return self._create_intent(acct, p)
            case ("GET", ["v1", "payment_intents", ident]):
                pi = self._mine(self.intents, ident, acct)
                return (200, pi, {}) if pi else _missing("payment_intent", ident, "intent")
            case ("POST", ["v1", "payment_intents", ident, "cancel"]):
                return self._cancel(acct, ident, p)
            case ("POST", ["v1", "refunds"]):
                return self._create_refund(acct, p)
            case ("GET", ["v1", "refunds", ident]):
                re = self._mine(self.refunds, ident, acct)
                return (200, re, {}) if re else _missing("refund", ident, "id")
            case ("GET", ["v1", "charges", ident]):
                ch = self._mine(self.charges, ident, acct)
                return (200, ch, {}) if ch else _missing("charge", ident, "id")
            case ("GET", ["v1", "events", ident]):
                evt = next((e for e in self.events if e["id"] == ident), None)
                ok = evt is not None and self._owner.get(ident) == acct.id
                return (200, evt, {}) if ok else _missing("event", ident, "id")
        return _error(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    def _create_intent(self, acct: StripeAccount, p: dict[str, Any]) -> Reply:
        raw_amount = p.get("amount")
        if raw_amount is None:
            return _error(
                400, "Missing required param: amount.", param="amount", code="parameter_missing"
            )
        if not str(raw_amount).isdigit() or int(raw_amount) < 1:
            return _error(
                400,
                f"Invalid integer: {raw_amount}",
                param="amount",
                code="parameter_invalid_integer",
            )
        currency = str(p.get("currency", ""))
        if len(currency) != 3 or not currency.isalpha():
            return _error(
                400,
                f"Invalid currency: {currency.lower()}.",
                param="currency",
                code="parameter_missing" if not currency else "invalid_currency",
            )
        metadata = {k: v for k, v in (p.get("metadata") or {}).items() if v != ""}
        automatic = p.get("automatic_payment_methods") or {}
        pid = new_id("pi_")
        pi: dict[str, Any] = {
            "id": pid,
            "object": "payment_intent",
            "amount": int(raw_amount),
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": {"allow_redirects": "always", "enabled": True}
            if automatic.get("enabled") == "true"
            else None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic_async",
            "client_secret": f"{pid}_secret_{new_id('', 25)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency.lower(),
            "customer": None,
            "description": p.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata,
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_options": {},
            "payment_method_types": ["card"],
            "processing": None,
            "receipt_email": p.get("receipt_email"),
            "setup_future_usage": None,
            "shipping": None,
            "statement_descriptor": None,
            "status": "requires_payment_method",
            "transfer_data": None,
        }
        self.intents[pid] = pi
        self._owner[pid] = acct.id
        self._record_event("payment_intent.created", pi)
        return 200, copy.deepcopy(pi), {}

    def _cancel(self, acct: StripeAccount, ident: str, p: dict[str, Any]) -> Reply:
        pi = self._mine(self.intents, ident, acct)
        if pi is None:
            return _missing("payment_intent", ident, "intent")
        if pi["status"] not in CANCELABLE:
            return _error(
                400,
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{pi['status']}. Only a PaymentIntent with one of the following "
                f"statuses may be canceled: {', '.join(sorted(CANCELABLE))}.",
                code="payment_intent_unexpected_state",
                payment_intent=copy.deepcopy(pi),
            )
        pi.update(
            status="canceled",
            canceled_at=int(time.time()),
            cancellation_reason=p.get("cancellation_reason"),
        )
        self._record_event("payment_intent.canceled", pi)
        return 200, copy.deepcopy(pi), {}

    def _create_refund(self, acct: StripeAccount, p: dict[str, Any]) -> Reply:
        if p.get("reason") and p["reason"] not in REFUND_REASONS:
            return _error(
                400,
                f"Invalid reason: must be one of {', '.join(sorted(REFUND_REASONS))}",
                param="reason",
                code="parameter_invalid_string",
            )
        if "payment_intent" in p:
            pi = self._mine(self.intents, p["payment_intent"], acct)
            if pi is None:
                return _missing("payment_intent", p["payment_intent"], "payment_intent")
            charge = self.charges.get(pi["latest_charge"] or "")
        elif "charge" in p:
            charge = self._mine(self.charges, p["charge"], acct)
            if charge is None:
                return _missing("charge", p["charge"], "charge")
        else:
            return _error(
                400,
                "One of the following params should be provided for this "
                "request: payment_intent or charge.",
            )
        if charge is None or charge["status"] != "succeeded":
            return _error(
                400,
                "This PaymentIntent does not have a successful charge to refund.",
                param="payment_intent",
            )
        left = charge["amount_captured"] - charge["amount_refunded"]
        if left <= 0:
            return _error(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        raw_amount = p.get("amount", str(left))
        if not str(raw_amount).isdigit() or int(raw_amount) < 1:
            return _error(
                400,
                f"Invalid positive integer: {raw_amount}",
                param="amount",
                code="parameter_invalid_integer",
            )
        amount = int(raw_amount)
        if amount > left:
            return _error(
                400,
                f"Refund amount ({_money(amount, charge['currency'])}) is greater "
                "than unrefunded amount on charge "
                f"({_money(left, charge['currency'])})",
                param="amount",
            )
        refund = {
            "id": new_id("re_"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": new_id("txn_"),
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": charge["currency"],
            "destination_details": {
                "card": {"reference_status": "pending", "type": "refund"},
                "type": "card",
            },
            "metadata": {k: v for k, v in (p.get("metadata") or {}).items() if v != ""},
            "payment_intent": charge["payment_intent"],
            "reason": p.get("reason"),
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": self.refund_status,
            "transfer_reversal": None,
        }
        self.refunds[refund["id"]] = refund
        self._owner[refund["id"]] = acct.id
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        if refund["status"] in LIVE_REFUND:
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        self._record_event("refund.created", refund)
        evt = self._record_event("charge.refunded", charge)
        evt["data"]["previous_attributes"] = previous
        return 200, copy.deepcopy(refund), {}


@contextmanager
def running_stripe_fake(*, refund_status: str = "succeeded") -> Iterator[StripeFake]:
    """A started StripeFake on 127.0.0.1:<free port>; stopped on exit."""
    fake = StripeFake(refund_status=refund_status).start()
    try:
        yield fake
    finally:
        fake.stop()
