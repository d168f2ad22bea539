"""A source website's webhook endpoint (seed 002's `POST /api/webhooks/onebooking`): a real
socket server that verifies every request with the source-website kit (the seed's
verifyWebhookSignature plus a timestamp tolerance), records it, and answers scripted statuses."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from onebooking_kit import InvalidSignature, parse_webhook
from tests.fakes.signing import LocalServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    event: object | None  # the kit's WebhookEvent when it verified, else None


@dataclass
class WebsiteReceiver:
    secret: str = ""
    script: list[int] = field(default_factory=list)  # statuses to answer first (then 200)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.server = LocalServer(self._handle)

    def _handle(self, method, path, headers, body):
        try:
            event = parse_webhook(headers, body, self.secret)
        except InvalidSignature:
            event = None
        with self.lock:
            self.received.append(Received(headers, body, event))
            status = self.script.pop(0) if self.script else 200
        if event is None:
            return 401, {"success": False, "error": "invalid signature"}, {}
        if status >= 300:
            return status, {"success": False, "error": "try later"}, {}
        return 200, {"success": True, "message": "Booking updated"}, {}

    @property
    def url(self) -> str:
        return self.server.url + "/api/webhooks/onebooking"

    @property
    def verified(self) -> list:
        return [r.event for r in self.received if r.event is not None]

    def __enter__(self) -> WebsiteReceiver:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
