"""Request guards: the body size limit (MAX_BODY_BYTES -> 413) and the per-IP rate limit of
signup/signin (AUTH_RATE_LIMIT -> 429). The rate limit is in memory, per gateway process: with N
gateways a client gets at most N times the limit, which still stops password guessing at scale."""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import ApiError

DRAIN_LIMIT_BYTES = 1 << 20


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
        body = json.dumps({"error": {"code": "PAYLOAD_TOO_LARGE",
                                     "message": f"the body exceeds {self.max_bytes} bytes"}}).encode()
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


class RateLimiter:
    """Sliding-window-ish limit: at most `limit` hits per `window` seconds per key (fixed windows with the
    previous window weighted in, as nginx and Cloudflare do). Memory is bounded by evicting old keys."""

    def __init__(self, limit: int, window: int, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        # key -> (window index, count in it, count in the previous window)
        self._counts: OrderedDict[str, tuple[int, int, int]] = OrderedDict()

    def hit(self, key: str, now: float | None = None) -> None:
        """Count one hit; 429 with Retry-After when over the limit."""
        now = time.time() if now is None else now
        index = int(now // self.window)
        last_index, count, previous = self._counts.pop(key, (index, 0, 0))
        if last_index != index:
            previous = count if last_index == index - 1 else 0
            count = 0
        elapsed_fraction = (now % self.window) / self.window
        estimate = previous * (1 - elapsed_fraction) + count
        if estimate + 1 > self.limit:
            self._counts[key] = (index, count, previous)
            retry_after = max(1, math.ceil(self.window * (1 - elapsed_fraction)))
            raise ApiError(429, "RATE_LIMITED", f"too many attempts; retry in {retry_after}s",
                           headers={"Retry-After": str(retry_after)})
        self._counts[key] = (index, count + 1, previous)
        while len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
