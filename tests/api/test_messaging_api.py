"""Messaging over HTTP and through its service: message templates (defaults, overrides per
organization and language, validation, permissions, tenancy), queueing once per key, delivery
on the embedded default (file sinks), a booking's communication log, and the SMTP / SMS
provider settings (sealed, never shown)."""

from __future__ import annotations

import email as stdlib_email
import json
import uuid
from email import policy

import pytest
from sqlalchemy import func, select, update

from tests.booking_builders import booking_body, create_booking, make_departure
from tos import wiring
from tos.core.errors import NotFound
from tos.crm.models import Customer
from tos.db import tenancy
from tos.identity.models import Organization
from tos.messaging import service
from tos.messaging.models import Communication
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage
from tos.payments import secrets

TEMPLATES = "/api/v1/message-templates"
PHONE = "+351912345678"


@pytest.fixture(autouse=True)
def messaging_env(monkeypatch, tmp_path):
    """The embedded default (file sinks) in this test's own directory, and the deliver handler
    reachable through the outbox whether or not wiring lists it yet."""
    for name in ("TOS_SMTP_HOST", "TOS_TWILIO_ACCOUNT_SID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOS_MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("TOS_SMS_DIR", str(tmp_path / "sms"))
    handlers = wiring._handlers
    monkeypatch.setattr(wiring, "_handlers",
                        lambda: {service.DELIVER: service.deliver, **handlers()})  # fmt: skip
    return tmp_path


def new_booking(client, db, org, *, phone=None, language=None, first_name="Ana", dep=None):
    """A booking of its own customer (customers are one per e-mail address)."""
    dep = dep or make_departure(db, org.id)
    body = booking_body(dep, email=f"ana.{uuid.uuid4().hex[:8]}@example.com")
    body["customer"]["phone"] = phone
    booking = create_booking(client, org, body=body)
    with db(write=True, organization_id=org.id) as session:
        values = {"first_name": first_name}
        if language:
            values["preferred_language"] = language
        session.execute(
            update(Customer).where(Customer.id == booking["customer"]["id"]).values(**values)
        )
        session.commit()
    return booking


def queue(db, org, booking_id, kind="confirmation", key=None, **kw) -> list[dict]:
    with db(write=True, organization_id=org.id) as session:
        rows = service.queue(session, booking_id, kind, dedupe_key=key or f"{kind}:{booking_id}",
                             **kw)  # fmt: skip
        session.commit()
        return [service.communication_out(r) | {"meta": r.meta} for r in rows]


def deliver_all(db, org_id) -> int:
    with db(write=False) as session, tenancy.unscoped(session):
        ids = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.organization_id == org_id,
                OutboxMessage.handler == service.DELIVER,
                OutboxMessage.status == "pending",
            )
        ).all()
    return sum(outbox.run_message(db, i) == "done" for i in ids)


def deliveries_queued(db, org_id) -> int:
    with db(write=False, organization_id=org_id) as session:
        return session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.handler == service.DELIVER)
        )


# --- templates -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin", "manager", "staff", "accountant", "guide"])
def test_every_staff_role_reads_the_defaults(client, org, role):
    r = client.get(TEMPLATES, headers=org.headers(role))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert r.json()["total_count"] == len(items) == 18  # 6 e-mails + 3 SMS, in en and pt
    assert all(i["default"] and i["id"] is None and not i["overridden"] for i in items)
    r = client.get(f"{TEMPLATES}?kind=confirmation&channel=sms", headers=org.headers(role))
    assert {i["language"] for i in r.json()["items"]} == {"en", "pt"}


@pytest.mark.parametrize("role", ["manager", "staff", "accountant", "guide"])
def test_only_owners_and_admins_write_templates(client, org, role):
    body = {"kind": "reminder", "channel": "sms", "language": "en", "body_text": "Hi"}
    assert client.post(TEMPLATES, json=body, headers=org.headers(role)).status_code == 403


