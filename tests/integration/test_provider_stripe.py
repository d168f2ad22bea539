"""The Stripe adapter through the official SDK against a local, protocol-faithful Stripe fake
(tests/fakes/stripe_server.py): intents, refunds, webhook signatures and events, errors."""

from __future__ import annotations

import json
import socket
import time
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

from tests.fakes.signing import stripe_signature_header
from tests.fakes.stripe_server import StripeFake, running_stripe_fake
from tos.payments.providers import stripe as stripe_module
from tos.payments.providers.base import (
    Credentials,
    Event,
    EventKind,
    IntentRequest,
    ProviderError,
    RefundRequest,
    SignatureInvalid,
)
from tos.payments.providers.stripe import StripeProvider

# No SDK retries: a test of a failure sees it at once instead of after back-off sleeps.
PROVIDER = StripeProvider(max_network_retries=0, timeout=5)


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[StripeFake]:
    with running_stripe_fake() as fake:
        yield fake


@pytest.fixture
def creds(stripe_fake: StripeFake) -> Credentials:
    return stripe_fake.creds()


def intent_request(amount: int = 5000, currency: str = "EUR", **kw: str) -> IntentRequest:
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
        description="Kayak tour, 2 adults",
        **values,
    )


def refund_request(pi_id: str, amount: int, refund_id: str | None = None) -> RefundRequest:
    return RefundRequest(
        refund_id=refund_id or str(uuid.uuid4()),
        provider_ref=pi_id,
        charge_ref=None,
        amount=amount,
        currency="EUR",
    )


def paid_intent(fake: StripeFake, creds: Credentials, amount: int = 5000) -> tuple[str, Event]:
    intent = PROVIDER.create_intent(creds, intent_request(amount))
    body, headers = fake.succeed(intent.provider_ref)
    PROVIDER.verify_webhook(creds, body, headers)
    return intent.provider_ref, PROVIDER.parse_event(body, headers=headers)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- intents ---------------------------------------------------------------------------------


def test_module_instance() -> None:
    assert stripe_module.provider.name == "stripe"
    assert isinstance(stripe_module.provider, StripeProvider)


def test_intent_pay_webhook_round_trip(stripe_fake: StripeFake, creds: Credentials) -> None:
    req = intent_request(amount=12_345, currency="EUR")
    intent = PROVIDER.create_intent(creds, req)

    pi_id = intent.provider_ref
    assert pi_id.startswith("pi_") and intent.status == "requires_action"
    assert intent.client_payload == {
        "provider": "stripe",
        "clientSecret": stripe_fake.intents[pi_id]["client_secret"],
        "paymentIntentId": pi_id,
        "publishableKey": creds.key_id,
    }
    pi = stripe_fake.intents[pi_id]
    assert (pi["amount"], pi["currency"]) == (12_345, "eur")
    assert pi["metadata"] == {
        "payment_id": req.payment_id,
        "booking_id": req.booking_id,
        "booking_reference": req.booking_reference,
    }
    assert pi["automatic_payment_methods"]["enabled"] is True
    assert (pi["receipt_email"], pi["description"]) == (req.customer_email, req.description)

    state = PROVIDER.retrieve(creds, pi_id)
    assert (state.status, state.amount_captured, state.charge_ref) == ("requires_action", 0, None)

    body, headers = stripe_fake.succeed(pi_id)
    PROVIDER.verify_webhook(creds, body, headers)
    event = PROVIDER.parse_event(body, headers=headers)
    charge_id = stripe_fake.intents[pi_id]["latest_charge"]
    assert event.kind is EventKind.PAYMENT_SUCCEEDED
    assert event.event_id == json.loads(body)["id"] and event.event_id.startswith("evt_")
    assert (event.provider_ref, event.payment_id, event.charge_ref) == (
        pi_id,
        req.payment_id,
        charge_id,
    )
    assert (event.amount, event.currency) == (12_345, "EUR")

    state = PROVIDER.retrieve(creds, pi_id)
    assert (state.status, state.amount_captured, state.charge_ref) == (
        "succeeded",
        12_345,
        charge_id,
    )


