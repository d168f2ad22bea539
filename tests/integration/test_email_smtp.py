"""E-mail over real SMTP: an aiosmtpd server runs in the test, with authentication, and the
organization's SMTP settings (or the install's TOS_SMTP_*) point at it. The message arrives with
its PDFs and the communication's Message-ID; a crash between the send and the commit sends it
again with the same Message-ID (at least once) while the log keeps one row; a refused address
fails for good; an unreachable server or a wrong password is retried."""

from __future__ import annotations

import email as stdlib_email
import hashlib
import socket
import uuid
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import func, select, update

from tests.booking_builders import booking_body, create_booking, make_departure
from tos import wiring
from tos.core.clock import utcnow
from tos.db import tenancy
from tos.documents.models import Document
from tos.messaging import service
from tos.messaging.models import Communication
from tos.outbox import service as outbox
from tos.outbox.models import OutboxMessage

# The test server takes AUTH without TLS (it is local); aiosmtpd warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

USER, PASSWORD = "mailer", "smtp-pa55word-xyz"
FROM = "bookings@lisbonwalks.example"


class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses the addresses it is told."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], stdlib_email.message.EmailMessage]] = []
        self.refuse: set[str] = set()
        self.logins: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        parsed = stdlib_email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if ok:
            self.logins.append(USER)
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port,
                            authenticator=inbox.authenticate, auth_required=True,
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def messaging_env(monkeypatch, tmp_path):
    for name in ("TOS_SMTP_HOST", "TOS_TWILIO_ACCOUNT_SID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOS_MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("TOS_SMS_DIR", str(tmp_path / "sms"))
    handlers = wiring._handlers
    monkeypatch.setattr(wiring, "_handlers",
                        lambda: {service.DELIVER: service.deliver, **handlers()})  # fmt: skip


def use_smtp(client, org, port: int, **change) -> None:
    body = {"host": "127.0.0.1", "port": port, "username": USER, "password": PASSWORD,
            "from_address": FROM, "starttls": False, **change}  # fmt: skip
    r = client.put("/api/v1/messaging/smtp", json=body, headers=org.headers())
    assert r.status_code == 200, r.text


def new_booking(client, db, org) -> dict:
    body = booking_body(make_departure(db, org.id),
                        email=f"ana.{uuid.uuid4().hex[:8]}@example.com")  # fmt: skip
    return create_booking(client, org, body=body)


PDFS: dict[str, bytes] = {}


@pytest.fixture
def documents(monkeypatch):
    """Document rows for a booking, their bytes served in place of the documents storage."""
    monkeypatch.setattr(service, "read_document", lambda doc: PDFS[doc.id])

    def make(db, org, booking: dict) -> list[str]:
        ids = []
        with db(write=True, organization_id=org.id) as session:
            for type_, number in (("invoice", f"INV-2026-{uuid.uuid4().hex[:6]}"),
                                  ("voucher", None)):  # fmt: skip
                data = f"%PDF-1.7\n% {type_} of {booking['reference']}\n%%EOF\n".encode()
                doc = Document(booking_id=booking["id"], type=type_, number=number,
                               storage_key=f"test/{uuid.uuid4()}.pdf", size=len(data),
                               checksum=hashlib.sha256(data).hexdigest())  # fmt: skip
                session.add(doc)
                session.flush()
                PDFS[doc.id] = data
                ids.append(doc.id)
            session.commit()
        return ids

    return make


def queue_email(db, org, booking_id: str, **kw) -> str:
    with db(write=True, organization_id=org.id) as session:
        [comm] = service.queue(session, booking_id, "confirmation",
                               dedupe_key=f"confirmation:{booking_id}", **kw)  # fmt: skip
        session.commit()
        return comm.id


def pending_delivery(db, org_id: str) -> list[str]:
    with db(write=False) as session, tenancy.unscoped(session):
        return list(
            session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.organization_id == org_id,
                    OutboxMessage.handler == service.DELIVER,
                    OutboxMessage.status == "pending",
                )
            )
        )


def run_deliveries(db, org_id: str) -> list[str]:
    return [outbox.run_message(db, i) for i in pending_delivery(db, org_id)]


def communication(db, org_id: str, comm_id: str) -> Communication:
    with db(write=False, organization_id=org_id) as session:
        return session.scalar(select(Communication).where(Communication.id == comm_id))


def test_the_confirmation_arrives_with_its_pdfs_and_message_id(client, db, org, smtp_server,
                                                               documents):  # fmt: skip
    inbox, port = smtp_server
    use_smtp(client, org, port)
    booking = new_booking(client, db, org)
    doc_ids = documents(db, org, booking)
    comm_id = queue_email(db, org, booking["id"], attachments=doc_ids)
    assert run_deliveries(db, org.id) == ["done"]

    [(mail_from, rcpt, msg)] = inbox.messages
    assert inbox.logins == [USER]
    assert mail_from == FROM and rcpt == [booking["customer"]["email"]]
    assert msg["Message-ID"] == f"<{comm_id}@tos>"
    assert msg["From"].addresses[0].addr_spec == FROM
    assert msg["From"].addresses[0].display_name.startswith("Org ")
    assert booking["reference"] in msg["Subject"]
    assert booking["reference"] in msg.get_body(("plain",)).get_content()
    assert "<html" in msg.get_body(("html",)).get_content()
    pdfs = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
    assert set(pdfs.values()) == {PDFS[i] for i in doc_ids}
    assert any(n.startswith("invoice-INV-2026-") for n in pdfs)
    assert f"voucher-{booking['reference']}.pdf" in pdfs
    assert all(a.get_content_type() == "application/pdf" for a in msg.iter_attachments())

    comm = communication(db, org.id, comm_id)
    assert (comm.status, comm.provider, comm.provider_id) == ("sent", "smtp", f"<{comm_id}@tos>")
    assert comm.attachments == doc_ids and comm.sent_at is not None