def test_an_override_is_created_listed_changed_and_removed(client, org):
    body = {"kind": "confirmation", "channel": "email", "language": "pt",
            "subject": "Confirmado! {{ booking.reference }}",
            "body_text": "Olá {{ customer.first_name }}", "body_html": None}  # fmt: skip
    r = client.post(TEMPLATES, json=body, headers=org.headers("admin"))
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert r.json()["default"] is False
    assert client.post(TEMPLATES, json=body, headers=org.headers()).status_code == 409
    listed = client.get(f"{TEMPLATES}?kind=confirmation&channel=email", headers=org.headers())
    rows = {(i["language"], i["default"]): i for i in listed.json()["items"]}
    assert rows[("pt", False)]["id"] == tid
    assert rows[("pt", True)]["overridden"] is True and rows[("en", True)]["overridden"] is False
    r = client.patch(f"{TEMPLATES}/{tid}", json={"subject": "Reserva {{ booking.reference }}"},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 200 and r.json()["subject"] == "Reserva {{ booking.reference }}"
    assert r.json()["body_text"] == body["body_text"]
    assert client.patch(f"{TEMPLATES}/{tid}", json={"body_text": None},
                        headers=org.headers()).status_code == 422  # fmt: skip
    assert client.delete(f"{TEMPLATES}/{tid}", headers=org.headers()).status_code == 204
    assert client.get(f"{TEMPLATES}/{tid}", headers=org.headers()).status_code == 404
    actions = client.get(f"/api/v1/audit?entity_id={tid}", headers=org.headers()).json()["items"]
    assert {a["action"] for a in actions} == {
        "message_template.created", "message_template.updated", "message_template.deleted",
    }  # fmt: skip


def test_a_template_that_does_not_compile_or_render_is_422_with_its_line(client, org):
    body = {"kind": "reminder", "channel": "email", "language": "en", "subject": "Soon",
            "body_text": "Hello\n{{ booking.reference }\n"}  # fmt: skip
    r = client.post(TEMPLATES, json=body, headers=org.headers())
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["details"]["part"] == "body_text" and err["details"]["line"] == 2
    assert err["details"]["fields"][0]["path"] == ["body_text"]
    body["body_text"] = "ok"
    body["body_html"] = "<p>\n{{ tour.nme }}</p>"
    r = client.post(TEMPLATES, json=body, headers=org.headers())
    assert r.status_code == 422 and r.json()["error"]["details"]["line"] == 2
    assert "nme" in r.json()["error"]["message"]
    tid = client.post(TEMPLATES, json={**body, "body_html": None}, headers=org.headers()).json()
    r = client.patch(f"{TEMPLATES}/{tid['id']}", json={"subject": "{% for %}"},
                     headers=org.headers())  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["details"]["part"] == "subject"


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "newsletter"},
        {"channel": "fax"},
        {"language": "zz"},
        {"language": "english"},
        {"channel": "sms"},  # an SMS has no subject
        {"channel": "sms", "subject": None, "kind": "refund"},  # refunds are not texted
        {"subject": None},  # an e-mail needs one
        {"body_text": ""},
        {"unknown": 1},
    ],
)
def test_template_fields_are_validated(client, org, change):
    body = {"kind": "confirmation", "channel": "email", "language": "en", "subject": "S",
            "body_text": "T", **change}  # fmt: skip
    assert client.post(TEMPLATES, json=body, headers=org.headers()).status_code == 422


def test_another_organization_neither_sees_nor_touches_an_override(client, org, other_org):
    body = {"kind": "reminder", "channel": "sms", "language": "en", "body_text": "Mine"}
    tid = client.post(TEMPLATES, json=body, headers=org.headers()).json()["id"]
    theirs = other_org.headers()
    assert client.get(f"{TEMPLATES}/{tid}", headers=theirs).status_code == 404
    assert client.patch(f"{TEMPLATES}/{tid}", json={"body_text": "x"},
                        headers=theirs).status_code == 404  # fmt: skip
    assert client.delete(f"{TEMPLATES}/{tid}", headers=theirs).status_code == 404
    assert all(i["default"] for i in client.get(TEMPLATES, headers=theirs).json()["items"])
    assert client.get(f"{TEMPLATES}/{tid}", headers=org.headers()).json()["body_text"] == "Mine"


# --- which template a message uses -----------------------------------------------------------


