"""SMS through the Twilio-compatible adapter, against a local fake of Twilio's Messages API
(tests/fakes/twilio_server.py): the text goes out with basic auth and a StatusCallback; signed
delivery reports move the communication to delivered or failed; a forged or foreign report is
refused; Twilio refusing the number fails the message for good, while bad credentials and
server errors are retried."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import select, update

from tests.booking_builders import booking_body, create_booking, make_departure
from tests.fakes.twilio_server import TwilioFake, running_twilio_fake, twilio_signature
from tos import wiring
from tos.crm.models import Customer
from tos.db import tenancy
from tos.messaging import service, sms
from tos.messaging.models import Communication
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage

PHONE = "+351912345678"
FROM = "+15005550006"
STATUS = "/api/v1/messaging/twilio/status"


@pytest.fixture(autouse=True)
def messaging_env(monkeypatch, tmp_path):
    for name in ("TOS_SMTP_HOST", "TOS_TWILIO_ACCOUNT_SID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOS_MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("TOS_SMS_DIR", str(tmp_path / "sms"))
    handlers = wiring._handlers
    monkeypatch.setattr(wiring, "_handlers",
                        lambda: {service.DELIVER: service.deliver, **handlers()})  # fmt: skip


@pytest.fixture(scope="module")
def twilio():
    with running_twilio_fake() as fake:
        yield fake


def use_twilio(client, org, fake: TwilioFake, *, token: str | None = None) -> None:
    body = {"account_sid": fake.account_sid, "auth_token": token or fake.auth_token,
            "from_number": FROM, "api_base": fake.url}  # fmt: skip
    r = client.put("/api/v1/messaging/sms", json=body, headers=org.headers())
    assert r.status_code == 200, r.text


def texted_booking(client, db, org, phone: str = PHONE) -> dict:
    body = booking_body(make_departure(db, org.id),
                        email=f"ana.{uuid.uuid4().hex[:8]}@example.com")  # fmt: skip
    booking = create_booking(client, org, body=body)
    with db(write=True, organization_id=org.id) as session:
        session.execute(update(Customer).where(Customer.id == booking["customer"]["id"])
                        .values(phone=phone))  # fmt: skip
        session.commit()
    return booking


def queue_sms(db, org, booking_id: str, kind: str = "confirmation") -> str:
    with db(write=True, organization_id=org.id) as session:
        [comm] = service.queue(session, booking_id, kind, dedupe_key=f"{kind}:{booking_id}",
                               channels=("sms",))  # fmt: skip
        session.commit()
        return comm.id


def run_deliveries(db, org_id: str) -> list[str]:
    with db(write=False) as session, tenancy.unscoped(session):
        ids = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.organization_id == org_id,
                OutboxMessage.handler == service.DELIVER,
                OutboxMessage.status == "pending",
            )
        ).all()
    return [outbox.run_message(db, i) for i in ids]


def communication(db, org_id: str, comm_id: str) -> Communication:
    with db(write=False, organization_id=org_id) as session:
        return session.scalar(select(Communication).where(Communication.id == comm_id))


def sent_sms(client, db, org, twilio) -> tuple[dict, Communication]:
    use_twilio(client, org, twilio)
    booking = texted_booking(client, db, org)
    comm_id = queue_sms(db, org, booking["id"])
    assert run_deliveries(db, org.id) == ["done"]
    return booking, communication(db, org.id, comm_id)


def test_a_text_goes_out_and_its_delivery_is_reported(client, db, org, twilio):
    booking, comm = sent_sms(client, db, org, twilio)
    assert (comm.status, comm.provider) == ("sent", "twilio")
    msg = twilio.messages[comm.provider_id]
    assert (msg["to"], msg["from"], msg["account_sid"]) == (PHONE, FROM, twilio.account_sid)
    assert booking["reference"] in msg["body"] and msg["body"] == comm.body_text
    assert twilio.callbacks[comm.provider_id] == service.status_callback_url(org.slug)

    r = twilio.post_status(client, comm.provider_id, "sent")
    assert r.status_code == 200 and r.json()["outcome"] == "unchanged"
    r = twilio.post_status(client, comm.provider_id, "delivered")
    assert r.status_code == 200, r.text
    assert r.json() == {"received": True, "outcome": "delivered"}
    assert communication(db, org.id, comm.id).status == "delivered"
    # Reports arrive out of order; a final state stays final.
    r = twilio.post_status(client, comm.provider_id, "undelivered", error_code="30003")
    assert r.status_code == 200 and r.json()["outcome"] == "unchanged"
    assert communication(db, org.id, comm.id).status == "delivered"
    r = client.get(f"/api/v1/bookings/{booking['id']}/communications", headers=org.headers())
    [item] = r.json()["items"]
    assert (item["status"], item["provider_id"]) == ("delivered", comm.provider_id)


def test_an_undelivered_report_records_twilios_error_code(client, db, org, twilio):
    _, comm = sent_sms(client, db, org, twilio)
    r = twilio.post_status(client, comm.provider_id, "undelivered", error_code="30003")
    assert r.status_code == 200 and r.json()["outcome"] == "failed"
    after = communication(db, org.id, comm.id)
    assert after.status == "failed" and after.failure_reason == "twilio error 30003"


def test_a_forged_report_is_refused(client, db, org, twilio):
    _, comm = sent_sms(client, db, org, twilio)
    wrong_key = twilio.post_status(client, comm.provider_id, "failed", auth_token="x" * 32)
    assert wrong_key.status_code == 403
    assert wrong_key.json()["error"]["code"] == "FORBIDDEN"
    url, body, headers = twilio.status_callback(comm.provider_id, "delivered")
    target = f"{STATUS}?org={org.slug}"
    tampered = body.replace(b"MessageStatus=delivered", b"MessageStatus=failed")
    assert client.post(target, content=tampered, headers=headers).status_code == 403
    unsigned = {k: v for k, v in headers.items() if k != "X-Twilio-Signature"}
    assert client.post(target, content=body, headers=unsigned).status_code == 403
    # Signed for one organization, replayed to another's URL.
    assert client.post(f"{STATUS}?org=nobody-{uuid.uuid4().hex[:6]}", content=body,
                       headers=headers).status_code == 404  # fmt: skip
    assert communication(db, org.id, comm.id).status == "sent"
    assert client.post(target, content=body, headers=headers).status_code == 200


def test_reports_of_unknown_or_foreign_messages_are_ignored(client, db, org, other_org, twilio):
    _, theirs = sent_sms(client, db, other_org, twilio)
    use_twilio(client, org, twilio)
    # A message TOS never sent (same account, sent by something else).
    stranger = sms.TwilioSender(twilio.account_sid, twilio.auth_token, FROM, twilio.url).send(
        PHONE, "hello", status_callback=service.status_callback_url(org.slug)
    )
    r = twilio.post_status(client, stranger, "delivered")
    assert r.status_code == 200 and r.json()["outcome"] == "ignored"
    # Another organization's message, reported to this organization's URL with its own key.
    url, body, headers = twilio.status_callback(theirs.provider_id, "failed")
    r = client.post(f"{STATUS}?org={org.slug}", content=body, headers={
        **headers, "X-Twilio-Signature": twilio_signature_for(org.slug, body, twilio),
    })  # fmt: skip
    assert r.status_code == 200 and r.json()["outcome"] == "ignored"
    assert communication(db, other_org.id, theirs.id).status == "sent"


def twilio_signature_for(org_slug: str, body: bytes, fake: TwilioFake) -> str:
    params = parse_qsl(body.decode())
    return twilio_signature(service.status_callback_url(org_slug), params, fake.auth_token)


def test_twilio_refusing_the_number_fails_the_message_for_good(client, db, org, twilio):
    use_twilio(client, org, twilio)
    booking = texted_booking(client, db, org, phone="+15005550001")  # Twilio's invalid number
    comm_id = queue_sms(db, org, booking["id"], "reminder")
    assert run_deliveries(db, org.id) == ["done"]
    comm = communication(db, org.id, comm_id)
    assert comm.status == "failed"
    assert comm.failure_reason.startswith("twilio 400: 21211")


@pytest.mark.parametrize("trouble", ["credentials", 500, 429])
def test_credentials_and_server_errors_are_retried(client, db, org, twilio, trouble):
    use_twilio(client, org, twilio, token="not-the-token" if trouble == "credentials" else None)
    booking = texted_booking(client, db, org)
    comm_id = queue_sms(db, org, booking["id"], "cancellation")
    if trouble != "credentials":
        twilio.inject_error(trouble)
    assert run_deliveries(db, org.id) == ["pending"]
    comm = communication(db, org.id, comm_id)
    assert comm.status == "queued" and comm.provider_id is None
    with db(write=False) as s, tenancy.unscoped(s):
        error = s.scalar(
            select(OutboxMessage.last_error).where(
                OutboxMessage.organization_id == org.id, OutboxMessage.handler == service.DELIVER
            )
        )
    assert "TransientFailure" in error and twilio.auth_token not in error


def test_the_install_wide_account_sends_and_verifies(client, db, org, twilio, monkeypatch):
    for name, value in {"TOS_TWILIO_ACCOUNT_SID": twilio.account_sid,
                        "TOS_TWILIO_AUTH_TOKEN": twilio.auth_token, "TOS_TWILIO_FROM": FROM,
                        "TOS_TWILIO_API_BASE": twilio.url}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert client.get("/api/v1/messaging/sms", headers=org.headers()).json()["source"] == "install"
    booking = texted_booking(client, db, org)
    comm_id = queue_sms(db, org, booking["id"])
    assert run_deliveries(db, org.id) == ["done"]
    comm = communication(db, org.id, comm_id)
    assert comm.provider == "twilio"
    assert twilio.post_status(client, comm.provider_id, "delivered").status_code == 200
    assert communication(db, org.id, comm_id).status == "delivered"
