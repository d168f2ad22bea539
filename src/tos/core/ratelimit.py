"""Per-client-IP limits for the unauthenticated /public/v1 endpoints (API.md: "rate-limited").

A fixed window per (bucket, IP): at most N requests per window, then 429 RATE_LIMITED with
Retry-After until the window ends. Counted in this process by default; with TOS_REDIS_URL set,
in Redis (INCR + EXPIRE), so every process of the install shares one count.

Limits come from the environment, read when the limiter is first used (and on `reset()`):
TOS_PUBLIC_RATE_WRITE (checkout, cancel; default "30/60" = 30 per 60 s) and
TOS_PUBLIC_RATE_LOOKUP (booking lookups; default "60/60") and TOS_PUBLIC_RATE_SYNC (seed 002's
sync, per website key; default "6000/60"); "N" alone means N per minute.
The client is request.client.host; X-Forwarded-For is believed only with TOS_TRUST_PROXY=1."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from tos.config import get_settings
from tos.core.clock import utcnow
from tos.core.errors import AppError
from tos.core.http import error_body

log = logging.getLogger("tos.ratelimit")

# sync: per source website (seed 002 §Security "Rate Limiting"), keyed by the website, not IP.
DEFAULTS = {"write": "30/60", "lookup": "60/60", "sync": "6000/60"}
_INIT_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    window_s: int


class RateLimited(AppError):
    status_code = 429
    code = "RATE_LIMITED"
    message = "Too many requests; retry later"

    def __init__(self, bucket: str, limit: Limit, retry_after: int):
        super().__init__(
            f"at most {limit.count} requests per {limit.window_s} s",
            details={"bucket": bucket, "limit": limit.count, "window_seconds": limit.window_s,
                     "retry_after": retry_after},
        )  # fmt: skip
        self.retry_after = retry_after


def parse_limit(text: str) -> Limit:
    count, _, window = text.strip().partition("/")
    limit = Limit(int(count), int(window or 60))
    if limit.count < 1 or limit.window_s < 1:
        raise ValueError(f"rate limit must be N or N/SECONDS with both >= 1, not {text!r}")
    return limit


def _limits_from_env() -> dict[str, Limit]:
    out = {}
    for bucket, default in DEFAULTS.items():
        raw = os.environ.get(f"TOS_PUBLIC_RATE_{bucket.upper()}", default)
        try:
            out[bucket] = parse_limit(raw)
        except ValueError:
            log.warning("bad TOS_PUBLIC_RATE_%s=%r; using %s", bucket.upper(), raw, default)
            out[bucket] = parse_limit(default)
    return out


class Backend(Protocol):
    def hit(self, key: str, window_s: int) -> int:
        """Count one request under `key` (one window's key); returns the count so far."""
        ...

    def reset(self) -> None: ...


class MemoryBackend:
    """One process's counts. A key names its window, so a key past its window is never hit
    again: those are dropped every few seconds, which bounds memory by the clients of the
    last window."""

    PRUNE_EVERY_S = 10.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, drop after)
        self._next_prune = 0.0

    def hit(self, key: str, window_s: int) -> int:
        now = time.monotonic()
        with self._lock:
            if now >= self._next_prune:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
                self._next_prune = now + self.PRUNE_EVERY_S
            count, drop_after = self._counts.get(key, (0, now + window_s + 1))
            self._counts[key] = (count + 1, drop_after)
            return count + 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class RedisBackend:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def hit(self, key: str, window_s: int) -> int:
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, window_s + 1)  # the key outlives its window only by a second
        count, _ = pipe.execute()
        return int(count)

    def reset(self) -> None:
        keys = list(self._redis.scan_iter(match="tos:ratelimit:*"))
        if keys:
            self._redis.delete(*keys)


class Limiter:
    def __init__(
        self, backend: Backend | None = None, limits: dict[str, Limit] | None = None
    ) -> None:
        self._backend = backend
        self._given = limits  # else read from the environment
        self._limits = limits

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            with _INIT_LOCK:  # two first requests at once must share one count
                if self._backend is None:
                    url = get_settings().redis_url
                    self._backend = RedisBackend(url) if url else MemoryBackend()
        return self._backend

    def limit(self, bucket: str) -> Limit:
        if self._limits is None:
            self._limits = _limits_from_env()
        return self._limits[bucket]

    def check(self, bucket: str, client: str) -> None:
        """Count a request of `client` in `bucket`; RateLimited once past the limit."""
        limit = self.limit(bucket)
        now = utcnow().timestamp()
        window = int(now // limit.window_s)
        key = f"tos:ratelimit:{bucket}:{client}:{window}"
        try:
            count = self.backend.hit(key, limit.window_s)
        except Exception:  # noqa: BLE001 - a limiter outage must not take checkout down
            log.warning("rate limiter unavailable; letting the request through", exc_info=True)
            return
        if count > limit.count:
            retry_after = max(math.ceil((window + 1) * limit.window_s - now), 1)
            raise RateLimited(bucket, limit, retry_after)

    def reset(self, backend: Backend | None = None) -> None:
        """Forget every count and re-read the limits (tests; after changing the environment)."""
        if backend is not None:
            self._backend = backend
        self._limits = self._given
        if self._backend is not None:
            self._backend.reset()


limiter = Limiter()


def client_ip(request: Request) -> str:
    if os.environ.get("TOS_TRUST_PROXY") == "1":
        # The last hop is the one our own proxy appended; earlier ones are the client's claims.
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.client.host if request.client else "unknown"


def rate_limit(bucket: str) -> Callable[[Request], None]:
    """A route dependency counting the request against `bucket`."""
    limiter.limit(bucket)  # an unknown bucket fails at import, not on the first request

    def dependency(request: Request) -> None:
        limiter.check(bucket, client_ip(request))

    dependency.__name__ = f"rate_limit_{bucket}"
    return dependency


class RateLimitedRoute(APIRoute):
    """Renders RateLimited with its Retry-After header (the shared AppError handler sets no
    headers)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Any:
            try:
                return await handler(request)
            except RateLimited as exc:
                return JSONResponse(
                    error_body(exc.code, exc.message, exc.details),
                    status_code=exc.status_code,
                    headers={"Retry-After": str(exc.retry_after)},
                )

        return route_handler