def test_an_override_wins_for_its_language_only(client, db, org, other_org):
    body = {"kind": "confirmation", "channel": "email", "language": "pt",
            "subject": "A NOSSA confirmação {{ booking.reference }}",
            "body_text": "Olá {{ customer.first_name }} — {{ organization.name }}"}  # fmt: skip
    assert client.post(TEMPLATES, json=body, headers=org.headers()).status_code == 201
    pt = new_booking(client, db, org, language="pt-PT")
    en = new_booking(client, db, org, language="en")
    elsewhere = new_booking(client, db, other_org, language="pt")

    [mine] = queue(db, org, pt["id"])
    assert mine["subject"] == f"A NOSSA confirmação {pt['reference']}"
    assert mine["language"] == "pt" and mine["meta"]["template"] == "override"
    [english] = queue(db, org, en["id"])
    assert english["subject"].startswith("Booking confirmed") and english["language"] == "en"
    assert english["meta"]["template"] == "default"
    [theirs] = queue(db, other_org, elsewhere["id"])
    assert theirs["subject"].startswith("Reserva confirmada")
    assert theirs["meta"]["template"] == "default"


def test_the_organizations_english_override_stands_in_before_tos_defaults(client, db, org):
    body = {"kind": "reminder", "channel": "email", "language": "en",
            "subject": "Our reminder", "body_text": "See you"}  # fmt: skip
    assert client.post(TEMPLATES, json=body, headers=org.headers()).status_code == 201
    pt = new_booking(client, db, org, language="pt")
    [comm] = queue(db, org, pt["id"], "reminder")
    assert comm["subject"] == "Our reminder" and comm["language"] == "en"


def test_an_override_that_fails_on_a_real_booking_falls_back_to_the_default(client, db, org):
    # Valid against the sample (which has a refund), broken on a confirmation without one.
    body = {"kind": "confirmation", "channel": "email", "language": "en",
            "subject": "Refund {{ refund.amount.upper() }}", "body_text": "x"}  # fmt: skip
    assert client.post(TEMPLATES, json=body, headers=org.headers()).status_code == 201
    booking = new_booking(client, db, org)
    [comm] = queue(db, org, booking["id"])
    assert comm["subject"].startswith("Booking confirmed")
    assert comm["meta"]["template"] == "default"


def test_customer_data_is_escaped_in_the_html(client, db, org):
    booking = new_booking(client, db, org, first_name='<img src=x onerror="alert(1)">')
    [comm] = queue(db, org, booking["id"])
    html = comm["meta"]["body_html"]
    assert "<img" not in html and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert '<img src=x onerror="alert(1)">' in comm["body_text"]


def test_the_context_has_the_booking_facts(client, db, org):
    dep = make_departure(db, org.id, adult_price=12345)
    booking = new_booking(client, db, org, dep=dep, phone=PHONE)
    [mail, text] = queue(db, org, booking["id"], extra={"refund_amount": 500})
    assert f"Total: €{booking['total'] / 100:,.2f}" in mail["body_text"]
    assert "(Europe/Lisbon)" in mail["body_text"] and "09:00" in mail["body_text"]
    assert "Tour " in mail["body_text"]  # the tour's name
    assert booking["reference"] in text["body_text"] and text["channel"] == "sms"
    assert text["subject"] is None and len(text["body_text"]) <= 1600


# --- queueing once ---------------------------------------------------------------------------


def test_queue_logs_each_message_once_per_dedupe_key(client, db, org):
    booking = new_booking(client, db, org, phone=PHONE)
    first = queue(db, org, booking["id"], key="confirmation:x")
    assert [c["channel"] for c in first] == ["email", "sms"]
    assert [c["dedupe_key"] for c in first] == ["confirmation:x:email", "confirmation:x:sms"]
    again = queue(db, org, booking["id"], key="confirmation:x")
    assert [c["id"] for c in again] == [c["id"] for c in first]
    assert deliveries_queued(db, org.id) == 2
    assert deliver_all(db, org.id) == 2
    after = queue(db, org, booking["id"], key="confirmation:x")
    assert [c["status"] for c in after] == ["sent", "sent"]
    assert deliveries_queued(db, org.id) == 2
    with db(write=False, organization_id=org.id) as session:
        assert session.scalar(select(func.count(Communication.id))) == 2


