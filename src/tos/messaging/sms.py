"""SMS out through a Twilio-compatible HTTP API, or into a directory of files.

Which one an organization uses (`sender_for`): its own Twilio account (settings["sms"], the
auth token sealed, set by PUT /api/v1/messaging/sms); else the install-wide TOS_TWILIO_*
variables; else the SmsFileSink under var/sms/, so a fresh install never texts anyone.

Twilio (https://www.twilio.com/docs/messaging/api/message-resource): POST
/2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded To, From, Body, StatusCallback,
HTTP basic auth AccountSid:AuthToken; answers 201 with the message's JSON (its `sid`). Twilio has
no idempotency key for messages: a retry after a crash between the send and the commit can text
twice (at least once). Delivery reports come back to StatusCallback, signed with
X-Twilio-Signature (see `signature`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from tos.messaging.email import PermanentFailure
from tos.payments import secrets

TWILIO_API = "https://api.twilio.com"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# 4xx that say nothing about this message: the account or the rate. Retried (then parked as a
# dead letter staff can replay once the account is fixed) rather than failing every message.
_RETRYABLE_4XX = {401, 403, 408, 429}


class TransientFailure(Exception):
    """The provider could not take the message now; the outbox retries it."""


class SmsSender(Protocol):
    name: str

    def send(self, to: str, body: str, *, status_callback: str | None, reference: str) -> str:
        """Send; return the provider's message id."""
        ...


class TwilioSender:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base: str = TWILIO_API,
        *,
        timeout: float = 30.0,
    ) -> None:
        self.account_sid, self._auth_token, self.from_number = account_sid, auth_token, from_number
        self.api_base = (api_base or TWILIO_API).rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:  # never the token
        return f"TwilioSender({self.account_sid}, {self.api_base})"

    def send(
        self, to: str, body: str, *, status_callback: str | None = None, reference: str = ""
    ) -> str:
        if not E164.match(to or ""):
            raise PermanentFailure(f"invalid phone number {to!r}")
        form = {"To": to, "From": self.from_number, "Body": body}
        if status_callback:
            form["StatusCallback"] = status_callback
        sid = urllib.parse.quote(self.account_sid, safe="")
        url = f"{self.api_base}/2010-04-01/Accounts/{sid}/Messages.json"
        auth = base64.b64encode(f"{self.account_sid}:{self._auth_token}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - api_base is http(s), set by an admin
            url,
            data=urllib.parse.urlencode(form).encode(),
            method="POST",
            headers={"Authorization": f"Basic {auth}", "Accept": "application/json",
                     "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                doc = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            if 400 <= exc.code < 500 and exc.code not in _RETRYABLE_4XX:
                raise PermanentFailure(f"twilio {exc.code}: {detail}") from None
            raise TransientFailure(f"twilio {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TransientFailure(f"twilio unreachable: {exc}") from None
        message_sid = doc.get("sid") if isinstance(doc, dict) else None
        if not message_sid:
            raise TransientFailure("twilio answered without a message sid")
        return str(message_sid)


def _error_detail(exc: urllib.error.HTTPError) -> str:
    # Twilio's error body: {"code": 21211, "message": "...", "more_info": "...", "status": 400}
    try:
        doc = json.loads(exc.read() or b"{}")
        return f"{doc.get('code', '')} {doc.get('message', '')}".strip()[:400]
    except (ValueError, OSError):
        return exc.reason if isinstance(exc.reason, str) else "error"


class SmsFileSink:
    """Each text as `<root>/<communication id>.json` (rewritten on a retry, never duplicated)."""

    name = "file"

    def __init__(self, root: str | Path = "var/sms", from_number: str = "") -> None:
        self.root, self.from_number = Path(root), from_number

    def send(
        self, to: str, body: str, *, status_callback: str | None = None, reference: str = ""
    ) -> str:
        if not E164.match(to or ""):
            raise PermanentFailure(f"invalid phone number {to!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        doc = {"to": to, "from": self.from_number, "body": body, "reference": reference}
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, ensure_ascii=False, indent=2)
            os.replace(tmp, self.root / f"{reference}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return f"file:{reference}"


# --- which sender ------------------------------------------------------------------------


def install_twilio() -> dict[str, str] | None:
    """The install-wide account from TOS_TWILIO_* (None when the account sid is unset)."""
    sid = os.environ.get("TOS_TWILIO_ACCOUNT_SID", "").strip()
    if not sid:
        return None
    return {
        "account_sid": sid,
        "auth_token": os.environ.get("TOS_TWILIO_AUTH_TOKEN", ""),
        "from_number": os.environ.get("TOS_TWILIO_FROM", ""),
        "api_base": os.environ.get("TOS_TWILIO_API_BASE") or TWILIO_API,
    }


def sms_dir() -> str:
    return os.environ.get("TOS_SMS_DIR") or str(Path("var") / "sms")


def account_for(org_settings: dict[str, Any] | None) -> dict[str, str] | None:
    """The Twilio account that sends (and whose token signs the callbacks) for an organization:
    its own, else the install's; None means the file sink."""
    cfg = (org_settings or {}).get("sms")
    if cfg and cfg.get("account_sid"):
        token = secrets.unseal(cfg["auth_token_sealed"])["auth_token"]
        return {"account_sid": cfg["account_sid"], "auth_token": token,
                "from_number": cfg.get("from_number", ""),
                "api_base": cfg.get("api_base") or TWILIO_API}  # fmt: skip
    return install_twilio()


def sender_for(org_settings: dict[str, Any] | None) -> SmsSender:
    account = account_for(org_settings)
    if account is None:
        return SmsFileSink(sms_dir())
    return TwilioSender(
        account["account_sid"], account["auth_token"], account["from_number"], account["api_base"]
    )


# --- the delivery-status callback's signature ---------------------------------------------


def signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """X-Twilio-Signature as Twilio documents it (https://www.twilio.com/docs/usage/security):
    the full URL Twilio requested (with its query string), then every POST parameter sorted by
    name (values of a repeated name sorted too), each as name + value with no separators; HMAC-
    SHA1 keyed with the auth token; base64."""
    payload = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def valid_signature(
    urls: Iterable[str], params: list[tuple[str, str]], auth_token: str, given: str
) -> bool:
    """Whether `given` signs the request under any of the URLs it may have been sent to
    (the public URL TOS gave Twilio, or the URL as this server saw it), in constant time."""
    if not given or not auth_token:
        return False
    ok = False
    for url in urls:
        ok |= hmac.compare_digest(signature(url, params, auth_token).encode(), given.encode())
    return ok
