"""Helpers of the candle builder's integration tests: price updates XADDed with chosen entry ids (so the
test decides each quote's time), and a builder wired to the test's stream and database."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2
from sqlalchemy.ext.asyncio import AsyncEngine

from candles.aggregation import Tick
from candles.builder import CandleBuilder, OnCommit, StreamReader
from mesh.stream_codec import encode_command
from mesh.units import AssetSpec

SPECS = {"BTC_USDC": AssetSpec("BTC_USDC", 4, 1000), "ETH_USDC": AssetSpec("ETH_USDC", 4, 10_000)}
# 2026-12-01 00:00:00 UTC: a bucket start of every interval
DAY_START = 1_796_083_200_000


async def add_prices(redis: aioredis.Redis, stream_key: str, ticks: list[Tick]) -> list[str]:
    """One PRICE_UPDATE entry per tick, with entry id `<tick time>-<n>`; returns the ids."""
    ids = []
    for n, tick in enumerate(ticks):
        update = market_pb2.PriceUpdate(
            quotes=[market_pb2.Quote(asset=tick.asset, buy_price=tick.price + 7, sell_price=tick.price, decimal=4)],
            source="test",
        )
        fields: dict[Any, Any] = encode_command(commands_pb2.Command(price_update=update))
        ids.append((await redis.xadd(stream_key, fields, id=f"{tick.time_ms}-{n + 1}")).decode())
    return ids


def builder(
    db: AsyncEngine, redis: aioredis.Redis, stream_key: str, batch: int = 100, on_commit: OnCommit | None = None
) -> CandleBuilder:
    return CandleBuilder(db, StreamReader(redis, stream_key), stream_key, SPECS, batch, on_commit=on_commit)


async def drain(b: CandleBuilder) -> int:
    """Steps until the builder has folded in everything there is; returns the entries it read."""
    await b.load()
    total = 0
    while (count := await b.step()) > 0:
        total += count
    return total
