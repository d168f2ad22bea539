"""The Razorpay adapter through the official SDK against a local, protocol-faithful Razorpay
fake (tests/fakes/razorpay_server.py): orders, refunds, webhook signatures and events, errors."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.fakes.razorpay_server import RazorpayFake, running_razorpay_fake
from tests.fakes.signing import razorpay_signature
from tos.payments.providers import razorpay as razorpay_module
from tos.payments.providers.base import (
    Credentials,
    Event,
    EventKind,
    IntentRequest,
    ProviderError,
    RefundRequest,
    SignatureInvalid,
)
from tos.payments.providers.razorpay import RazorpayProvider

PROVIDER = RazorpayProvider(timeout=5)


@pytest.fixture(scope="module")
def razorpay_fake() -> Iterator[RazorpayFake]:
    with running_razorpay_fake() as fake:
        yield fake


@pytest.fixture
def creds(razorpay_fake: RazorpayFake) -> Credentials:
    return razorpay_fake.creds()


def intent_request(amount: int = 50_000, currency: str = "INR", **kw: str) -> IntentRequest:
    values = {
        "payment_id": str(uuid.uuid4()),
        "booking_id": str(uuid.uuid4()),
        "booking_reference": "TOS-" + uuid.uuid4().hex[:6].upper(),
        **kw,
    }
    return IntentRequest(
        amount=amount,
        currency=currency,
        customer_email="ana@example.com",
        description="Houseboat, 2 adults",
        **values,
    )


def refund_request(
    order_id: str, amount: int, refund_id: str | None = None, charge_ref: str | None = None
) -> RefundRequest:
    return RefundRequest(
        refund_id=refund_id or str(uuid.uuid4()),
        provider_ref=order_id,
        charge_ref=charge_ref,
        amount=amount,
        currency="INR",
    )


def paid_order(fake: RazorpayFake, creds: Credentials, amount: int = 50_000) -> tuple[str, Event]:
    order_id = PROVIDER.create_intent(creds, intent_request(amount)).provider_ref
    body, headers = fake.succeed(order_id)
    PROVIDER.verify_webhook(creds, body, headers)
    return order_id, PROVIDER.parse_event(body, headers=headers)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- orders ----------------------------------------------------------------------------------


def test_module_instance() -> None:
    assert razorpay_module.provider.name == "razorpay"
    assert isinstance(razorpay_module.provider, RazorpayProvider)


def test_order_pay_webhook_round_trip(razorpay_fake: RazorpayFake, creds: Credentials) -> None:
    req = intent_request(amount=123_400, currency="inr")
    intent = PROVIDER.create_intent(creds, req)

    order_id = intent.provider_ref
    assert order_id.startswith("order_") and intent.status == "requires_action"
    assert intent.client_payload == {
        "provider": "razorpay",
        "orderId": order_id,
        "keyId": creds.key_id,
        "amount": 123_400,
        "currency": "INR",
    }
    order = razorpay_fake.orders[order_id]
    assert (order["amount"], order["currency"], order["receipt"]) == (
        123_400,
        "INR",
        req.booking_reference,
    )
    assert order["notes"] == {"payment_id": req.payment_id, "booking_id": req.booking_id}

    state = PROVIDER.retrieve(creds, order_id)
    assert (state.status, state.amount_captured, state.charge_ref) == ("requires_action", 0, None)

    body, headers = razorpay_fake.succeed(order_id)
    PROVIDER.verify_webhook(creds, body, headers)
    event = PROVIDER.parse_event(body, headers=headers)
    (pay,) = razorpay_fake.payments_for(order_id)
    assert event.kind is EventKind.PAYMENT_SUCCEEDED and event.event_type == "payment.captured"
    assert event.event_id == headers["X-Razorpay-Event-Id"]  # not in the body: the header's
    assert (event.provider_ref, event.payment_id, event.charge_ref) == (
        order_id,
        req.payment_id,
        pay["id"],
    )
    assert (event.amount, event.currency) == (123_400, "INR")

    # Razorpay also sends order.paid: the same payment, another event
    body, headers = razorpay_fake.event("order.paid", order_id)
    PROVIDER.verify_webhook(creds, body, headers)
    paid = PROVIDER.parse_event(body, headers=headers)
    assert (paid.kind, paid.provider_ref, paid.payment_id, paid.charge_ref, paid.amount) == (
        EventKind.PAYMENT_SUCCEEDED,
        order_id,
        req.payment_id,
        pay["id"],
        123_400,
    )
    assert paid.event_id != event.event_id

    state = PROVIDER.retrieve(creds, order_id)
    assert (state.status, state.amount_captured, state.charge_ref) == (
        "succeeded",
        123_400,
        pay["id"],
    )


def test_create_is_idempotent_by_payment_id(
    razorpay_fake: RazorpayFake, creds: Credentials
) -> None:
    req = intent_request()
    first = PROVIDER.create_intent(creds, req)
    again = PROVIDER.create_intent(creds, req)
    assert again == first
    same_receipt = [
        o for o in razorpay_fake.orders.values() if o["receipt"] == req.booking_reference
    ]
    assert len(same_receipt) == 1

    # another payment for the same booking (a balance after a deposit): another order
    balance = intent_request(
        payment_id=str(uuid.uuid4()),
        booking_id=req.booking_id,
        booking_reference=req.booking_reference,
    )
    assert PROVIDER.create_intent(creds, balance).provider_ref != first.provider_ref

    with pytest.raises(ProviderError) as err:  # the same payment id with another amount
        PROVIDER.create_intent(
            creds,
            intent_request(
                amount=1000,
                payment_id=req.payment_id,
                booking_id=req.booking_id,
                booking_reference=req.booking_reference,
            ),
        )
    assert err.value.retryable is False


def test_long_booking_reference_is_cut_to_razorpay_limit(
    razorpay_fake: RazorpayFake, creds: Credentials
) -> None:
    req = intent_request(booking_reference="R" * 60)
    order_id = PROVIDER.create_intent(creds, req).provider_ref
    assert razorpay_fake.orders[order_id]["receipt"] == "R" * 40
    assert PROVIDER.create_intent(creds, req).provider_ref == order_id


def test_invalid_request_is_not_retryable(creds: Credentials) -> None:
    with pytest.raises(ProviderError) as err:
        PROVIDER.create_intent(creds, intent_request(amount=50))  # below INR 1.00
    assert err.value.retryable is False
    assert "atleast" in str(err.value)


def test_failed_attempt_then_success(razorpay_fake: RazorpayFake, creds: Credentials) -> None:
    req = intent_request()
    order_id = PROVIDER.create_intent(creds, req).provider_ref
    body, headers = razorpay_fake.fail(order_id, description="Your card was declined.")
    PROVIDER.verify_webhook(creds, body, headers)
    event = PROVIDER.parse_event(body, headers=headers)
    assert event.kind is EventKind.PAYMENT_FAILED
    assert (event.provider_ref, event.payment_id) == (order_id, req.payment_id)
    assert event.failure_reason == "Your card was declined."
    assert PROVIDER.retrieve(creds, order_id).status == "failed"

    razorpay_fake.succeed(order_id)  # the customer tries again in Checkout
    state = PROVIDER.retrieve(creds, order_id)
    assert (state.status, state.amount_captured) == ("succeeded", 50_000)


def test_cancel_is_a_no_op(razorpay_fake: RazorpayFake, creds: Credentials) -> None:
    order_id = PROVIDER.create_intent(creds, intent_request()).provider_ref
    before = len(razorpay_fake.request_log)
    PROVIDER.cancel(creds, order_id)
    assert len(razorpay_fake.request_log) == before  # Razorpay has no order cancellation
    assert razorpay_fake.orders[order_id]["status"] == "created"


def test_unknown_order_is_not_retryable(creds: Credentials) -> None:
    with pytest.raises(ProviderError) as err:
        PROVIDER.retrieve(creds, "order_doesnotexist")
    assert err.value.retryable is False


# --- refunds ---------------------------------------------------------------------------------


def test_partial_then_full_refund(razorpay_fake: RazorpayFake, creds: Credentials) -> None:
    order_id, paid = paid_order(razorpay_fake, creds, amount=50_000)
    assert paid.charge_ref is not None
    first = PROVIDER.refund(creds, refund_request(order_id, 15_000, charge_ref=paid.charge_ref))
    assert first.status == "succeeded" and first.provider_refund_ref.startswith("rfnd_")
    refund = razorpay_fake.refunds[first.provider_refund_ref]
    assert (refund["amount"], refund["payment_id"]) == (15_000, paid.charge_ref)
    assert razorpay_fake.net(order_id) == 35_000
    assert razorpay_fake.payments[paid.charge_ref]["refund_status"] == "partial"

    rest = PROVIDER.refund(creds, refund_request(order_id, 35_000))  # payment looked up
    assert rest.status == "succeeded"
    assert (razorpay_fake.captured(order_id), razorpay_fake.refunded(order_id)) == (50_000, 50_000)
    assert razorpay_fake.payments[paid.charge_ref]["status"] == "refunded"
    assert PROVIDER.retrieve(creds, order_id).status == "succeeded"  # it was paid all the same

    with pytest.raises(ProviderError) as err:
        PROVIDER.refund(creds, refund_request(order_id, 100, charge_ref=paid.charge_ref))
    assert err.value.retryable is False


def test_refund_beyond_capture_is_refused(razorpay_fake: RazorpayFake, creds: Credentials) -> None:
    order_id, paid = paid_order(razorpay_fake, creds, amount=50_000)
    with pytest.raises(ProviderError) as err:
        PROVIDER.refund(creds, refund_request(order_id, 50_001, charge_ref=paid.charge_ref))
    assert err.value.retryable is False
    assert razorpay_fake.refunds_for(order_id) == []

    unpaid = PROVIDER.create_intent(creds, intent_request()).provider_ref
    with pytest.raises(ProviderError) as err:
        PROVIDER.refund(creds, refund_request(unpaid, 100))
    assert err.value.retryable is False


def test_refund_is_idempotent_by_refund_id(razorpay_fake: RazorpayFake, creds: Credentials) -> None:
    order_id, paid = paid_order(razorpay_fake, creds, amount=50_000)
    req = RefundRequest(
        str(uuid.uuid4()), order_id, paid.charge_ref, 20_000, "INR", reason="tour cancelled"
    )
    first = PROVIDER.refund(creds, req)
    again = PROVIDER.refund(creds, req)  # e.g. the outbox retrying after a lost answer
    assert again == first
    assert len(razorpay_fake.refunds_for(order_id)) == 1
    assert razorpay_fake.net(order_id) == 30_000

    refund = razorpay_fake.refunds[first.provider_refund_ref]
    assert refund["receipt"] == req.refund_id
    assert refund["notes"] == {"refund_id": req.refund_id, "reason": "tour cancelled"}
    keys = [
        r["idempotency_key"] for r in razorpay_fake.request_log if r["path"].endswith("/refund")
    ]
    assert keys[-2:] == [req.refund_id, req.refund_id]


def test_short_refund_ids_get_a_valid_idempotency_key(
    razorpay_fake: RazorpayFake, creds: Credentials
) -> None:
    order_id, paid = paid_order(razorpay_fake, creds)
    req = refund_request(order_id, 1000, refund_id="r1", charge_ref=paid.charge_ref)
    assert PROVIDER.refund(creds, req) == PROVIDER.refund(creds, req)
    assert len(razorpay_fake.refunds_for(order_id)) == 1


def test_pending_refund_settles_by_webhook(razorpay_fake: RazorpayFake, creds: Credentials) -> None:
    order_id, paid = paid_order(razorpay_fake, creds, amount=50_000)
    razorpay_fake.refund_status = "pending"
    try:
        ok = PROVIDER.refund(creds, refund_request(order_id, 1000, refund_id="ok-" + order_id))
        bad = PROVIDER.refund(creds, refund_request(order_id, 2000, refund_id="bad-" + order_id))
    finally:
        razorpay_fake.refund_status = "processed"
    assert (ok.status, bad.status) == ("pending", "pending")
    created = razorpay_fake.signed(razorpay_fake.events_of_type("refund.created")[-1])[0]
    assert PROVIDER.parse_event(created).kind is EventKind.IGNORED  # not settled yet

    body, headers = razorpay_fake.set_refund_status(ok.provider_refund_ref, "processed")
    PROVIDER.verify_webhook(creds, body, headers)
    event = PROVIDER.parse_event(body, headers=headers)
    assert event.kind is EventKind.REFUND_SUCCEEDED and event.event_type == "refund.processed"
    assert (event.refund_ref, event.refund_id) == (ok.provider_refund_ref, "ok-" + order_id)
    assert (event.provider_ref, event.charge_ref) == (order_id, paid.charge_ref)
    assert (event.amount, event.currency) == (1000, "INR")

    body, headers = razorpay_fake.set_refund_status(bad.provider_refund_ref, "failed")
    event = PROVIDER.parse_event(body, headers=headers)
    assert event.kind is EventKind.REFUND_FAILED
    assert (event.refund_ref, event.refund_id) == (bad.provider_refund_ref, "bad-" + order_id)
    assert razorpay_fake.net(order_id) == 49_000  # the failed refund's money stayed


# --- webhook signatures ----------------------------------------------------------------------


@pytest.fixture
def signed_event(razorpay_fake: RazorpayFake, creds: Credentials) -> tuple[bytes, dict[str, str]]:
    order_id = PROVIDER.create_intent(creds, intent_request()).provider_ref
    return razorpay_fake.succeed(order_id)


def test_signature_accepts_any_case_of_header(creds: Credentials, signed_event) -> None:
    body, headers = signed_event
    PROVIDER.verify_webhook(creds, body, headers)
    PROVIDER.verify_webhook(creds, body, {k.lower(): v for k, v in headers.items()})
    PROVIDER.verify_webhook(creds, body, {k.upper(): v for k, v in headers.items()})


def test_tampered_body_is_refused(creds: Credentials, signed_event) -> None:
    body, headers = signed_event
    tampered = body.replace(b'"amount": 50000', b'"amount": 99999', 1)
    assert tampered != body
    with pytest.raises(SignatureInvalid):
        PROVIDER.verify_webhook(creds, tampered, headers)


def test_wrong_secret_is_refused(creds: Credentials, signed_event) -> None:
    body, headers = signed_event
    other = Credentials(creds.secret_key, creds.key_id, "someone-elses-secret", creds.api_base)
    with pytest.raises(SignatureInvalid):
        PROVIDER.verify_webhook(other, body, headers)
    with pytest.raises(SignatureInvalid):  # no secret configured: never accept
        PROVIDER.verify_webhook(Credentials(creds.secret_key, creds.key_id), body, headers)
    with pytest.raises(SignatureInvalid):  # signed with the API key secret instead
        forged = {"X-Razorpay-Signature": razorpay_signature(body, creds.secret_key)}
        PROVIDER.verify_webhook(creds, body, forged)


@pytest.mark.parametrize("value", [None, "", "not-hex", "0" * 64, "é" * 64])
def test_missing_or_garbled_header_is_refused(creds: Credentials, signed_event, value) -> None:
    body, _ = signed_event
    headers = {} if value is None else {"X-Razorpay-Signature": value}
    with pytest.raises(SignatureInvalid):
        PROVIDER.verify_webhook(creds, body, headers)


def test_signature_helper_matches_razorpay_sdk(creds: Credentials, signed_event) -> None:
    """The fake signs exactly as Razorpay does: the official SDK's verifier accepts it."""
    import razorpay

    body, headers = signed_event
    client = razorpay.Client(auth=(creds.key_id, creds.secret_key))
    assert client.utility.verify_webhook_signature(
        body.decode(), headers["X-Razorpay-Signature"], creds.webhook_secret
    )


