"""Helpers for pooler integration tests: the scripted prices and their expected integers, polling, readers of
the real Redis stream, the health server client, and a pooler run in process."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from exness.market.v1 import market_pb2

from harness.polling import apoll_until
from mesh.stream_codec import decode_entry
from pooler.config import PoolerSettings
from pooler.fake_backpack import ScriptStep
from pooler.service import Pooler

# Fixed tops, repeated: the published integers are known in advance (4 decimals, 100 bps).
SCRIPT = [
    ScriptStep("BTC_USDC", Decimal("68983.0"), Decimal("68983.1"), Decimal("0.02426"), Decimal("0.06093"), 30),
    ScriptStep("ETH_USDC", Decimal("3667.49"), Decimal("3667.50"), Decimal("0.0020"), Decimal("0.4087"), 30),
    ScriptStep("SOL_USDC", Decimal("98.96"), Decimal("98.97"), Decimal("288.77"), Decimal("22.39"), 30),
]
# asset -> (buy_price, sell_price): ask x 1.01 rounded up, bid rounded down, at 10^4
EXPECTED = {"BTC_USDC": (696729310, 689830000), "ETH_USDC": (37041750, 36674900), "SOL_USDC": (999597, 989600)}


async def wait_until(predicate: Callable[[], Awaitable[bool] | bool], what: str, limit: float = 20.0) -> None:
    """`apoll_until` under the name and the default these tests use; the limit only bounds a broken run."""
    await apoll_until(predicate, what, limit)


async def stream_updates(client: aioredis.Redis, stream: str) -> list[tuple[bytes, market_pb2.PriceUpdate]]:
    entries = await client.xrange(stream)
    updates = []
    for entry_id, fields in entries:
        command = decode_entry(fields)
        assert fields[b"type"] == b"PRICE_UPDATE"
        assert command.WhichOneof("body") == "price_update"
        updates.append((entry_id, command.price_update))
    return updates


def quotes_of(update: market_pb2.PriceUpdate) -> dict[str, tuple[int, int]]:
    return {q.asset: (q.buy_price, q.sell_price) for q in update.quotes}


async def http_get(port: int, path: str) -> tuple[int, Any]:
    """GET from a pooler's health server, off the event loop (which may be serving it)."""
    return await asyncio.to_thread(_http_get, port, path)


def _http_get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    return status, (json.loads(body) if path == "/healthz" else body.decode())


async def inject(port: int, symbol: str, fields: dict[str, str]) -> dict[str, Any]:
    """The fake's `inject` control (off the event loop, which may be serving it): `symbol`'s current top with
    `fields`' JSON text replaced verbatim."""
    query = urllib.parse.urlencode({"symbol": symbol, **fields})

    def get() -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/control/inject?{query}", timeout=5) as response:
            return dict(json.loads(response.read()))

    return await asyncio.to_thread(get)


def pooler_settings(redis_url: str, key_prefix: str, **overrides: Any) -> PoolerSettings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "stream_key": f"{key_prefix}stream:engine",
        "price_channel": f"{key_prefix}ws:price:update",
        "pooler_http_host": "127.0.0.1",
        "pooler_http_port": 0,
        "feed_backoff_initial_ms": 50,
        "feed_backoff_max_ms": 300,
        "feed_fallback_after_seconds": 1.0,
        "shutdown_grace_seconds": 5,
    }
    values.update(overrides)
    return PoolerSettings(**values)


class RunningPooler:
    def __init__(self, pooler: Pooler) -> None:
        self.pooler = pooler
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(pooler.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=10)
