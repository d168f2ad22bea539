"""Shared by the provider fakes: the providers' real webhook signing schemes, their id shapes,
and the plumbing that runs a fake as a local HTTP server in a background thread."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """`pi_3MtwBwLkdIwHu7ix28a3tqPa` (Stripe, 24) / `order_DBJOWzybf0sJbb` (Razorpay, 14)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def stripe_signature_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={hmac_sha256_hex(secret, f'{t}.'.encode() + body)}"


def razorpay_signature(body: bytes, secret: str) -> str:
    """X-Razorpay-Signature: hex HMAC-SHA256(webhook secret, raw body)."""
    return hmac_sha256_hex(secret, body)


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, indent=2).encode()  # pretty, like the providers send


# A handler returns (status, JSON document, extra headers).
Reply = tuple[int, Any, dict[str, str]]
Handler = Callable[[str, str, dict[str, str], bytes], Reply]


class LocalServer:
    """A ThreadingHTTPServer on 127.0.0.1:<free port> that hands every request to `handle`
    (method, path with query, lower-cased headers, raw body). HTTP/1.0: one request per
    connection, so stopping it never leaves a client holding a dead keep-alive socket."""

    def __init__(self, handle: Handler) -> None:
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, doc, extra = handle(self.command, self.path, headers, body)
                except Exception as exc:  # a bug in the fake: answer like a provider's 500
                    status, doc, extra = 500, {"error": {"message": repr(exc)}}, {}
                    outer.errors.append(exc)
                payload = dumps(doc)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        self.errors: list[Exception] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


class FakeProvider:
    """What both fakes share: the local server, per-object ownership, idempotency replay
    memory, injected faults, and the logs tests read."""

    def __init__(self, *, refund_status: str) -> None:
        self.refund_status = refund_status  # the status new refunds get
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.request_log: list[dict[str, Any]] = []
        self._owner: dict[str, str] = {}  # object id -> account id
        self._idempotent: dict[tuple[str, str], tuple[Any, Reply]] = {}
        self._faults: list[int] = []
        self._lock = threading.RLock()
        self._server = LocalServer(self._handle)

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return self._server.url

    def stop(self) -> None:
        self._server.stop()

    def inject_error(self, status: int = 500, count: int = 1) -> None:
        """The next `count` API requests answer `status` (5xx: a server error, 429: too many)."""
        with self._lock:
            self._faults.extend([status] * count)
