"""What TOS needs of a payment provider, whatever its API: one Protocol, one adapter each
(stripe, razorpay, sandbox). Adapters speak the provider's documented protocol; they hold no
state of their own and never touch the database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class EventKind(StrEnum):
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    DISPUTE_CREATED = "dispute_created"
    IGNORED = "ignored"  # an event type TOS does not act on (acknowledged, stored)


class SignatureInvalid(Exception):
    """The webhook is not from the provider (bad or missing signature, stale timestamp)."""


class ProviderError(Exception):
    """The provider refused or could not be reached; `retryable` says whether to try again."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Credentials:
    """One account's secrets (an organization's, or the install-wide default)."""

    secret_key: str = ""  # Stripe secret key / Razorpay key secret / sandbox: unused
    key_id: str = ""  # Razorpay key id; Stripe publishable key (given to the browser)
    webhook_secret: str = ""
    api_base: str = ""  # only to point an adapter at a test server


@dataclass(frozen=True, slots=True)
class IntentRequest:
    payment_id: str  # TOS's id: the provider's idempotency key and metadata
    booking_id: str
    booking_reference: str
    amount: int  # minor units
    currency: str
    customer_email: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Intent:
    provider_ref: str  # pi_… / order_… / sbx_…
    status: str  # requires_action | succeeded | failed
    client_payload: dict[str, Any] = field(default_factory=dict)  # what the browser needs


@dataclass(frozen=True, slots=True)
class PaymentState:
    """What the provider's own records say of a payment (reconciliation, tests)."""

    status: str  # requires_action | succeeded | failed | cancelled
    amount_captured: int = 0
    charge_ref: str | None = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    refund_id: str  # TOS's ledger entry id: the provider's idempotency key
    provider_ref: str  # the payment's provider_ref
    charge_ref: str | None
    amount: int
    currency: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RefundResult:
    provider_refund_ref: str
    status: str  # succeeded | pending | failed


@dataclass(frozen=True, slots=True)
class Event:
    event_id: str
    event_type: str  # the provider's own name
    kind: EventKind
    provider_ref: str | None = None  # the payment (intent / order) it is about
    payment_id: str | None = None  # TOS's id, from the metadata / notes we sent
    refund_ref: str | None = None
    refund_id: str | None = None  # TOS's ledger entry id, when the provider echoes it
    charge_ref: str | None = None
    amount: int | None = None
    currency: str | None = None
    failure_reason: str | None = None


class Provider(Protocol):
    name: str

    def create_intent(self, creds: Credentials, req: IntentRequest) -> Intent: ...

    def retrieve(self, creds: Credentials, provider_ref: str) -> PaymentState: ...

    def cancel(self, creds: Credentials, provider_ref: str) -> None: ...

    def refund(self, creds: Credentials, req: RefundRequest) -> RefundResult: ...

    def verify_webhook(self, creds: Credentials, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise SignatureInvalid unless `body` (raw bytes) is signed with the account's
        webhook secret; constant-time comparison."""
        ...

    def parse_event(self, body: bytes) -> Event: ...
