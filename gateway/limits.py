"""Request guards: the body size limit (MAX_BODY_BYTES -> 413), the per-client rate limit of signup/signin
(AUTH_RATE_LIMIT -> 429, with `Retry-After` and the `RateLimit-*` headers) and the per-e-mail limit of
signin (SIGNIN_EMAIL_RATE_LIMIT -> 429 likewise), so rotating client addresses does not buy more guesses
at one account. A client is its IPv4 address or its IPv6 /64 (`client_bucket`): one subscriber usually
holds a whole /64 and can pick any address in it.

The rate limit is per platform: every gateway process counts in the same Redis bucket per client
(`RedisRateLimiter`, one atomic Lua script per hit), so N gateways allow the limit once, not N times.
When Redis fails, the limiter falls back, loudly (a warning and `gateway_rate_limit_fallback_total`), to
this process's own bucket (`RateLimiter`): signup/signin stay open during a Redis outage (fail-open),
bounded by the limit per process. Refusing every sign-in would lock all traders out; falling back lets a
guesser have at most N times the limit for as long as Redis is down."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import metrics
from gateway.errors import ApiError

log = logging.getLogger(__name__)

DRAIN_LIMIT_BYTES = 1 << 20
IPV6_CLIENT_PREFIX = 64


def client_bucket(host: str) -> str:
    """The rate-limit key of a client address: an IPv4 address as it is, an IPv6 address by its /64
    (an IPv4-mapped one as the IPv4 address); anything else (a Unix socket, "unknown") as it is."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


def email_bucket(email: str) -> str:
    """The rate-limit key of an e-mail address: a digest, so Redis never holds the addresses themselves."""
    return hashlib.sha256(email.encode()).hexdigest()[:32]


class BodySizeLimitMiddleware:
    """Reads the body (up to `max_bytes`) before the app sees it; a larger one gets 413 without the app
    running, whether announced by Content-Length or streamed chunked."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, receive: Receive, send: Send, more_body: bool) -> None:
        # Drain a modest excess so the client, still writing, reads a clean 413 instead of a reset;
        # a huge body is cut off by closing the connection.
        drained = 0
        while more_body and drained <= DRAIN_LIMIT_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            more_body = message.get("more_body", False)
        body = json.dumps(
            {"error": {"code": "PAYLOAD_TOO_LARGE", "message": f"the body exceeds {self.max_bytes} bytes"}}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if more_body:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await self._reject(receive, send, more_body=True)
                return
        chunks: list[bytes] = []
        size = 0
        replay_done: Message | None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # the client went away before the body ended: let the app see the disconnect
                replay_done = message
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._reject(receive, send, more_body=message.get("more_body", False))
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                replay_done = None
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                if replay_done is not None:
                    return replay_done
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class OpenCounts:
    """Connections open now per key (a client address), in this process: `open` refuses one beyond
    `limit`, `close` gives its place back."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def open(self, key: str, limit: int) -> bool:
        count = self._counts.get(key, 0)
        if count >= limit:
            return False
        self._counts[key] = count + 1
        return True

    def close(self, key: str) -> None:
        count = self._counts.get(key, 0) - 1
        if count > 0:
            self._counts[key] = count
        else:
            self._counts.pop(key, None)

    def of(self, key: str) -> int:
        return self._counts.get(key, 0)


