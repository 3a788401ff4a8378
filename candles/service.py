"""The candle builder process: the gRPC CandleService (with health and reflection; SERVING once the
migrations are at head, retried while PostgreSQL is unreachable), the builder loop, the backfill on start
(and after a gap), and the live candles published on CANDLE_CHANNEL after each commit. SIGTERM stops the
loop between batches; a SIGKILL loses nothing (the saved cursor)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from exness.market.v1 import candles_pb2
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from candles import metrics
from candles.aggregation import BucketKey, Candle
from candles.backfill import fetch_history
from candles.builder import RETRY_MAX_SECONDS, RETRY_MIN_SECONDS, CandleBuilder, StreamReader
from candles.config import CandleSettings
from candles.entries import parse_id
from candles.servicer import CandleServicer, binding
from candles.store import Gap, insert_history, make_engine
from mesh.candle_intervals import INTERVAL_BY_NAME
from mesh.grpc_server import GrpcServer, wait_for_shutdown_signal
from mesh.postgres import upgrade_to_head
from mesh.units import AssetSpec

log = logging.getLogger("candles")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def live_updates(merged: list[tuple[BucketKey, Candle]], specs: dict[str, AssetSpec]) -> candles_pb2.CandleUpdates:
    """The newest bucket of each (asset, interval) among a commit's merged rows."""
    newest: dict[tuple[str, str], tuple[int, Candle]] = {}
    for (asset, interval, start), candle in merged:
        known = newest.get((asset, interval))
        if known is None or start > known[0]:
            newest[(asset, interval)] = (start, candle)
    return candles_pb2.CandleUpdates(
        updates=[
            candles_pb2.CandleUpdate(
                asset=asset,
                interval=INTERVAL_BY_NAME[interval],
                decimal=specs[asset].decimal,
                candle=candles_pb2.Candle(
                    time_ms=start, open=c.open, high=c.high, low=c.low, close=c.close, ticks=c.ticks
                ),
            )
            for (asset, interval), (start, c) in newest.items()
        ]
    )


class LivePublisher:
    """PUBLISHes a commit's live candles; a Redis failure loses only this message (clients also poll)."""

    def __init__(self, redis: aioredis.Redis, channel: str, specs: dict[str, AssetSpec]) -> None:
        self._redis = redis
        self._channel = channel
        self._specs = specs

    async def publish(self, merged: list[tuple[BucketKey, Candle]]) -> None:
        if not merged:
            return
        try:
            await self._redis.publish(self._channel, live_updates(merged, self._specs).SerializeToString())
        except (RedisError, OSError) as exc:
            log.warning("publishing live candles failed", extra={"error": str(exc)[:200]})