def test_create_is_idempotent_by_payment_id(stripe_fake: StripeFake, creds: Credentials) -> None:
    req = intent_request()
    first = PROVIDER.create_intent(creds, req)
    again = PROVIDER.create_intent(creds, req)

    assert again == first
    mine = [
        i for i in stripe_fake.intents.values() if i["metadata"]["payment_id"] == req.payment_id
    ]
    assert len(mine) == 1
    keys = [r["idempotency_key"] for r in stripe_fake.request_log if r["method"] == "POST"]
    assert keys.count(req.payment_id) == 2


def test_same_payment_id_with_other_parameters_is_refused(creds: Credentials) -> None:
    req = intent_request(amount=5000)
    PROVIDER.create_intent(creds, req)
    with pytest.raises(ProviderError) as err:
        PROVIDER.create_intent(
            creds,
            intent_request(
                amount=6000,
                payment_id=req.payment_id,
                booking_id=req.booking_id,
                booking_reference=req.booking_reference,
            ),
        )
    assert err.value.retryable is False
    assert "idempotency" in str(err.value).lower()


def test_invalid_request_is_not_retryable(creds: Credentials) -> None:
    with pytest.raises(ProviderError) as err:
        PROVIDER.create_intent(creds, intent_request(amount=0))
    assert err.value.retryable is False


def test_declined_payment(stripe_fake: StripeFake, creds: Credentials) -> None:
    req = intent_request()
    pi_id = PROVIDER.create_intent(creds, req).provider_ref
    body, headers = stripe_fake.fail(pi_id, message="Your card has insufficient funds.")
    PROVIDER.verify_webhook(creds, body, headers)
    event = PROVIDER.parse_event(body, headers=headers)
    assert event.kind is EventKind.PAYMENT_FAILED
    assert (event.provider_ref, event.payment_id) == (pi_id, req.payment_id)
    assert event.failure_reason == "Your card has insufficient funds."
    assert PROVIDER.retrieve(creds, pi_id).status == "failed"
    # the customer tries another card
    stripe_fake.succeed(pi_id)
    assert PROVIDER.retrieve(creds, pi_id).status == "succeeded"


def test_cancel(stripe_fake: StripeFake, creds: Credentials) -> None:
    pi_id = PROVIDER.create_intent(creds, intent_request()).provider_ref
    PROVIDER.cancel(creds, pi_id)
    assert stripe_fake.intents[pi_id]["status"] == "canceled"
    assert PROVIDER.retrieve(creds, pi_id).status == "cancelled"
    PROVIDER.cancel(creds, pi_id)  # already cancelled: nothing to do

    paid, _ = paid_intent(stripe_fake, creds)
    with pytest.raises(ProviderError) as err:
        PROVIDER.cancel(creds, paid)
    assert err.value.retryable is False
    assert stripe_fake.intents[paid]["status"] == "succeeded"


def test_unknown_intent_is_not_retryable(creds: Credentials) -> None:
    with pytest.raises(ProviderError) as err:
        PROVIDER.retrieve(creds, "pi_doesnotexist")
    assert err.value.retryable is False


# --- refunds ---------------------------------------------------------------------------------


def test_partial_then_full_refund(stripe_fake: StripeFake, creds: Credentials) -> None:
    pi_id, _ = paid_intent(stripe_fake, creds, amount=5000)
    first = PROVIDER.refund(creds, refund_request(pi_id, 1500, refund_id="r-partial-" + pi_id))
    assert first.status == "succeeded" and first.provider_refund_ref.startswith("re_")
    refund = stripe_fake.refunds[first.provider_refund_ref]
    assert (refund["amount"], refund["payment_intent"]) == (1500, pi_id)
    assert refund["metadata"] == {"refund_id": "r-partial-" + pi_id}
    assert stripe_fake.net(pi_id) == 3500

    rest = PROVIDER.refund(creds, refund_request(pi_id, 3500))
    assert rest.status == "succeeded"
    assert (stripe_fake.captured(pi_id), stripe_fake.refunded(pi_id)) == (5000, 5000)

    with pytest.raises(ProviderError) as err:  # charge_already_refunded
        PROVIDER.refund(creds, refund_request(pi_id, 100))
    assert err.value.retryable is False
    assert "charge_already_refunded" in str(err.value)


