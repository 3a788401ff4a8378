"""The pooler process, wired: feed (live, fake, sim or auto) -> bounded ingest queue -> quote book ->
publisher on a fixed cadence, plus the health/metrics HTTP server. `Pooler.run(stop)` runs until `stop`
is set, then shuts down in order: the feed closes its socket, the publisher finishes its tick, Redis and
HTTP close."""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from pooler.auto import AutoFeed
from pooler.config import PoolerSettings
from pooler.connection import FeedTiming, LiveFeed
from pooler.events import FeedEvent
from pooler.health import HealthServer
from pooler.metrics import PoolerMetrics
from pooler.publisher import Publisher
from pooler.quotes import QuoteBook, QuoteRangeError
from pooler.sim import SimFeed

log = logging.getLogger("pooler")

LIVE_SOURCE = "backpack"
FAKE_SOURCE = "fake"


class Pooler:
    def __init__(self, settings: PoolerSettings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        specs = settings.asset_specs
        self.assets = list(specs)
        self.metrics = PoolerMetrics(registry)
        self.book = QuoteBook(specs, settings.spread_bps, settings.quote_max_age_ms / 1000)
        self.ingest_queue: asyncio.Queue[FeedEvent] = asyncio.Queue(maxsize=settings.feed_queue_size)
        timing = FeedTiming(
            backoff_initial=settings.feed_backoff_initial_ms / 1000,
            backoff_max=settings.feed_backoff_max_ms / 1000,
            watchdog=settings.feed_watchdog_seconds,
            subscribe_timeout=settings.feed_subscribe_timeout_seconds,
            open_timeout=settings.feed_open_timeout_seconds,
            stable_after=settings.feed_stable_seconds,
        )
        mode = settings.feed
        self.live: LiveFeed | None = None
        self.sim: SimFeed | None = None
        self.auto: AutoFeed | None = None
        if mode != "sim":
            source = FAKE_SOURCE if mode == "fake" else LIVE_SOURCE
            self.live = LiveFeed(settings.backpack_ws_url, self.assets, source, self.enqueue, self.metrics, timing)
        if mode in ("sim", "auto"):
            self.sim = SimFeed(self.assets, self.enqueue, settings.sim_interval_ms / 1000, settings.sim_seed)
        if self.live is not None and self.sim is not None:
            self.auto = AutoFeed(self.live, self.sim, settings.feed_fallback_after_seconds, self._on_switch)
        self.active_source = self.live.source if self.live is not None else SimFeed.source
        self.metrics.active_source.labels(self.active_source).set(1)
        self.redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.publisher = Publisher(
            self.redis,
            self.book,
            lambda: self.active_source,
            self.assets,
            stream_key=settings.stream_key,
            channel=settings.price_channel,
            interval_seconds=settings.publish_interval_ms / 1000,
            metrics=self.metrics,
        )
        self.http = HealthServer(
            settings.pooler_http_host, settings.pooler_http_port, self.health, self.metrics.registry
        )
        self._started_at = time.monotonic()

    def enqueue(self, event: FeedEvent) -> None:
        """The feed's sink: never blocks the socket; when full, the oldest event goes (a newer top of the
        same market supersedes it anyway)."""
        try:
            self.ingest_queue.put_nowait(event)
        except asyncio.QueueFull:
            self.ingest_queue.get_nowait()
            self.ingest_queue.put_nowait(event)
            self.metrics.queue_dropped.inc()

    async def _ingest(self) -> None:
        refused = 0
        while True:
            event = await self.ingest_queue.get()
            try:
                self.book.apply(event)
            except QuoteRangeError as exc:
                # counted with the frames the parser refuses: one bad value, skipped; the rest go on
                self.metrics.parse_errors.labels(event.source, exc.reason).inc()
                refused += 1
                if refused <= 5 or refused % 1000 == 0:
                    log.warning(
                        "ignoring a top without a platform quote: %s",
                        exc,
                        extra={"source": event.source, "count": refused},
                    )

    def _on_switch(self, previous: str, source: str) -> None:
        self.active_source = source
        self.metrics.active_source.labels(previous).set(0)
        self.metrics.active_source.labels(source).set(1)
        self.metrics.fallback.set(1 if self.auto is not None and self.auto.in_fallback else 0)

    async def _run_feed(self) -> None:
        if self.auto is not None:
            await self.auto.run()
        elif self.live is not None:
            await self.live.run()
        elif self.sim is not None:
            await self.sim.run()

    async def run(self, stop: asyncio.Event) -> None:
        await self.http.start()
        self._started_at = time.monotonic()
        s = self.settings
        log.info(
            "pooler started: feed=%s url=%s assets=%s every %dms, health on :%d",
            s.feed,
            s.backpack_ws_url if self.live else "-",
            ",".join(self.assets),
            s.publish_interval_ms,
            self.http.port,
            extra={"stream": s.stream_key, "channel": s.price_channel},
        )
        tasks = [
            asyncio.create_task(self._ingest(), name="ingest"),
            asyncio.create_task(self._run_feed(), name="feed"),
            asyncio.create_task(self.publisher.run(stop), name="publisher"),
        ]
        stopped = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped and task.exception() is not None:
                    log.critical("pooler task %s crashed", task.get_name(), exc_info=task.exception())
                    raise task.exception()  # type: ignore[misc]
        finally:
            stop.set()
            stopped.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.redis.aclose()
            await self.http.stop()
            log.info("pooler stopped", extra={"published": self.publisher.status.published})

    def health(self) -> tuple[int, dict[str, object]]:
        now = time.monotonic()
        s = self.settings
        quotes, fresh = self._quote_health(now)
        pub = self.publisher.status
        since_publish = None if pub.last_published_at is None else now - pub.last_published_at
        publishing = since_publish is not None and since_publish <= max(2.0, 5 * s.publish_interval_ms / 1000)
        fallback = self.auto is not None and self.auto.in_fallback
        if publishing:
            status = "ok" if fresh == len(self.assets) and not fallback else "degraded"
        else:
            status = "starting" if pub.published == 0 and now - self._started_at < s.quote_max_age_ms / 1000 else "down"
        document: dict[str, object] = {
            "status": status,
            "feed": self._feed_health(now, fallback),
            "quotes": quotes,
            "publisher": {
                "published": pub.published,
                "skipped_ticks": pub.skipped,
                "errors": pub.errors,
                "stream_length": pub.stream_length,
                "last_publish_age_ms": None if since_publish is None else round(since_publish * 1000),
                "last_error": pub.last_error,
                "interval_ms": s.publish_interval_ms,
            },
        }
        return (200 if status in ("ok", "degraded") else 503), document

    def _quote_health(self, now: float) -> tuple[dict[str, object], int]:
        """Each asset's latest quote of the active source with its age, and how many are fresh."""
        source = self.active_source
        quotes: dict[str, object] = {}
        fresh = 0
        for asset in self.assets:
            age = self.book.age(source, asset, now)
            quote = self.book.latest(source, asset)
            is_fresh = age is not None and age * 1000 <= self.settings.quote_max_age_ms
            fresh += is_fresh
            quotes[asset] = (
                None
                if quote is None
                else {
                    "age_ms": round(age * 1000) if age is not None else None,
                    "fresh": is_fresh,
                    "buy_price": quote.buy_price,
                    "sell_price": quote.sell_price,
                    "decimal": quote.decimal,
                }
            )
        return quotes, fresh

    def _feed_health(self, now: float, fallback: bool) -> dict[str, object]:
        source = self.active_source
        feed: dict[str, object] = {
            "mode": self.settings.feed,
            "source": source,
            "fallback": fallback,
            "simulated": source == SimFeed.source,
        }
        if self.live is not None:
            live = self.live.status
            feed["live"] = {
                "url": self.live.url,
                "connected": live.connected,
                "delivering": live.delivering,
                "connections": live.connections,
                "reconnects": max(0, live.connections - 1),
                "consecutive_failures": live.failures,
                "last_error": live.last_error,
                "silent_symbols": live.silent_symbols,
                "last_frame_age_ms": None if live.last_frame_at is None else round((now - live.last_frame_at) * 1000),
            }
        return feed
