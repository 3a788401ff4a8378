"""The publisher: every PUBLISH_INTERVAL_MS, the latest fresh quote of each asset, dated by when the feed
last produced or confirmed it (`confirmed_at_ms`), goes to the engine's stream (a `Command{price_update}`)
and to the gateways' pub/sub channel (the bare `PriceUpdate`), in one pipelined round trip. A tick with
nothing fresh publishes nothing. Redis failures are counted and logged; the next tick simply tries again.

The XADD never trims: the stream is the engine's log, and only the engine may cut it, below its oldest
kept snapshot. A cap here would, during a long enough engine outage, delete commands no snapshot holds.
The growth is made visible instead: the stream's length, read in the same round trip (XLEN is O(1)),
is the gauge `pooler_stream_length` and part of /healthz."""

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
    # the stream's length after the last publish: grows while no engine trims it
    stream_length: int | None = None
    last_error: str | None = None


def price_update(quotes: list[tuple[PlatformQuote, int]], source: str, published_at_ms: int) -> market_pb2.PriceUpdate:
    """The update of `quotes`, each with the wall-clock time (ms) the feed last produced or confirmed it."""
    return market_pb2.PriceUpdate(
        quotes=[
            market_pb2.Quote(
                asset=q.asset,
                buy_price=q.buy_price,
                sell_price=q.sell_price,
                decimal=q.decimal,
                venue_time_ms=q.venue_time_ms,
                confirmed_at_ms=confirmed_ms,
            )
            for q, confirmed_ms in quotes
        ],
        published_at_ms=published_at_ms,
        source=source,
    )


class Publisher:
    def __init__(
        self,
        redis: aioredis.Redis,
        book: QuoteBook,
        active_source: Callable[[], str],
        assets: list[str],
        *,
        stream_key: str,
        channel: str,
        interval_seconds: float,
        metrics: PoolerMetrics,
    ) -> None:
        self.status = PublisherStatus()
        self._redis = redis
        self._book = book
        self._active_source = active_source
        self._assets = assets
        self._stream_key = stream_key
        self._channel = channel
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
        now, published_at_ms = time.monotonic(), time.time_ns() // 1_000_000
        source = self._active_source()
        for asset in self._assets:
            age = self._book.age(source, asset, now)
            if age is not None:
                self._metrics.quote_age.labels(asset).set(age)
        quotes = self._book.fresh_confirmed(source, now)
        if not quotes:
            self.status.skipped += 1
            self._metrics.publish_skipped.inc()
            return False
        update = price_update(quotes, source, published_at_ms)
        # redis-py's field type is a wide union; the codec's dict[str, bytes] is one of its members
        fields: dict[Any, Any] = encode_command(commands_pb2.Command(price_update=update))
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                # no MAXLEN/MINID: only the engine trims its log (see the module docstring)
                pipe.xadd(self._stream_key, fields)
                pipe.publish(self._channel, encode_price_update(update))
                pipe.xlen(self._stream_key)
                _, _, length = await pipe.execute()
        except (RedisError, OSError) as exc:
            self.status.errors += 1
            self._metrics.publish_errors.inc()
            # one line per failure burst, not one per 100 ms tick
            if self._last_logged_error is None or now - self._last_logged_error > 5:
                self._last_logged_error = now
                log.error("publishing to Redis failed: %s", exc, extra={"errors": self.status.errors})
            self.status.last_error = f"{type(exc).__name__}: {exc}"
            return False
        self.status.published += 1
        self.status.stream_length = int(length)
        self._metrics.stream_length.set(int(length))
        self.status.last_published_at = time.monotonic()
        self._metrics.publishes.inc()
        self._metrics.publish_lag.observe(max(0.0, self.status.last_published_at - scheduled))
        return True