def test_refund_beyond_capture_is_refused(stripe_fake: StripeFake, creds: Credentials) -> None:
    pi_id, _ = paid_intent(stripe_fake, creds, amount=5000)
    with pytest.raises(ProviderError) as err:
        PROVIDER.refund(creds, refund_request(pi_id, 5001))
    assert err.value.retryable is False
    assert stripe_fake.refunds_for(pi_id) == []

    unpaid = PROVIDER.create_intent(creds, intent_request()).provider_ref
    with pytest.raises(ProviderError) as err:
        PROVIDER.refund(creds, refund_request(unpaid, 100))
    assert err.value.retryable is False


def test_refund_is_idempotent_by_refund_id(stripe_fake: StripeFake, creds: Credentials) -> None:
    pi_id, _ = paid_intent(stripe_fake, creds, amount=5000)
    req = refund_request(pi_id, 2000)
    first = PROVIDER.refund(creds, req)
    again = PROVIDER.refund(creds, req)  # e.g. the outbox retrying after a lost answer
    assert again == first
    assert len(stripe_fake.refunds_for(pi_id)) == 1
    assert stripe_fake.net(pi_id) == 3000


def test_free_text_reason_goes_to_metadata(stripe_fake: StripeFake, creds: Credentials) -> None:
    pi_id, _ = paid_intent(stripe_fake, creds)
    req = RefundRequest(str(uuid.uuid4()), pi_id, None, 100, "EUR", reason="tour cancelled")
    refund = stripe_fake.refunds[PROVIDER.refund(creds, req).provider_refund_ref]
    assert refund["reason"] is None and refund["metadata"]["reason"] == "tour cancelled"
    req = RefundRequest(str(uuid.uuid4()), pi_id, None, 100, "EUR", reason="duplicate")
    assert stripe_fake.refunds[PROVIDER.refund(creds, req).provider_refund_ref]["reason"] == (
        "duplicate"
    )


def test_pending_refund_settles_by_webhook(stripe_fake: StripeFake, creds: Credentials) -> None:
    pi_id, _ = paid_intent(stripe_fake, creds, amount=5000)
    stripe_fake.refund_status = "pending"
    try:
        ok = PROVIDER.refund(creds, refund_request(pi_id, 1000, refund_id="ok-" + pi_id))
        bad = PROVIDER.refund(creds, refund_request(pi_id, 2000, refund_id="bad-" + pi_id))
    finally:
        stripe_fake.refund_status = "succeeded"
    assert (ok.status, bad.status) == ("pending", "pending")
    created = stripe_fake.signed(stripe_fake.events_of_type("refund.created")[-1])[0]
    pending = PROVIDER.parse_event(created)
    assert pending.kind is EventKind.IGNORED  # not settled yet
    assert (pending.refund_ref, pending.provider_ref) == (bad.provider_refund_ref, pi_id)

    body, headers = stripe_fake.set_refund_status(ok.provider_refund_ref, "succeeded")
    PROVIDER.verify_webhook(creds, body, headers)
    event = PROVIDER.parse_event(body, headers=headers)
    assert event.kind is EventKind.REFUND_SUCCEEDED
    assert (event.refund_ref, event.refund_id) == (ok.provider_refund_ref, "ok-" + pi_id)
    assert (event.provider_ref, event.amount, event.currency) == (pi_id, 1000, "EUR")

    body, headers = stripe_fake.set_refund_status(bad.provider_refund_ref, "failed")
    event = PROVIDER.parse_event(body, headers=headers)
    assert event.kind is EventKind.REFUND_FAILED
    assert (event.refund_ref, event.refund_id) == (bad.provider_refund_ref, "bad-" + pi_id)
    assert event.failure_reason
    assert stripe_fake.net(pi_id) == 4000  # the failed refund's money stayed


# --- webhook signatures ----------------------------------------------------------------------


@pytest.fixture
def signed_event(stripe_fake: StripeFake, creds: Credentials) -> tuple[bytes, dict[str, str]]:
    pi_id = PROVIDER.create_intent(creds, intent_request()).provider_ref
    return stripe_fake.succeed(pi_id)


def test_signature_accepts_any_case_of_header(creds: Credentials, signed_event) -> None:
    body, headers = signed_event
    PROVIDER.verify_webhook(creds, body, headers)
    PROVIDER.verify_webhook(creds, body, {k.lower(): v for k, v in headers.items()})
    PROVIDER.verify_webhook(creds, body, {k.upper(): v for k, v in headers.items()})