# --- errors ----------------------------------------------------------------------------------


def test_wrong_api_key_is_not_retryable(razorpay_fake: RazorpayFake, creds: Credentials) -> None:
    wrong_secret = "w" * 24
    for wrong in (
        Credentials(wrong_secret, creds.key_id, "", razorpay_fake.url),
        Credentials(wrong_secret, "rzp_test_unknown", "", razorpay_fake.url),
    ):
        with pytest.raises(ProviderError) as err:
            PROVIDER.create_intent(wrong, intent_request())
        assert err.value.retryable is False
        assert wrong_secret not in str(err.value)
        assert err.value.__cause__ is None and err.value.__suppress_context__


def test_server_down_is_retryable() -> None:
    down = Credentials("secret", "rzp_test_abc", "whsec", f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ProviderError) as err:
        PROVIDER.create_intent(down, intent_request())
    assert err.value.retryable is True
    with pytest.raises(ProviderError) as err:
        PROVIDER.refund(down, refund_request("order_x", 100, charge_ref="pay_x"))
    assert err.value.retryable is True


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_rate_limits_are_retryable(
    razorpay_fake: RazorpayFake, creds: Credentials, status: int
) -> None:
    razorpay_fake.inject_error(status)
    with pytest.raises(ProviderError) as err:
        PROVIDER.create_intent(creds, intent_request())
    assert err.value.retryable is True