def test_sms_only_for_the_days_messages_and_with_a_phone(client, db, org):
    with_phone = new_booking(client, db, org, phone=PHONE)
    without = new_booking(client, db, org)
    receipt = queue(db, org, with_phone["id"], "payment_receipt", extra={"amount": 1000})
    assert [c["channel"] for c in receipt] == ["email"]
    assert "€10.00" in receipt[0]["body_text"]
    assert [c["channel"] for c in queue(db, org, without["id"], "reminder")] == ["email"]
    only_sms = queue(db, org, with_phone["id"], "cancellation", channels=("sms",))
    assert [c["channel"] for c in only_sms] == ["sms"]


def test_queue_refuses_unknown_kinds_and_other_organizations_bookings(client, db, org, other_org):
    booking = new_booking(client, db, org)
    with pytest.raises(ValueError):
        queue(db, org, booking["id"], "newsletter")
    with pytest.raises(ValueError):
        queue(db, org, booking["id"], channels=("fax",))
    with pytest.raises(NotFound):
        queue(db, other_org, booking["id"])


# --- delivery on the embedded default, and the log -------------------------------------------


def test_the_embedded_default_writes_files_and_the_log_shows_them(client, db, org, messaging_env):
    booking = new_booking(client, db, org, phone=PHONE)
    mail, text = queue(db, org, booking["id"])
    assert deliver_all(db, org.id) == 2
    eml = messaging_env / "mail" / f"{mail['id']}.eml"
    parsed = stdlib_email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == f"<{mail['id']}@tos>"
    assert parsed["To"] == mail["recipient"] and booking["reference"] in parsed["Subject"]
    sms_file = json.loads((messaging_env / "sms" / f"{text['id']}.json").read_text())
    assert sms_file["to"] == PHONE and booking["reference"] in sms_file["body"]

    r = client.get(f"/api/v1/bookings/{booking['id']}/communications", headers=org.headers())
    assert r.status_code == 200, r.text
    items = {i["channel"]: i for i in r.json()["items"]}
    assert r.json()["total_count"] == 2
    assert items["email"]["status"] == "sent" and items["email"]["provider"] == "file"
    assert items["email"]["message_id"] == items["email"]["provider_id"] == f"<{mail['id']}@tos>"
    assert items["email"]["attempts"] == 1 and items["email"]["sent_at"]
    assert items["sms"]["provider_id"] == f"file:{text['id']}"
    assert items["sms"]["message_id"] is None


def test_an_invalid_address_fails_once_and_is_not_retried(client, db, org):
    booking = new_booking(client, db, org)
    with db(write=True, organization_id=org.id) as session:
        session.execute(update(Customer).where(Customer.id == booking["customer"]["id"])
                        .values(email="not-an-address"))  # fmt: skip
        session.commit()
    [comm] = queue(db, org, booking["id"])
    assert deliver_all(db, org.id) == 1  # done: nothing to retry
    r = client.get(f"/api/v1/bookings/{booking['id']}/communications", headers=org.headers())
    [item] = r.json()["items"]
    assert item["status"] == "failed" and "invalid e-mail address" in item["failure_reason"]


def test_who_reads_a_bookings_communications(client, db, org, other_org):
    booking = new_booking(client, db, org)
    queue(db, org, booking["id"])
    path = f"/api/v1/bookings/{booking['id']}/communications"
    for role in ("owner", "admin", "manager", "accountant"):
        assert client.get(path, headers=org.headers(role)).json()["total_count"] == 1, role
    # Staff see the bookings assigned to them, guides those on their schedules: others are 404.
    assert client.get(path, headers=org.headers("staff")).status_code == 404
    assert client.get(path, headers=org.headers("guide")).status_code == 404
    assert client.get(path, headers=org.headers("reseller")).status_code == 403
    assert client.get(path, headers=other_org.headers()).status_code == 404
    assert client.get(path).status_code == 401
    assert client.get("/api/v1/bookings/nope/communications",
                      headers=org.headers()).status_code == 404  # fmt: skip


# --- provider settings -----------------------------------------------------------------------

SMTP = {"host": "smtp.example.com", "port": 2525, "username": "mailer",
        "password": "smtp-pa55word-xyz", "from_address": "bookings@example.com",
        "starttls": False}  # fmt: skip