def test_signature_with_several_v1_values(creds: Credentials, signed_event) -> None:
    body, headers = signed_event
    t, good = headers["Stripe-Signature"].split(",")
    # Stripe sends one v1 per active secret while a secret is being rolled: any may match
    PROVIDER.verify_webhook(creds, body, {"Stripe-Signature": f"{t},v1={'1' * 64},{good}"})
    with pytest.raises(SignatureInvalid):
        PROVIDER.verify_webhook(creds, body, {"Stripe-Signature": f"{t},v1={'1' * 64}"})


def test_tampered_body_is_refused(creds: Credentials, signed_event) -> None:
    body, headers = signed_event
    tampered = body.replace(b'"amount_received": 5000', b'"amount_received": 9999')
    assert tampered != body
    with pytest.raises(SignatureInvalid):
        PROVIDER.verify_webhook(creds, tampered, headers)


def test_wrong_secret_is_refused(stripe_fake: StripeFake, creds: Credentials) -> None:
    pi_id = PROVIDER.create_intent(creds, intent_request()).provider_ref
    body, headers = stripe_fake.succeed(pi_id)
    other = Credentials(creds.secret_key, creds.key_id, "whsec_someoneelse", creds.api_base)
    with pytest.raises(SignatureInvalid):
        PROVIDER.verify_webhook(other, body, headers)
    with pytest.raises(SignatureInvalid):  # no secret configured: never accept
        PROVIDER.verify_webhook(Credentials(creds.secret_key), body, headers)


def test_stale_timestamp_is_refused(stripe_fake: StripeFake, creds: Credentials) -> None:
    pi_id = PROVIDER.create_intent(creds, intent_request()).provider_ref
    stripe_fake.succeed(pi_id)
    event = stripe_fake.events_of_type("payment_intent.succeeded")[-1]
    body, headers = stripe_fake.signed(event, timestamp=int(time.time()) - 301)
    with pytest.raises(SignatureInvalid):
        PROVIDER.verify_webhook(creds, body, headers)
    body, headers = stripe_fake.signed(event, timestamp=int(time.time()) - 250)
    PROVIDER.verify_webhook(creds, body, headers)  # within the 300 s tolerance


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", "t=abc,v1=00", "t=1700000000", "v1=" + "0" * 64, "t=,v1="],
)
def test_missing_or_garbled_header_is_refused(creds: Credentials, signed_event, header) -> None:
    body, _ = signed_event
    headers = {} if header is None else {"Stripe-Signature": header}
    with pytest.raises(SignatureInvalid):
        PROVIDER.verify_webhook(creds, body, headers)


def test_signature_helper_matches_stripe_sdk(creds: Credentials) -> None:
    """The fake signs exactly as Stripe does: the official SDK's verifier accepts it."""
    import stripe

    body = b'{"id": "evt_1", "object": "event", "type": "x", "data": {"object": {}}}'
    header = stripe_signature_header(body, creds.webhook_secret)
    stripe.WebhookSignature.verify_header(body.decode(), header, creds.webhook_secret, 300)
    PROVIDER.verify_webhook(creds, body, {"Stripe-Signature": header})


# --- errors ----------------------------------------------------------------------------------


def test_wrong_api_key_is_not_retryable(stripe_fake: StripeFake) -> None:
    wrong = Credentials("sk_test_" + "x" * 40, "pk_test_x", "whsec_x", stripe_fake.url)
    with pytest.raises(ProviderError) as err:
        PROVIDER.create_intent(wrong, intent_request())
    assert err.value.retryable is False
    assert "x" * 10 not in str(err.value)  # not even the part Stripe's message quotes
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_server_down_is_retryable() -> None:
    down = Credentials(
        "sk_test_abc", "pk_test_abc", "whsec_abc", f"http://127.0.0.1:{closed_port()}"
    )
    with pytest.raises(ProviderError) as err:
        PROVIDER.create_intent(down, intent_request())
    assert err.value.retryable is True
    with pytest.raises(ProviderError) as err:
        PROVIDER.refund(down, refund_request("pi_x", 100))
    assert err.value.retryable is True


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_rate_limits_are_retryable(
    stripe_fake: StripeFake, creds: Credentials, status: int
) -> None:
    stripe_fake.inject_error(status)
    with pytest.raises(ProviderError) as err:
        PROVIDER.create_intent(creds, intent_request())
    assert err.value.retryable is True