def test_accounts_are_kept_apart(razorpay_fake: RazorpayFake) -> None:
    a, b = razorpay_fake.creds(), razorpay_fake.creds(razorpay_fake.add_account())
    order_a = PROVIDER.create_intent(a, intent_request()).provider_ref
    order_b = PROVIDER.create_intent(b, intent_request()).provider_ref
    assert PROVIDER.retrieve(b, order_b).status == "requires_action"
    with pytest.raises(ProviderError) as err:  # Razorpay: the id provided does not exist
        PROVIDER.retrieve(b, order_a)
    assert err.value.retryable is False
    body, headers = razorpay_fake.succeed(order_b)  # signed with b's webhook secret
    PROVIDER.verify_webhook(b, body, headers)
    with pytest.raises(SignatureInvalid):
        PROVIDER.verify_webhook(a, body, headers)


# --- events ----------------------------------------------------------------------------------


def test_parse_dispute(razorpay_fake: RazorpayFake, creds: Credentials) -> None:
    order_id, paid = paid_order(razorpay_fake, creds, amount=50_000)
    body, headers = razorpay_fake.dispute(order_id)
    PROVIDER.verify_webhook(creds, body, headers)
    event = PROVIDER.parse_event(body, headers=headers)
    assert event.kind is EventKind.DISPUTE_CREATED
    assert (event.provider_ref, event.payment_id, event.charge_ref) == (
        order_id,
        paid.payment_id,
        paid.charge_ref,
    )
    assert (event.amount, event.currency, event.failure_reason) == (50_000, "INR", "chargeback")


