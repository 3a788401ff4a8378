"""The publisher: every PUBLISH_INTERVAL_MS, the latest fresh quote of each asset goes to the engine's
stream (a `Command{price_update}`, XADD with an approximate MAXLEN as a safety net) and to the gateways'
pub/sub channel (the bare `PriceUpdate`), in one pipelined round trip. A tick with nothing fresh
publishes nothing. Redis failures are counted and logged; the next tick simply tries again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2
from redis.exceptions import RedisError

from mesh.stream_codec import encode_command, encode_price_update
from pooler.metrics import PoolerMetrics
from pooler.quotes import PlatformQuote, QuoteBook

log = logging.getLogger("pooler.publisher")


@dataclass(slots=True)
class PublisherStatus:
    published: int = 0
    skipped: int = 0
    errors: int = 0
    last_published_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None


def price_update(quotes: list[PlatformQuote], source: str, published_at_ms: int) -> market_pb2.PriceUpdate:
    return market_pb2.PriceUpdate(
        quotes=[market_pb2.Quote(asset=q.asset, buy_price=q.buy_price, sell_price=q.sell_price, decimal=q.decimal,
                                 venue_time_ms=q.venue_time_ms) for q in quotes],
        published_at_ms=published_at_ms,
        source=source,
    )


class Publisher:
    def __init__(self, redis: aioredis.Redis, book: QuoteBook, active_source: Callable[[], str], assets: list[str],
                 *, stream_key: str, channel: str, stream_maxlen: int, interval_seconds: float,
                 metrics: PoolerMetrics) -> None:
        self.status = PublisherStatus()
        self._redis = redis
        self._book = book
        self._active_source = active_source
        self._assets = assets
        self._stream_key = stream_key
        self._channel = channel
        self._maxlen = stream_maxlen
        self._interval = interval_seconds
        self._metrics = metrics
        self._last_logged_error: float | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Publish on a fixed cadence until `stop` is set; a tick that overran skips the ticks it missed
        instead of bursting to catch up."""
        next_tick = time.monotonic()
        while not stop.is_set():
            next_tick += self._interval
            now = time.monotonic()
            if next_tick < now:
                next_tick = now
            else:
                try:
                    async with asyncio.timeout(next_tick - now):
                        await stop.wait()
                    return
                except TimeoutError:
                    pass
            await self.publish_once(next_tick)

    async def publish_once(self, scheduled: float) -> bool:
        now = time.monotonic()
        source = self._active_source()
        for asset in self._assets:
            age = self._book.age(source, asset, now)
            if age is not None:
                self._metrics.quote_age.labels(asset).set(age)
        quotes = self._book.fresh(source, now)
        if not quotes:
            self.status.skipped += 1
            self._metrics.publish_skipped.inc()
            return False
        update = price_update(quotes, source, time.time_ns() // 1_000_000)
        # redis-py's field type is a wide union; the codec's dict[str, bytes] is one of its members
        fields: dict[Any, Any] = encode_command(commands_pb2.Command(price_update=update))
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._stream_key, fields, maxlen=self._maxlen, approximate=True)
                pipe.publish(self._channel, encode_price_update(update))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self.status.errors += 1
            self._metrics.publish_errors.inc()
            # one line per failure burst, not one per 100 ms tick
            if self._last_logged_error is None or now - self._last_logged_error > 5:
                self._last_logged_error = now
                log.error("publishing to Redis failed: %s", exc, extra={"errors": self.status.errors})
            self.status.last_error = f"{type(exc).__name__}: {exc}"
            self.status.last_error_at = now
            return False
        self.status.published += 1
        self.status.last_published_at = time.monotonic()
        self._metrics.publishes.inc()
        self._metrics.publish_lag.observe(max(0.0, self.status.last_published_at - scheduled))
        return True
