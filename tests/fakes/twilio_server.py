"""A local, protocol-faithful stand-in for the part of Twilio's Programmable Messaging API TOS
uses (https://www.twilio.com/docs/messaging/api/message-resource).

Serves POST /2010-04-01/Accounts/{AccountSid}/Messages.json (form-encoded To, From, Body,
StatusCallback; answers 201 with the Message resource's JSON) and GET .../Messages/{Sid}.json.
It checks HTTP basic auth (AccountSid:AuthToken, the sid in the path must be the user) and
answers Twilio's 401 error 20003 otherwise; refuses a missing To/From/Body (21604/21603/21602)
and an invalid To (21211) with Twilio's error JSON. Like Twilio's test credentials, the magic
number +15005550001 is "not a valid phone number".

Test controls: `status_callback` builds the signed delivery report Twilio would POST to the
message's StatusCallback (X-Twilio-Signature computed here, independently of TOS, as Twilio
documents it); `post_status` sends it to TOS through a test client; `inject_error` makes the next
requests fail with 5xx / 429.

    with running_twilio_fake() as fake:
        fake.account_sid, fake.auth_token, fake.url
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from tests.fakes.signing import LocalServer, Reply

API_VERSION = "2010-04-01"
INVALID_NUMBERS = {"+15005550001"}  # Twilio's magic test number for error 21211
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def twilio_signature(url: str, params: list[tuple[str, str]], auth_token: str) -> str:
    """https://www.twilio.com/docs/usage/security#validating-requests: the full URL, then each
    POST parameter sorted by name, name and value appended; HMAC-SHA1 with the auth token;
    base64."""
    data = url
    for key, value in sorted(params):
        data += key + value
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _error(status: int, code: int, message: str) -> Reply:
    return status, {"code": code, "message": message,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status}, {}  # fmt: skip


class TwilioFake:
    def __init__(self) -> None:
        self.accounts: dict[str, str] = {}  # sid -> auth token
        self.messages: dict[str, dict[str, Any]] = {}
        self.callbacks: dict[str, str] = {}  # message sid -> its StatusCallback URL
        self.request_log: list[dict[str, Any]] = []
        self._faults: list[int] = []
        self._lock = threading.RLock()
        self._server = LocalServer(self._handle)
        self.account_sid, self.auth_token = self.add_account()

    def add_account(self) -> tuple[str, str]:
        sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        self.accounts[sid] = token
        return sid, token

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> TwilioFake:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def inject_error(self, status: int = 500, count: int = 1) -> None:
        with self._lock:
            self._faults.extend([status] * count)

    def sent(self) -> list[dict[str, Any]]:
        return list(self.messages.values())

    # --- the API ------------------------------------------------------------------------

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            parts = urlsplit(target)
            self.request_log.append({"method": method, "path": parts.path, "body": body})
            if self._faults:
                status = self._faults.pop(0)
                if status == 429:
                    return _error(429, 20429, "Too Many Requests")
                return _error(status, 20500, "Internal Server Error")
            segments = [unquote(s) for s in parts.path.strip("/").split("/")]
            match (method, segments):
                case ("POST", ["2010-04-01", "Accounts", sid, "Messages.json"]):
                    denied = self._auth(sid, headers)
                    return denied or self._create(sid, body)
                case ("GET", ["2010-04-01", "Accounts", sid, "Messages", name]):
                    denied = self._auth(sid, headers)
                    msg = self.messages.get(name.removesuffix(".json"))
                    if denied:
                        return denied
                    if msg is None or msg["account_sid"] != sid:
                        return _error(404, 20404, f"The requested resource {parts.path} "
                                                  "was not found")  # fmt: skip
                    return 200, msg, {}
            return _error(404, 20404, f"The requested resource {parts.path} was not found")

    def _auth(self, sid: str, headers: dict[str, str]) -> Reply | None:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user = password = ""
        token = self.accounts.get(user)
        if (
            scheme.lower() != "basic"
            or token is None
            or user != sid
            or not hmac.compare_digest(token, password)
        ):
            status, doc, _ = _error(401, 20003, "Authenticate")
            return status, doc, {"WWW-Authenticate": 'Basic realm="Twilio API"'}
        return None

    def _create(self, sid: str, body: bytes) -> Reply:
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        to, from_, text = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not from_:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not text:
            return _error(400, 21602, "Message body is required.")
        if not _E164.match(to) or to in INVALID_NUMBERS:
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        msid = "SM" + secrets.token_hex(16)
        now = format_datetime(dt.datetime.now(dt.UTC))
        msg = {
            "account_sid": sid, "api_version": API_VERSION, "body": text,
            "date_created": now, "date_sent": None, "date_updated": now,
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": from_, "messaging_service_sid": None, "num_media": "0",
            "num_segments": str(max(1, -(-len(text) // 153))), "price": None,
            "price_unit": "USD", "sid": msid, "status": "queued",
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{sid}/Messages/{msid}/Media.json"},
            "to": to, "uri": f"/{API_VERSION}/Accounts/{sid}/Messages/{msid}.json",
        }  # fmt: skip
        self.messages[msid] = msg
        if form.get("StatusCallback"):
            self.callbacks[msid] = form["StatusCallback"]
        return 201, msg, {}

    # --- what Twilio sends back ---------------------------------------------------------

    def status_callback(
        self,
        message_sid: str,
        status: str,
        *,
        error_code: str | None = None,
        auth_token: str | None = None,
    ) -> tuple[str, bytes, dict[str, str]]:
        """The delivery report for a message: (StatusCallback URL, form body, headers)."""
        with self._lock:
            msg = self.messages[message_sid]
            msg["status"] = status
            if error_code:
                msg["error_code"] = int(error_code)
            url = self.callbacks[message_sid]
            token = auth_token or self.accounts[msg["account_sid"]]
        params = [
            ("AccountSid", msg["account_sid"]), ("ApiVersion", API_VERSION),
            ("From", msg["from"]), ("MessageSid", message_sid), ("MessageStatus", status),
            ("SmsSid", message_sid), ("SmsStatus", status), ("To", msg["to"]),
        ]  # fmt: skip
        if error_code:
            params.append(("ErrorCode", error_code))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(url, params, token),
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            "User-Agent": "TwilioProxy/1.1",
        }
        return url, urlencode(params).encode(), headers

    def post_status(self, client: Any, message_sid: str, status: str, **kwargs: Any) -> Any:
        """POST the signed report to TOS through `client` (a TestClient: path and query of
        the callback URL, on whatever host the client serves)."""
        url, body, headers = self.status_callback(message_sid, status, **kwargs)
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return client.post(target, content=body, headers=headers)


@contextmanager
def running_twilio_fake() -> Iterator[TwilioFake]:
    fake = TwilioFake().start()
    try:
        yield fake
    finally:
        fake.stop()