def test_event_id_without_the_header(razorpay_fake: RazorpayFake, creds: Credentials) -> None:
    """A stored event parsed again (no headers): an id from the event and its entity, the
    same for every delivery of it."""
    order_id, paid = paid_order(razorpay_fake, creds)
    captured = razorpay_fake.events_of_type("payment.captured")[-1]
    body = json.dumps(captured).encode()
    assert PROVIDER.parse_event(body).event_id == f"payment.captured:{paid.charge_ref}"
    assert PROVIDER.parse_event(body, headers={}).event_id == f"payment.captured:{paid.charge_ref}"
    order_paid = json.dumps(razorpay_fake.events_of_type("order.paid")[-1]).encode()
    assert PROVIDER.parse_event(order_paid).event_id == f"order.paid:{order_id}"
    refund = PROVIDER.refund(creds, refund_request(order_id, 500, charge_ref=paid.charge_ref))
    processed = json.dumps(razorpay_fake.events_of_type("refund.processed")[-1]).encode()
    event = PROVIDER.parse_event(processed)
    assert event.event_id == f"refund.processed:{refund.provider_refund_ref}"
    assert (event.kind, event.refund_ref) == (
        EventKind.REFUND_SUCCEEDED,
        refund.provider_refund_ref,
    )


def test_parse_ignored_and_malformed_events(
    razorpay_fake: RazorpayFake, creds: Credentials
) -> None:
    paid_order(razorpay_fake, creds)
    authorized = razorpay_fake.signed(razorpay_fake.events_of_type("payment.authorized")[-1])
    event = PROVIDER.parse_event(authorized[0], headers=authorized[1])
    assert event.kind is EventKind.IGNORED and event.event_type == "payment.authorized"
    assert event.provider_ref and event.charge_ref  # still says which payment it is about

    other = {
        "entity": "event",
        "event": "settlement.processed",
        "contains": ["settlement"],
        "payload": {"settlement": {"entity": {"id": "setl_1", "entity": "settlement"}}},
        "created_at": 1,
    }
    event = PROVIDER.parse_event(json.dumps(other).encode())
    assert event.kind is EventKind.IGNORED and event.event_id.startswith("settlement.processed:")

    for bad in (
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"event": "payment.captured"}',
        b'{"payload": {}}',
        b'{"event": 1, "payload": {}}',
    ):
        with pytest.raises(ValueError):
            PROVIDER.parse_event(bad)