SMS = {"account_sid": "AC" + "0" * 32, "auth_token": "twilio-t0ken-abcdef",
       "from_number": "+15005550006"}  # fmt: skip


def test_smtp_settings_are_sealed_and_never_shown(client, db, org):
    assert client.get("/api/v1/messaging/smtp", headers=org.headers()).json()["source"] == "file"
    r = client.put("/api/v1/messaging/smtp", json=SMTP, headers=org.headers("admin"))
    assert r.status_code == 200, r.text
    assert r.json() == {"source": "organization", "host": "smtp.example.com", "port": 2525,
                        "username": "mailer", "from_address": "bookings@example.com",
                        "starttls": False, "use_tls": False, "password_set": True}  # fmt: skip
    shown = client.get("/api/v1/messaging/smtp", headers=org.headers()).text
    audit = client.get("/api/v1/audit?entity_type=organization", headers=org.headers()).text
    organization = client.get("/api/v1/organization", headers=org.headers()).text
    for text in (r.text, shown, audit, organization):
        assert SMTP["password"] not in text
    # A change without the password keeps it.
    r = client.put("/api/v1/messaging/smtp", json={**SMTP, "password": None, "port": 587},
                   headers=org.headers())  # fmt: skip
    assert r.json()["port"] == 587 and r.json()["password_set"] is True
    with db(write=False) as session:
        settings = session.get(Organization, org.id).settings
    assert SMTP["password"] not in json.dumps(settings)
    sealed = settings["smtp"]["password_sealed"]
    assert secrets.unseal(sealed) == {"password": SMTP["password"]}
    assert client.delete("/api/v1/messaging/smtp", headers=org.headers()).status_code == 204
    assert client.delete("/api/v1/messaging/smtp", headers=org.headers()).status_code == 404


def test_sms_settings_are_sealed_and_never_shown(client, db, org):
    r = client.put("/api/v1/messaging/sms", json=SMS, headers=org.headers())
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["source"] == "organization" and out["auth_token_set"] is True
    assert out["status_callback_url"].endswith(f"/api/v1/messaging/twilio/status?org={org.slug}")
    assert SMS["auth_token"] not in r.text
    assert SMS["auth_token"] not in client.get("/api/v1/messaging/sms", headers=org.headers()).text
    keep = {k: v for k, v in SMS.items() if k != "auth_token"}
    assert client.put("/api/v1/messaging/sms", json=keep, headers=org.headers()).status_code == 200
    other = {**keep, "account_sid": "AC" + "1" * 32}  # a new account needs its token
    assert client.put("/api/v1/messaging/sms", json=other, headers=org.headers()).status_code == 422
    with db(write=False) as session:
        settings = session.get(Organization, org.id).settings
    assert SMS["auth_token"] not in json.dumps(settings)


@pytest.mark.parametrize("role", ["manager", "staff", "accountant", "guide"])
def test_only_owners_and_admins_manage_provider_settings(client, org, role):
    headers = org.headers(role)
    assert client.put("/api/v1/messaging/smtp", json=SMTP, headers=headers).status_code == 403
    assert client.put("/api/v1/messaging/sms", json=SMS, headers=headers).status_code == 403
    assert client.get("/api/v1/messaging/smtp", headers=headers).status_code == 403


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("smtp", {**SMTP, "from_address": "nobody"}),
        ("smtp", {**SMTP, "host": "smtp example"}),
        ("smtp", {**SMTP, "port": 70000}),
        ("smtp", {**SMTP, "use_tls": True, "starttls": True}),
        ("sms", {**SMS, "from_number": "0912"}),
        ("sms", {**SMS, "account_sid": "AC/../x"}),
        ("sms", {**SMS, "api_base": "not a url"}),
    ],
)
def test_provider_settings_are_validated(client, org, path, body):
    r = client.put(f"/api/v1/messaging/{path}", json=body, headers=org.headers())
    assert r.status_code == 422


def test_another_organizations_settings_are_its_own(client, db, org, other_org):
    client.put("/api/v1/messaging/smtp", json=SMTP, headers=org.headers())
    theirs = client.get("/api/v1/messaging/smtp", headers=other_org.headers()).json()
    assert theirs["source"] == "file" and theirs["host"] is None