def test_sdk_retries_with_the_same_idempotency_key(stripe_fake: StripeFake) -> None:
    """The default adapter lets the SDK retry a 5xx: the retry repeats the key, so the intent
    is made once."""
    creds = stripe_fake.creds()
    stripe_fake.inject_error(500)
    req = intent_request()
    intent = StripeProvider(max_network_retries=1, timeout=5).create_intent(creds, req)
    assert intent.provider_ref in stripe_fake.intents
    tries = [r for r in stripe_fake.request_log if r["idempotency_key"] == req.payment_id]
    assert [r["status"] for r in tries] == [500, 200]


def test_accounts_are_kept_apart(stripe_fake: StripeFake) -> None:
    a, b = stripe_fake.creds(), stripe_fake.creds(stripe_fake.add_account())
    pi_a = PROVIDER.create_intent(a, intent_request()).provider_ref
    pi_b = PROVIDER.create_intent(b, intent_request()).provider_ref
    assert PROVIDER.retrieve(b, pi_b).status == "requires_action"
    with pytest.raises(ProviderError) as err:  # Stripe: no such payment_intent, for b
        PROVIDER.retrieve(b, pi_a)
    assert err.value.retryable is False
    body, headers = stripe_fake.succeed(pi_b)  # signed with b's webhook secret
    PROVIDER.verify_webhook(b, body, headers)
    with pytest.raises(SignatureInvalid):
        PROVIDER.verify_webhook(a, body, headers)


# --- events ----------------------------------------------------------------------------------


def test_parse_dispute_and_charge_refunded(stripe_fake: StripeFake, creds: Credentials) -> None:
    pi_id, _ = paid_intent(stripe_fake, creds, amount=5000)
    charge_id = stripe_fake.intents[pi_id]["latest_charge"]
    refund = PROVIDER.refund(creds, refund_request(pi_id, 700, refund_id="rid-" + pi_id))

    # current API versions: the charge without its refunds list names no refund, no amount
    body, _ = stripe_fake.signed(stripe_fake.events_of_type("charge.refunded")[-1])
    event = PROVIDER.parse_event(body)
    assert event.kind is EventKind.REFUND_SUCCEEDED
    assert (event.provider_ref, event.charge_ref) == (pi_id, charge_id)
    assert (event.refund_ref, event.amount) == (None, None)
    # older versions, or expanded: the newest refund in the list is the one
    doc = json.loads(body)
    doc["data"]["object"]["refunds"] = {
        "object": "list",
        "data": [stripe_fake.refunds[refund.provider_refund_ref]],
    }
    event = PROVIDER.parse_event(json.dumps(doc).encode())
    assert (event.kind, event.refund_ref, event.refund_id, event.amount) == (
        EventKind.REFUND_SUCCEEDED,
        refund.provider_refund_ref,
        "rid-" + pi_id,
        700,
    )

    body, headers = stripe_fake.dispute(pi_id)
    PROVIDER.verify_webhook(creds, body, headers)
    event = PROVIDER.parse_event(body, headers=headers)
    assert event.kind is EventKind.DISPUTE_CREATED
    assert (event.provider_ref, event.charge_ref, event.amount) == (pi_id, charge_id, 5000)
    assert event.failure_reason == "fraudulent"


def test_parse_ignored_and_malformed_events(stripe_fake: StripeFake) -> None:
    body, _ = stripe_fake.signed(stripe_fake.envelope("customer.created", {"id": "cus_1"}))
    event = PROVIDER.parse_event(body)
    assert event.kind is EventKind.IGNORED and event.event_type == "customer.created"
    assert event.event_id == json.loads(body)["id"]

    pi = next(iter(stripe_fake.intents.values()))
    body, _ = stripe_fake.signed(stripe_fake.envelope("payment_intent.created", pi))
    event = PROVIDER.parse_event(body)
    assert event.kind is EventKind.IGNORED
    assert (event.provider_ref, event.payment_id) == (pi["id"], pi["metadata"]["payment_id"])

    for bad in (
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"id": "evt_1"}',
        b'{"id": 1, "type": "x"}',
        b'{"id": "evt_1", "type": "x", "data": {}}',
    ):
        with pytest.raises(ValueError):
            PROVIDER.parse_event(bad)


# --- the provider's records against what the adapter reported --------------------------------

# A refund's amount: absolute, or relative to what is left, so that refunds often reach the edge
AMOUNTS = st.one_of(st.integers(1, 5_000), st.sampled_from(["third", "half", "rest", "over"]))