class Backfiller:
    def __init__(self, db: AsyncEngine, settings: CandleSettings) -> None:
        self._db = db
        self._settings = settings
        self._tasks: set[asyncio.Task[int]] = set()

    async def run(self, until_ms: int, since_ms: int | None = None) -> int:
        """Fetch and insert the history ending by `until_ms`; returns how many buckets were added."""
        url = self._settings.candles_backfill_url
        if not url:
            return 0
        log.info("backfilling candles from the venue", extra={"url": url, "until_ms": until_ms})
        async with httpx.AsyncClient() as client:
            history = await fetch_history(
                client, url, self._settings.asset_specs, until_ms, self._settings.candles_backfill_buckets, since_ms
            )
        try:
            added = await insert_history(self._db, history)
        except (DBAPIError, OSError) as exc:
            log.warning("storing backfilled candles failed", extra={"error": str(exc)[:200]})
            return 0
        metrics.BACKFILLED.inc(added)
        log.info("backfilled candles from the venue", extra={"buckets": added, "until_ms": until_ms})
        return added

    async def on_gap(self, gap: Gap) -> None:
        """Backfill the buckets a gap hid, beside the builder (a slow venue must not hold it up)."""
        task = asyncio.create_task(self.run(parse_id(gap.resumed_id)[0], since_ms=parse_id(gap.after_id)[0]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def backfill_cutoff(builder: CandleBuilder, reader: StreamReader, redis: aioredis.Redis) -> int | None:
    """Where history from the venue must end: the first entry the builder has still to fold in, or Redis's
    clock (the stream's) if there is none. None when Redis or PostgreSQL cannot say (no backfill)."""
    try:
        cursor = await builder.load()
        first = await reader.first_after(cursor.last_id)
        if first is not None:
            return parse_id(first)[0]
        seconds, micros = await redis.time()
        return int(seconds) * 1000 + int(micros) // 1000
    except (RedisError, OSError, DBAPIError) as exc:
        log.warning("no backfill on start: the cursor or the stream is unavailable", extra={"error": str(exc)[:200]})
        return None


async def migrate(settings: CandleSettings, stop: asyncio.Event) -> bool:
    """The builder's migrations to head, retried with backoff while PostgreSQL is unreachable; False if
    `stop` came first."""
    delay = RETRY_MIN_SECONDS
    while not stop.is_set():
        try:
            await asyncio.to_thread(upgrade_to_head, MIGRATIONS_DIR, settings.database_url)
            return True
        except Exception as exc:  # any database failure: the service waits for PostgreSQL, never crashes
            log.warning("candle migrations failed; retrying", extra={"error": repr(exc)[:300], "retry_in_s": delay})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()
            delay = min(delay * 2, RETRY_MAX_SECONDS)
    return False


async def _stop_on_signal(stop: asyncio.Event) -> None:
    await wait_for_shutdown_signal()
    stop.set()


async def build_until_stopped(
    settings: CandleSettings, db: AsyncEngine, redis: aioredis.Redis, stop: asyncio.Event
) -> int:
    """Backfill on start, then build until `stop`; returns the exit code."""
    specs = settings.asset_specs
    reader = StreamReader(redis, settings.stream_key)
    backfiller = Backfiller(db, settings)
    builder = CandleBuilder(
        db,
        reader,
        settings.stream_key,
        specs,
        settings.candles_batch_size,
        on_commit=LivePublisher(redis, settings.candle_channel, specs).publish,
        on_gap=backfiller.on_gap,
    )
    # the cut-off is fixed before the builder moves: every bucket backfill adds ends before any quote to come
    cutoff = await backfill_cutoff(builder, reader, redis)
    history = asyncio.create_task(backfiller.run(cutoff) if cutoff is not None else asyncio.sleep(0), name="backfill")
    build = asyncio.create_task(builder.run(stop), name="candle-builder")
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({build, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    exit_code = 0
    try:
        await asyncio.wait_for(build, timeout=settings.shutdown_grace_seconds)
    except Exception:
        log.exception("candle builder failed")
        exit_code = 1
    for task in (history, stopping):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return exit_code


async def serve(settings: CandleSettings) -> int:
    """The process: gRPC (NOT_SERVING until migrated), migrations, the builder; SIGTERM/SIGINT stop it."""
    stop = asyncio.Event()
    signals = asyncio.create_task(_stop_on_signal(stop), name="signals")
    db = make_engine(settings.database_url)
    redis = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2)
    metrics.serve(settings.candles_bind_host, settings.candles_metrics_port)
    address = f"{settings.candles_bind_host}:{settings.candles_grpc_port}"
    server = GrpcServer([binding(CandleServicer(db, settings.asset_specs))], address)
    await server.start()
    await server.set_serving(False)
    exit_code = 0
    if await migrate(settings, stop):
        await server.set_serving(True)
        log.info("candle builder started", extra={"grpc_port": server.port, "stream": settings.stream_key})
        exit_code = await build_until_stopped(settings, db, redis, stop)
    signals.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await signals
    await server.stop(grace=min(settings.shutdown_grace_seconds, 5.0))
    await redis.aclose()
    await db.dispose()
    log.info("candle builder stopped", extra={"exit_code": exit_code})
    return exit_code
