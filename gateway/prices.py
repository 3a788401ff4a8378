"""Live prices for browsers: ONE Redis pub/sub subscription per gateway process (PRICE_CHANNEL, protobuf
PriceUpdate), fanned out to every WebSocket client as JSON
`{"type": "PRICE_UPDATE", "prices": {SYM: {buyPrice, sellPrice, decimal, ts}}}`.

Each client has its own sender task and a one-slot mailbox that conflates: while a client is busy, newer
quotes replace older ones per symbol, so a slow client always receives the latest prices and never
holds up the others (the subscriber loop never awaits a client).

The same subscription carries the candle builder's live candles (CANDLE_CHANNEL) to the clients that
subscribed to them (gateway.live_candles), conflated per (asset, interval) the same way."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway import metrics
from gateway.live_candles import CandleKey, candle_messages
from gateway.translate import quote_json
from mesh.stream_codec import CodecError, decode_price_update

log = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0

SendText = Callable[[str], Awaitable[None]]
# answers to a client's own messages waiting to be sent, at most: a client that keeps sending without
# reading would otherwise grow them without bound; beyond, its socket is closed with 1008
MAX_QUEUED_REPLIES = 256


class PriceSubscriber:
    """One browser's mailbox: the newest quote per symbol not yet sent."""

    def __init__(self, send_text: SendText) -> None:
        self._send_text = send_text
        self._pending: dict[str, dict[str, int]] = {}
        self._wake = asyncio.Event()
        self.closed = False
        # the (asset, interval) pairs this client subscribed to, their newest unsent CANDLE messages, and
        # the answers to its own messages (sent in order, before anything else)
        self.candle_keys: set[CandleKey] = set()
        self._pending_candles: dict[CandleKey, str] = {}
        self._replies: list[str] = []
        # set when the client sent more messages than it read answers (MAX_QUEUED_REPLIES)
        self.flooded = False

    def offer(self, quotes: dict[str, dict[str, int]]) -> None:
        if self._pending:
            metrics.WS_CONFLATED.inc()
        self._pending.update(quotes)
        self._wake.set()

    def offer_candle(self, key: CandleKey, message: str) -> None:
        if key in self.candle_keys:
            self._pending_candles[key] = message
            self._wake.set()

    def reply(self, message: str) -> None:
        if len(self._replies) >= MAX_QUEUED_REPLIES:
            self.flooded = True
            self.close()
            return
        self._replies.append(message)
        self._wake.set()

    async def run(self) -> None:
        """Send until the socket fails or the subscriber is closed."""
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            replies, self._replies = self._replies, []
            for message in replies:
                await self._send_text(message)
            if self._pending:
                prices, self._pending = self._pending, {}
                await self._send_text(json.dumps({"type": "PRICE_UPDATE", "prices": prices}, separators=(",", ":")))
            candles, self._pending_candles = self._pending_candles, {}
            for message in candles.values():
                await self._send_text(message)

    def close(self) -> None:
        self.closed = True
        self._wake.set()


class PriceHub:
    def __init__(self, redis: aioredis.Redis, channel: str, candle_channel: str | None = None) -> None:
        self._redis = redis
        self._channel = channel
        self._candle_channel = candle_channel
        self._subscribers: set[PriceSubscriber] = set()
        # the newest quote of every symbol, sent to a client as soon as it connects
        self.latest: dict[str, dict[str, int]] = {}
        # the newest CANDLE message of every (asset, interval), sent to a client as it subscribes
        self.latest_candles: dict[CandleKey, str] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="price-hub")

    async def close(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.close()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def add(self, send_text: SendText) -> PriceSubscriber:
        subscriber = PriceSubscriber(send_text)
        self._subscribers.add(subscriber)
        metrics.WS_CLIENTS.set(len(self._subscribers))
        if self.latest:
            subscriber.offer(dict(self.latest))
        return subscriber

    def remove(self, subscriber: PriceSubscriber) -> None:
        subscriber.close()
        self._subscribers.discard(subscriber)
        metrics.WS_CLIENTS.set(len(self._subscribers))

    def publish_local(self, data: bytes) -> None:
        """Fan one pub/sub payload out to every subscriber (never awaits a client)."""
        try:
            update = decode_price_update(data)
        except CodecError as exc:
            log.warning("dropping a malformed price message", extra={"error": str(exc)})
            return
        quotes = {quote.asset: quote_json(quote, update.published_at_ms) for quote in update.quotes if quote.asset}
        if not quotes:
            return
        metrics.PRICE_MESSAGES.inc()
        self.latest.update(quotes)
        for subscriber in self._subscribers:
            subscriber.offer(quotes)

    def subscribe_candles(self, subscriber: PriceSubscriber, keys: set[CandleKey]) -> None:
        subscriber.candle_keys |= keys
        for key in keys:
            if key in self.latest_candles:
                subscriber.offer_candle(key, self.latest_candles[key])

    def publish_candles_local(self, data: bytes) -> None:
        """Fan one pub/sub payload of live candles out to the clients subscribed to them."""
        try:
            messages = candle_messages(data)
        except ValueError as exc:
            log.warning("dropping a malformed candle message", extra={"error": str(exc)})
            return
        self.latest_candles.update(messages)
        for subscriber in self._subscribers:
            if subscriber.candle_keys:
                for key, message in messages.items():
                    subscriber.offer_candle(key, message)

    def _dispatch(self, message: dict[str, object]) -> None:
        data = message["data"]
        assert isinstance(data, bytes)
        channel = message.get("channel")
        if self._candle_channel is not None and channel in (self._candle_channel, self._candle_channel.encode()):
            self.publish_candles_local(data)
        else:
            self.publish_local(data)

    async def _listen(self) -> None:
        backoff = RECONNECT_MIN_SECONDS
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*filter(None, (self._channel, self._candle_channel)))
                metrics.PRICE_SUBSCRIPTION_UP.set(1)
                backoff = RECONNECT_MIN_SECONDS
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._dispatch(message)
            except (RedisError, OSError) as exc:
                log.warning("price subscription lost", extra={"error": str(exc)})
            except Exception:
                log.exception("price subscription broke unexpectedly")
            finally:
                metrics.PRICE_SUBSCRIPTION_UP.set(0)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)