# --- the provider's records against what the adapter reported --------------------------------

# A refund's amount: absolute, or relative to what is left, so that refunds often reach the edge
# (Razorpay refunds at least INR 1.00, so small amounts are refused too)
AMOUNTS = st.one_of(st.integers(1, 50_000), st.sampled_from(["third", "half", "rest", "over"]))


def refund_amount(spec: int | str, left: int) -> int:
    if isinstance(spec, int):
        return spec
    relative = {"third": left // 3, "half": left // 2, "rest": left, "over": left + 1}
    return max(relative[spec], 1)


class RazorpayLedger(RuleBasedStateMachine):
    """Random sequences of orders, payments, refunds and retried refunds: Razorpay's captured
    minus refunded stays what the adapter reported (payment webhooks, refund results)."""

    def __init__(self, fake: RazorpayFake) -> None:
        super().__init__()
        self.fake, self.creds = fake, fake.creds()
        self.made: list[str] = []
        self.captured: dict[str, int] = {}  # order -> amount, from the payment webhooks
        self.charges: dict[str, str] = {}  # order -> pay_ id, from the payment webhooks
        self.refunded: dict[str, int] = {}  # from the refund results
        self.refunds: dict[str, tuple[str, int, str]] = {}  # refund id -> (order, amount, ref)

    def unpaid(self) -> list[str]:
        return [o for o in self.made if o not in self.captured]

    @initialize(
        start=st.lists(st.tuples(st.integers(100, 200_000), st.booleans()), min_size=1, max_size=3)
    )
    def start(self, start: list[tuple[int, bool]]) -> None:
        for amount, paid in start:
            self.create(amount)
            if paid:
                self._pay(self.made[-1])

    @rule(amount=st.integers(100, 200_000))
    def create(self, amount: int) -> None:
        self.made.append(PROVIDER.create_intent(self.creds, intent_request(amount)).provider_ref)

    @precondition(lambda self: self.unpaid())
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        self._pay(data.draw(st.sampled_from(self.unpaid())))

    def _pay(self, order_id: str) -> None:
        body, headers = self.fake.succeed(order_id)
        PROVIDER.verify_webhook(self.creds, body, headers)
        event = PROVIDER.parse_event(body, headers=headers)
        self.captured[order_id] = event.amount or 0
        self.charges[order_id] = event.charge_ref or ""

    @precondition(lambda self: self.captured)
    @rule(data=st.data(), spec=AMOUNTS, with_charge=st.booleans())
    def refund(self, data: st.DataObject, spec: int | str, with_charge: bool) -> None:
        self._refund(data.draw(st.sampled_from(list(self.captured))), spec, with_charge)

    @precondition(lambda self: self.unpaid())
    @rule(data=st.data(), spec=AMOUNTS)
    def refund_unpaid(self, data: st.DataObject, spec: int | str) -> None:
        self._refund(data.draw(st.sampled_from(self.unpaid())), spec, with_charge=False)

    def _refund(self, order_id: str, spec: int | str, with_charge: bool) -> None:
        left = self.captured.get(order_id, 0) - self.refunded.get(order_id, 0)
        amount, refund_id = refund_amount(spec, left), str(uuid.uuid4())
        charge = self.charges.get(order_id) if with_charge else None
        before = self.fake.net(order_id)
        try:
            result = PROVIDER.refund(
                self.creds, refund_request(order_id, amount, refund_id, charge)
            )
        except ProviderError as exc:
            assert not exc.retryable
            assert amount > left or amount < 100, "a refund within what was captured was refused"
            assert self.fake.net(order_id) == before
            return
        assert 100 <= amount <= left and result.status == "succeeded"
        self.refunds[refund_id] = (order_id, amount, result.provider_refund_ref)
        self.refunded[order_id] = self.refunded.get(order_id, 0) + amount

    @precondition(lambda self: self.refunds)
    @rule(data=st.data())
    def retry_refund(self, data: st.DataObject) -> None:
        """The same refund id again (the outbox after a lost answer): the same refund."""
        refund_id = data.draw(st.sampled_from(list(self.refunds)))
        order_id, amount, ref = self.refunds[refund_id]
        again = PROVIDER.refund(self.creds, refund_request(order_id, amount, refund_id))
        assert again.provider_refund_ref == ref

    @invariant()
    def provider_matches_adapter(self) -> None:
        for order_id in self.made:
            reported = self.captured.get(order_id, 0) - self.refunded.get(order_id, 0)
            assert self.fake.net(order_id) == reported
            count = sum(1 for r in self.refunds.values() if r[0] == order_id)
            assert len(self.fake.refunds_for(order_id)) == count


def test_provider_records_match_adapter_results(razorpay_fake: RazorpayFake) -> None:
    run_state_machine_as_test(
        lambda: RazorpayLedger(razorpay_fake),  # type: ignore[arg-type]  # a factory is fine
        settings=settings(max_examples=40, stateful_step_count=15, deadline=None),
    )
