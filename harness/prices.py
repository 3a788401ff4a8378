"""Prices fed the way the pooler feeds them: a PRICE_UPDATE Command on the engine's stream, and a
PriceUpdate on the pub/sub channel the gateway fans out to browsers."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2

from mesh.stream_codec import encode_command, encode_price_update


@dataclass(frozen=True)
class Quote:
    asset: str
    buy: int
    sell: int
    decimal: int = 4


def price_update(quotes: list[Quote], published_at_ms: int | None = None) -> market_pb2.PriceUpdate:
    now = published_at_ms or int(time.time() * 1000)
    return market_pb2.PriceUpdate(
        quotes=[
            market_pb2.Quote(asset=q.asset, buy_price=q.buy, sell_price=q.sell, decimal=q.decimal, venue_time_ms=now)
            for q in quotes
        ],
        published_at_ms=now,
        source="test",
    )


async def feed_engine(redis: aioredis.Redis, stream_key: str, quotes: list[Quote]) -> None:
    """What the pooler does for the engine: a PRICE_UPDATE Command on the stream."""
    command = commands_pb2.Command(request_id=str(uuid.uuid4()), price_update=price_update(quotes))
    await redis.xadd(stream_key, encode_command(command))  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def prices_kept_fresh(
    redis: aioredis.Redis, stream_key: str, quotes: list[Quote], every_seconds: float = 1.0
) -> AsyncIterator[None]:
    """The quotes fed now and again every `every_seconds` while the block runs, as a live pooler would:
    on a busy machine a burst can outlast the engine's price age limit after one feed."""
    await feed_engine(redis, stream_key, quotes)

    async def keep_feeding() -> None:
        while True:
            await asyncio.sleep(every_seconds)
            await feed_engine(redis, stream_key, quotes)

    feeder = asyncio.create_task(keep_feeding())
    try:
        yield
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder


async def publish_prices(redis: aioredis.Redis, channel: str, update: market_pb2.PriceUpdate) -> None:
    """What the pooler does for browsers: a PriceUpdate on pub/sub."""
    await redis.publish(channel, encode_price_update(update))
