"""TOS's own test provider: the whole payment flow offline, behaving like a real provider.

An intent is a SandboxCharge (the sandbox's own records, apart from TOS's ledger) paid on the
hosted checkout page /sandbox/checkout/{payment_id}; the page's pay and decline buttons make the
sandbox send a signed webhook back to TOS asynchronously, as a real provider would.

Webhook signing: `X-Payment-Timestamp: <unix seconds>` and `X-Payment-Signature: <hex
HMAC-SHA256(secret, "<timestamp>." + raw body)>`; verified in constant time, within 300 s.
Events: {"id": "evt_…", "type": "payment.succeeded" | "payment.failed" | "refund.succeeded",
"data": {"payment_id", "charge_id", "amount", "currency", "refund_id"?, "failure_reason"?}}."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from tos.db.session import SessionFactory, build_engine, get_session_factory
from tos.payments.models import SandboxCharge
from tos.payments.providers.base import (
    Credentials,
    Event,
    EventKind,
    Intent,
    IntentRequest,
    PaymentState,
    ProviderError,
    RefundRequest,
    RefundResult,
    SignatureInvalid,
)

TOLERANCE_S = 300
KINDS = {
    "payment.succeeded": EventKind.PAYMENT_SUCCEEDED,
    "payment.failed": EventKind.PAYMENT_FAILED,
    "refund.succeeded": EventKind.REFUND_SUCCEEDED,
    "refund.failed": EventKind.REFUND_FAILED,
    "dispute.created": EventKind.DISPUTE_CREATED,
}


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers the sandbox sends with `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Payment-Timestamp": ts, "X-Payment-Signature": mac}


_RECORDS: dict[str, SessionFactory] = {}


def records(*, write: bool = True) -> Session:
    """A session on the sandbox's own records. It stands for a remote service, so it never
    joins TOS's transaction: on PostgreSQL it is another transaction on the same database; on
    SQLite, which has one writer at a time, a sibling file `<database>.sandbox` (TOS holds the
    main file's write lock while it calls a provider)."""
    main = get_session_factory()
    url = main.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return main(write=write)
    path = f"{url.database}.sandbox"
    factory = _RECORDS.get(path)
    if factory is None:
        factory = _RECORDS[path] = SessionFactory(build_engine(f"sqlite:///{path}"))
        SandboxCharge.__table__.create(factory.engine, checkfirst=True)
    return factory(write=write)


class SandboxProvider:
    """The sandbox keeps its records in its own table, through its own sessions: it stands for
    a remote service, so it never joins TOS's transaction."""

    name = "sandbox"

    def create_intent(self, creds: Credentials, req: IntentRequest) -> Intent:
        with records(write=True) as session:
            charge = session.scalar(
                select(SandboxCharge).where(SandboxCharge.payment_id == req.payment_id)
            )
            if charge is None:  # idempotent by TOS's payment id, like a provider's key
                charge = SandboxCharge(id="sbx_" + req.payment_id.replace("-", ""),
                                       payment_id=req.payment_id, amount=req.amount,
                                       currency=req.currency)  # fmt: skip
                session.add(charge)
                session.commit()
            ref = charge.id
        url = f"{creds.api_base.rstrip('/')}/sandbox/checkout/{req.payment_id}"
        return Intent(ref, "requires_action",
                      {"provider": "sandbox", "chargeId": ref, "checkoutUrl": url})  # fmt: skip

    def retrieve(self, creds: Credentials, provider_ref: str) -> PaymentState:
        with records(write=False) as session:
            charge = session.scalar(select(SandboxCharge).where(SandboxCharge.id == provider_ref))
            if charge is None:
                raise ProviderError(f"no sandbox charge {provider_ref}", retryable=False)
            captured = charge.amount if charge.status == "succeeded" else 0
            return PaymentState(charge.status, captured, charge.id)

    def cancel(self, creds: Credentials, provider_ref: str) -> None:
        with records(write=True) as session:
            charge = session.scalar(
                select(SandboxCharge).where(SandboxCharge.id == provider_ref).with_for_update()
            )
            if charge is not None and charge.status == "requires_action":
                charge.status = "cancelled"
                session.commit()

    def refund(self, creds: Credentials, req: RefundRequest) -> RefundResult:
        ref = "sbr_" + req.refund_id.replace("-", "")
        with records(write=True) as session:
            charge = session.scalar(
                select(SandboxCharge).where(SandboxCharge.id == req.provider_ref).with_for_update()
            )
            if charge is None or charge.status != "succeeded":
                raise ProviderError("nothing captured to refund", retryable=False)
            if req.refund_id in charge.refund_ids:  # the same idempotency key: the same refund
                return RefundResult(ref, "succeeded")
            if charge.refunded + req.amount > charge.amount:
                raise ProviderError("refund exceeds the captured amount", retryable=False)
            charge.refunded += req.amount
            charge.refund_ids = [*charge.refund_ids, req.refund_id]
            session.commit()
        return RefundResult(ref, "succeeded")

    def verify_webhook(self, creds: Credentials, body: bytes, headers: Mapping[str, str]) -> None:
        ts = headers.get("x-payment-timestamp", "")
        given = headers.get("x-payment-signature", "")
        if not ts.isdigit() or not given or not creds.webhook_secret:
            raise SignatureInvalid("missing sandbox signature")
        expected = sign(creds.webhook_secret, body, int(ts))["X-Payment-Signature"]
        if not hmac.compare_digest(expected, given):
            raise SignatureInvalid("bad sandbox signature")
        if abs(time.time() - int(ts)) > TOLERANCE_S:
            raise SignatureInvalid("stale sandbox signature")

    def parse_event(self, body: bytes, headers: Mapping[str, str] | None = None) -> Event:
        doc = json.loads(body)
        data = doc["data"]
        return Event(
            event_id=str(doc["id"]),
            event_type=str(doc["type"]),
            kind=KINDS.get(doc["type"], EventKind.IGNORED),
            provider_ref=data.get("charge_id"),
            payment_id=data.get("payment_id"),
            refund_id=data.get("refund_id"),
            refund_ref=data.get("refund_ref"),
            charge_ref=data.get("charge_id"),
            amount=data.get("amount"),
            currency=data.get("currency"),
            failure_reason=data.get("failure_reason"),
        )


provider = SandboxProvider()