@dataclass(frozen=True)
class RateDecision:
    """One hit's outcome as the `RateLimit-*` response headers tell it (the IETF httpapi draft's names,
    as venues send them): the limit, what is left of it now, seconds until the window resets."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    window: int
    # the fixed window an allowed hit was counted in, and whether in this process (`refund` takes it back)
    window_index: int = -1
    counted_locally: bool = False

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={self.window}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers

    def raise_if_limited(self) -> None:
        if not self.allowed:
            raise ApiError(
                429, "RATE_LIMITED", f"too many attempts; retry in {self.reset_seconds}s", headers=self.headers()
            )


def _decision(
    limit: int, window: int, allowed: bool, estimate: float, reset_seconds: float, index: int, local: bool
) -> RateDecision:
    remaining = max(0, math.floor(limit - estimate - (1 if allowed else 0)))
    return RateDecision(allowed, limit, remaining, max(1, math.ceil(reset_seconds)), window, index, local)


class RateLimiter:
    """Sliding-window-ish limit: at most `limit` hits per `window` seconds per key (fixed windows with the
    previous window weighted in, as nginx and Cloudflare do), in this process. Memory is bounded by
    evicting old keys."""

    def __init__(self, limit: int, window: int, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        # key -> (window index, count in it, count in the previous window)
        self._counts: OrderedDict[str, tuple[int, int, int]] = OrderedDict()

    def hit(self, key: str, now: float | None = None) -> RateDecision:
        """Count one hit (a refused one does not count)."""
        now = time.time() if now is None else now
        index = int(now // self.window)
        last_index, count, previous = self._counts.pop(key, (index, 0, 0))
        if last_index != index:
            previous = count if last_index == index - 1 else 0
            count = 0
        elapsed_fraction = (now % self.window) / self.window
        estimate = previous * (1 - elapsed_fraction) + count
        reset = self.window * (1 - elapsed_fraction)
        if estimate + 1 > self.limit:
            self._counts[key] = (index, count, previous)
            return _decision(self.limit, self.window, False, estimate, reset, -1, local=True)
        self._counts[key] = (index, count + 1, previous)
        while len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
        return _decision(self.limit, self.window, True, estimate, reset, index, local=True)

    def refund(self, key: str, window_index: int) -> None:
        """Take back one hit counted in `window_index` (it has since become the previous window, or gone)."""
        if key not in self._counts:
            return
        index, count, previous = self._counts[key]
        if index == window_index:
            self._counts[key] = (index, max(0, count - 1), previous)
        elif index == window_index + 1:
            self._counts[key] = (index, count, max(0, previous - 1))


# RateLimiter's weighted two-window count, atomic in Redis and on Redis's clock (so every gateway reads
# the same time). KEYS[1]: the client's bucket prefix; ARGV: limit, window in ms.
# Returns {allowed 0/1, the estimate x 1000, ms until the current window ends, the window's index}.
HIT_SCRIPT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local index = math.floor(now / window)
local current_key = KEYS[1] .. ':' .. index
local count = tonumber(redis.call('GET', current_key) or '0')
local previous = tonumber(redis.call('GET', KEYS[1] .. ':' .. (index - 1)) or '0')
local into = now - index * window
local estimate = previous * (window - into) / window + count
local allowed = 0
if estimate + 1 <= limit then
  allowed = 1
  redis.call('INCR', current_key)
  redis.call('PEXPIRE', current_key, 2 * window)
end
return {allowed, math.floor(estimate * 1000), window - into, index}
"""

# Takes back one hit of a window (KEYS[1]: the window's key), never below zero; a window already expired
# stays gone.
REFUND_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then
  redis.call('DECR', KEYS[1])
end
return count
"""


class RedisRateLimiter:
    """The platform-wide limit: one bucket per client in Redis under `key_prefix`, shared by every
    gateway process; this process's own `fallback` when Redis fails (see the module docstring)."""

    def __init__(self, redis: aioredis.Redis, key_prefix: str, limit: int, window: int) -> None:
        self.limit = limit
        self.window = window
        self.key_prefix = key_prefix
        self.fallback = RateLimiter(limit, window)
        self._script = redis.register_script(HIT_SCRIPT)
        self._refund = redis.register_script(REFUND_SCRIPT)

    def _bucket(self, key: str) -> str:
        return f"{self.key_prefix}{self.window}:{key}"

    async def hit(self, key: str) -> RateDecision:
        try:
            allowed, estimate_milli, reset_ms, index = await self._script(
                keys=[self._bucket(key)], args=[self.limit, self.window * 1000]
            )
        except RedisError as exc:
            metrics.RATE_LIMIT_FALLBACK.inc()
            log.warning(
                "auth rate limit: Redis failed, counting in this process only (fail-open to the per-process limit)",
                extra={"error": str(exc)},
            )
            return self.fallback.hit(key)
        estimate, reset = int(estimate_milli) / 1000, int(reset_ms) / 1000
        return _decision(self.limit, self.window, bool(allowed), estimate, reset, int(index), local=False)

    async def refund(self, key: str, decision: RateDecision) -> None:
        """Take back the hit `decision` counted: the attempt turned out not to be one the limit is about.
        Best effort: when Redis fails, the hit stays counted (the safe side of a limit)."""
        if not decision.allowed:
            return
        if decision.counted_locally:
            self.fallback.refund(key, decision.window_index)
            return
        try:
            await self._refund(keys=[f"{self._bucket(key)}:{decision.window_index}"])
        except RedisError as exc:
            log.warning("rate limit: Redis failed, a hit stays counted", extra={"error": str(exc)})
