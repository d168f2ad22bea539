"""The whole path over real HTTP and a real SMTP server: a booking paid on the sandbox provider
gets, through the worker, its invoice, voucher and itinerary and one confirmation e-mail with the
three PDFs, whose text carries the booking's facts."""

import email
import json
import socket
import subprocess
import time
from email import policy
from email.message import Message

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.booking_builders import booking_body, make_departure
from tests.payment_builders import sandbox_event
from tos.payments.accounts import sandbox_secret
from tos.payments.providers.sandbox import sign

pytestmark = pytest.mark.e2e


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def confirmations(inbox: Inbox, reference: str) -> list[Message]:
    subjects = [(m, str(m["Subject"] or "")) for m in inbox.messages]  # decoded, unfolded
    return [m for m, subject in subjects if reference in subject and "confirm" in subject.lower()]


def pdf_text(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                         check=True)  # fmt: skip
    return out.stdout.decode()


def test_a_paid_booking_is_confirmed_by_email_with_its_three_pdfs(
    server_factory, db, org, smtp, tmp_path
):
    inbox, port = smtp
    server = server_factory(workers=2, env={
        "TOS_SMTP_HOST": "127.0.0.1", "TOS_SMTP_PORT": str(port), "TOS_SMTP_STARTTLS": "false",
        "TOS_SMTP_FROM": "bookings@example.test", "TOS_DOCUMENTS_DIR": str(tmp_path / "docs"),
    })  # fmt: skip
    dep = make_departure(db, org.id, capacity=5, adult_price=12345)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        body = booking_body(dep, adults=2, email="ana.silva@example.com")
        booking = client.post("/api/v1/bookings", json=body, headers=org.headers("manager"))
        booking = booking.json()
        url = f"/api/v1/bookings/{booking['id']}/payments"
        payment = client.post(url, json={"provider": "sandbox"}, headers=org.headers("manager"))
        raw = json.dumps(sandbox_event(payment.json())).encode()
        ack = client.post("/api/payments/webhook?provider=sandbox", content=raw,
                          headers=sign(sandbox_secret(), raw))  # fmt: skip
        assert ack.status_code == 200, ack.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not confirmations(inbox, booking["reference"]):
            time.sleep(0.3)
        time.sleep(1)  # a second confirmation would have arrived by now
        got = client.get(f"/api/v1/bookings/{booking['id']}", headers=org.headers()).json()
        comms = client.get(f"/api/v1/bookings/{booking['id']}/communications",
                           headers=org.headers()).json()  # fmt: skip

    found = confirmations(inbox, booking["reference"])
    assert len(found) == 1, [m["Subject"] for m in inbox.messages]
    mail = found[0]
    assert mail["To"] == "ana.silva@example.com" and mail["Message-ID"]
    pdfs = {part.get_filename(): part.get_payload(decode=True)
            for part in mail.walk() if part.get_content_type() == "application/pdf"}  # fmt: skip
    assert len(pdfs) == 3, list(pdfs)
    texts = {name: pdf_text(data) for name, data in pdfs.items()}
    for text in texts.values():
        assert booking["reference"] in text
    invoice = next(t for n, t in texts.items() if "invoice" in n.lower() or "INV-" in n)
    assert "INV-" in invoice and "246.90" in invoice and "Silva" in invoice
    assert got["status"] == "documents_generated"
    items = comms if isinstance(comms, list) else comms["items"]
    sent = [c for c in items if c["kind"] == "confirmation" and c["channel"] == "email"]
    assert len(sent) == 1 and sent[0]["status"] == "sent"