def refund_amount(spec: int | str, left: int) -> int:
    if isinstance(spec, int):
        return spec
    relative = {"third": left // 3, "half": left // 2, "rest": left, "over": left + 1}
    return max(relative[spec], 1)


class StripeLedger(RuleBasedStateMachine):
    """Random sequences of intents, payments, refunds and retried refunds: Stripe's captured
    minus refunded stays what the adapter reported (payment webhooks, refund results)."""

    def __init__(self, fake: StripeFake) -> None:
        super().__init__()
        self.fake, self.creds = fake, fake.creds()
        self.made: list[str] = []
        self.captured: dict[str, int] = {}  # from the payment webhooks
        self.refunded: dict[str, int] = {}  # from the refund results
        self.refunds: dict[str, tuple[str, int, str]] = {}  # refund id -> (pi, amount, ref)

    def unpaid(self) -> list[str]:
        return [p for p in self.made if p not in self.captured]

    @initialize(
        start=st.lists(st.tuples(st.integers(100, 20_000), st.booleans()), min_size=1, max_size=3)
    )
    def start(self, start: list[tuple[int, bool]]) -> None:
        for amount, paid in start:
            self.create(amount)
            if paid:
                self._pay(self.made[-1])

    @rule(amount=st.integers(100, 20_000))
    def create(self, amount: int) -> None:
        self.made.append(PROVIDER.create_intent(self.creds, intent_request(amount)).provider_ref)

    @precondition(lambda self: self.unpaid())
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        self._pay(data.draw(st.sampled_from(self.unpaid())))

    def _pay(self, pi_id: str) -> None:
        body, headers = self.fake.succeed(pi_id)
        PROVIDER.verify_webhook(self.creds, body, headers)
        self.captured[pi_id] = PROVIDER.parse_event(body, headers=headers).amount or 0

    @precondition(lambda self: self.captured)
    @rule(data=st.data(), spec=AMOUNTS)
    def refund(self, data: st.DataObject, spec: int | str) -> None:
        self._refund(data.draw(st.sampled_from(list(self.captured))), spec)

    @precondition(lambda self: self.unpaid())
    @rule(data=st.data(), spec=AMOUNTS)
    def refund_unpaid(self, data: st.DataObject, spec: int | str) -> None:
        self._refund(data.draw(st.sampled_from(self.unpaid())), spec)

    def _refund(self, pi_id: str, spec: int | str) -> None:
        left = self.captured.get(pi_id, 0) - self.refunded.get(pi_id, 0)
        amount, refund_id = refund_amount(spec, left), str(uuid.uuid4())
        before = self.fake.net(pi_id)
        try:
            result = PROVIDER.refund(self.creds, refund_request(pi_id, amount, refund_id))
        except ProviderError as exc:
            assert not exc.retryable
            assert amount > left, "a refund within what was captured was refused"
            assert self.fake.net(pi_id) == before
            return
        assert amount <= left and result.status == "succeeded"
        self.refunds[refund_id] = (pi_id, amount, result.provider_refund_ref)
        self.refunded[pi_id] = self.refunded.get(pi_id, 0) + amount

    @precondition(lambda self: self.refunds)
    @rule(data=st.data())
    def retry_refund(self, data: st.DataObject) -> None:
        """The same refund id again (the outbox after a lost answer): the same refund."""
        refund_id = data.draw(st.sampled_from(list(self.refunds)))
        pi_id, amount, ref = self.refunds[refund_id]
        again = PROVIDER.refund(self.creds, refund_request(pi_id, amount, refund_id))
        assert again.provider_refund_ref == ref

    @invariant()
    def provider_matches_adapter(self) -> None:
        for pi_id in self.made:
            reported = self.captured.get(pi_id, 0) - self.refunded.get(pi_id, 0)
            assert self.fake.net(pi_id) == reported
            count = sum(1 for r in self.refunds.values() if r[0] == pi_id)
            assert len(self.fake.refunds_for(pi_id)) == count


def test_provider_records_match_adapter_results(stripe_fake: StripeFake) -> None:
    run_state_machine_as_test(
        lambda: StripeLedger(stripe_fake),  # type: ignore[arg-type]  # a factory is fine
        settings=settings(max_examples=40, stateful_step_count=15, deadline=None),
    )