def test_a_crash_between_send_and_commit_resends_with_the_same_message_id(
    client, db, org, smtp_server
):
    inbox, port = smtp_server
    use_smtp(client, org, port)
    booking = new_booking(client, db, org)
    comm_id = queue_email(db, org, booking["id"])
    [message_id] = pending_delivery(db, org.id)

    # The worker sends, then dies before its transaction commits.
    session = db(write=True)
    try:
        with tenancy.unscoped(session):
            message = session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
        tenancy.set_scope(session, org.id)
        service.deliver(session, message)
        session.rollback()
    finally:
        session.close()
    assert len(inbox.messages) == 1
    assert communication(db, org.id, comm_id).status == "queued"

    # The outbox runs the same message again: a second copy, the same Message-ID and Date.
    assert run_deliveries(db, org.id) == ["done"]
    assert len(inbox.messages) == 2
    first, second = (m for _, _, m in inbox.messages)
    assert first["Message-ID"] == second["Message-ID"] == f"<{comm_id}@tos>"
    assert first["Date"] == second["Date"] and first["Subject"] == second["Subject"]
    with db(write=False, organization_id=org.id) as s:
        assert s.scalar(select(func.count(Communication.id))) == 1
    assert communication(db, org.id, comm_id).status == "sent"
    assert run_deliveries(db, org.id) == []  # nothing owed: sent once more would be a bug


def test_a_refused_recipient_fails_for_good(client, db, org, smtp_server):
    inbox, port = smtp_server
    use_smtp(client, org, port)
    booking = new_booking(client, db, org)
    inbox.refuse.add(booking["customer"]["email"])
    comm_id = queue_email(db, org, booking["id"])
    assert run_deliveries(db, org.id) == ["done"]  # recorded, not retried
    comm = communication(db, org.id, comm_id)
    assert comm.status == "failed" and comm.failure_reason.startswith("recipient refused: 550")
    assert inbox.messages == []


@pytest.mark.parametrize("trouble", ["unreachable", "wrong password"])
def test_a_transient_failure_is_retried_with_the_same_message(
    client, db, org, smtp_server, trouble
):
    inbox, port = smtp_server
    if trouble == "unreachable":
        use_smtp(client, org, free_port())
    else:
        use_smtp(client, org, port, password="not-the-password")
    booking = new_booking(client, db, org)
    comm_id = queue_email(db, org, booking["id"])
    assert run_deliveries(db, org.id) == ["pending"]  # backing off
    assert communication(db, org.id, comm_id).status == "queued"
    with db(write=False) as s, tenancy.unscoped(s):
        msg = s.scalar(
            select(OutboxMessage).where(
                OutboxMessage.handler == service.DELIVER, OutboxMessage.organization_id == org.id
            )
        )
        assert msg.attempts == 1 and msg.last_error
        assert PASSWORD not in msg.last_error and "not-the-password" not in msg.last_error

    use_smtp(client, org, port)  # fixed by an admin
    with db(write=True) as s, tenancy.unscoped(s):
        s.execute(update(OutboxMessage).where(OutboxMessage.id == msg.id).values(due_at=utcnow()))
        s.commit()
    assert run_deliveries(db, org.id) == ["done"]
    [(_, _, received)] = inbox.messages
    assert received["Message-ID"] == f"<{comm_id}@tos>"
    comm = communication(db, org.id, comm_id)
    assert comm.status == "sent" and comm.attempts == 2


def test_the_install_wide_server_serves_organizations_without_their_own(
    client, db, org, smtp_server, monkeypatch
):
    inbox, port = smtp_server
    for name, value in {"TOS_SMTP_HOST": "127.0.0.1", "TOS_SMTP_PORT": str(port),
                        "TOS_SMTP_USERNAME": USER, "TOS_SMTP_PASSWORD": PASSWORD,
                        "TOS_SMTP_FROM": FROM, "TOS_SMTP_STARTTLS": "false"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert client.get("/api/v1/messaging/smtp", headers=org.headers()).json()["source"] == "install"
    booking = new_booking(client, db, org)
    comm_id = queue_email(db, org, booking["id"])
    assert run_deliveries(db, org.id) == ["done"]
    [(_, _, msg)] = inbox.messages
    assert msg["Message-ID"] == f"<{comm_id}@tos>"
    assert communication(db, org.id, comm_id).provider == "smtp"
