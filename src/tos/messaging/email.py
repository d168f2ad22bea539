"""E-mail out: over SMTP (smtplib), or into a directory of .eml files.

Which one an organization uses (`sender_for`): its own SMTP settings (settings["smtp"], the
password sealed, set by PUT /api/v1/messaging/smtp); else the install-wide TOS_SMTP_* variables;
else the FileSink under var/mail/ — the embedded default, so a fresh install never mails a real
customer by accident.

Every message carries `Message-ID: <communication-id@tos>`: a retry after a crash between the
send and the commit sends the same message again (at least once), and receivers and mail
clients see one message. Senders raise `PermanentFailure` when this message can never go (an
invalid or refused address); anything else raised is transient and retried."""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any, Protocol

from tos.payments import secrets

log = logging.getLogger("tos.messaging.email")

DEFAULT_FROM = "no-reply@localhost"
# Deliberately strict: one @, no spaces or angle brackets, a dotted domain. An address failing it
# would be refused by any server, so it fails at once instead of after eight retries.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"^[^@\s<>()\[\],;:\"]+@{_LABEL}(?:\.{_LABEL})+$")


class PermanentFailure(Exception):
    """This message cannot be delivered, now or later; the reason is shown to staff."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:500]


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    communication_id: str
    to: str
    subject: str
    text: str
    html: str | None = None
    from_name: str = ""
    date: Any = None  # datetime: the communication's creation, the same on every attempt
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def message_id(self) -> str:
        return message_id(self.communication_id)


def message_id(communication_id: str) -> str:
    return f"<{communication_id}@tos>"


def valid_address(address: str) -> bool:
    return bool(_ADDRESS.match(address or "")) and len(address) <= 320


def build(mail: OutgoingEmail, from_address: str) -> EmailMessage:
    if not valid_address(mail.to):
        raise PermanentFailure(f"invalid e-mail address {mail.to!r}")
    msg = EmailMessage()
    msg["Message-ID"] = mail.message_id
    msg["From"] = formataddr((mail.from_name, from_address)) if mail.from_name else from_address
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    if mail.date is not None:
        msg["Date"] = format_datetime(mail.date)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    msg.set_content(mail.text)
    if mail.html:
        msg.add_alternative(mail.html, subtype="html")
    for att in mail.attachments:
        maintype, _, subtype = att.content_type.partition("/")
        msg.add_attachment(att.data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=att.filename)  # fmt: skip
    return msg


class EmailSender(Protocol):
    name: str

    def send(self, mail: OutgoingEmail) -> str:
        """Send; return the provider id (the Message-ID)."""
        ...


class SmtpSender:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 587,
        username: str = "",
        password: str = "",
        *,
        use_tls: bool = False,  # implicit TLS (SMTPS, usually port 465)
        starttls: bool = True,
        from_address: str = DEFAULT_FROM,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.username = host, int(port), username
        self._password = password
        self.use_tls, self.starttls, self.from_address = use_tls, starttls, from_address
        self.timeout = timeout

    def __repr__(self) -> str:  # never the password
        return f"SmtpSender({self.host}:{self.port}, user={self.username!r})"

    def send(self, mail: OutgoingEmail) -> str:
        msg = build(mail, self.from_address)
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.use_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls and not self.use_tls:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self._password)
            smtp.send_message(msg, from_addr=self.from_address, to_addrs=[mail.to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (0, b""))
            if 500 <= code < 600:  # 5xx: the server will never take this address
                raise PermanentFailure(f"recipient refused: {code} {_text(text)}") from None
            raise
        except smtplib.SMTPDataError as exc:
            if 500 <= exc.smtp_code < 600:  # 5xx on the content (size, policy): never accepted
                raise PermanentFailure(f"message refused: {exc.smtp_code} "
                                       f"{_text(exc.smtp_error)}") from None  # fmt: skip
            raise
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
        return mail.message_id


def _text(value: bytes | str) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else value)[:300]


class FileSink:
    """Each message as `<root>/<communication id>.eml`. Written atomically under the same name on
    every attempt, so a retry rewrites the file instead of adding a second one."""

    name = "file"

    def __init__(self, root: str | Path = "var/mail", from_address: str = DEFAULT_FROM) -> None:
        self.root, self.from_address = Path(root), from_address

    def path_for(self, communication_id: str) -> Path:
        return self.root / f"{communication_id}.eml"

    def send(self, mail: OutgoingEmail) -> str:
        msg = build(mail, self.from_address)
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.path_for(mail.communication_id)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(msg.as_bytes())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return mail.message_id


# --- which sender ------------------------------------------------------------------------


def install_smtp() -> dict[str, Any] | None:
    """The install-wide SMTP server from TOS_SMTP_* (None when TOS_SMTP_HOST is unset)."""
    host = os.environ.get("TOS_SMTP_HOST", "").strip()
    if not host:
        return None
    return {
        "host": host,
        "port": int(os.environ.get("TOS_SMTP_PORT") or 587),
        "username": os.environ.get("TOS_SMTP_USERNAME", ""),
        "password": os.environ.get("TOS_SMTP_PASSWORD", ""),
        "from_address": os.environ.get("TOS_SMTP_FROM") or DEFAULT_FROM,
        "starttls": _flag(os.environ.get("TOS_SMTP_STARTTLS"), default=True),
        "use_tls": _flag(os.environ.get("TOS_SMTP_TLS"), default=False),
    }


def mail_dir() -> str:
    return os.environ.get("TOS_MAIL_DIR") or str(Path("var") / "mail")


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def sender_for(org_settings: dict[str, Any] | None) -> EmailSender:
    cfg = (org_settings or {}).get("smtp")
    if cfg and cfg.get("host"):
        password = secrets.unseal(cfg["password_sealed"])["password"] if cfg.get(
            "password_sealed") else ""  # fmt: skip
        return SmtpSender(
            cfg["host"], cfg.get("port", 587), cfg.get("username", ""), password,
            use_tls=cfg.get("use_tls", False), starttls=cfg.get("starttls", True),
            from_address=cfg.get("from_address") or DEFAULT_FROM,
        )  # fmt: skip
    install = install_smtp()
    if install is not None:
        return SmtpSender(**install)
    return FileSink(mail_dir(), from_address=os.environ.get("TOS_SMTP_FROM") or DEFAULT_FROM)


def split_address(value: str) -> str:
    """The bare address of `Name <addr>` (or the value itself)."""
    return parseaddr(value)[1] or value
