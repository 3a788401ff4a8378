"""Candles end to end, every service its own process: bids scripted through the fake Backpack server become
exactly the candles computed here from the quotes the pooler put on the stream (read by the test's own
tailer, OHLC and tick counts by independent arithmetic), for every interval, across a pooler restart, an
engine SIGKILL and a candle-builder SIGKILL; history the fake venue traded before the platform ran is
backfilled from its klines (ticks 0) and never replaces a bucket of our own; live CANDLE messages reach a
subscribed /ws/prices client; bad parameters are refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import websockets

from harness.polling import NotYet, apoll_until
from mesh.stream_codec import decode_entry
from tests.e2e.conftest import whole_platform
from tests.e2e.platform import Platform

pytestmark = pytest.mark.e2e

INTERVALS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}
SOL_HISTORY = ["150.25", "151.5", "149.75", "150.5"]


def scaled_bid(bid: str) -> int:
    """The platform's sell price of a venue bid at 4 decimals: rounded down (docs/contract.md)."""
    return int((Decimal(bid) * 10_000).to_integral_value(ROUND_FLOOR))


def expected_candles(quotes: list[tuple[int, str, int]], asset: str, width: int) -> list[dict[str, int]]:
    """OHLC and ticks per bucket of `width` ms, from (entry ms, asset, bid) in stream order."""
    buckets: dict[int, list[int]] = {}
    for at, name, bid in quotes:
        if name != asset:
            continue
        start = at - at % width
        bucket = buckets.setdefault(start, [bid, bid, bid, bid, 0])
        bucket[1], bucket[2], bucket[3], bucket[4] = max(bucket[1], bid), min(bucket[2], bid), bid, bucket[4] + 1
    return [
        {"time": start, "open": o, "high": h, "low": low, "close": c, "ticks": n}
        for start, (o, h, low, c, n) in sorted(buckets.items())
    ]


class Tailer:
    """Every quote on the engine's stream, read by the test itself (XREAD from the start)."""

    def __init__(self, redis: aioredis.Redis, stream_key: str) -> None:
        self.redis, self.stream_key = redis, stream_key
        self.quotes: list[tuple[int, str, int]] = []
        self.last_id = "0-0"

    async def run(self) -> None:
        while True:
            read = await self.redis.xread({self.stream_key: self.last_id}, count=500, block=500)
            for _, entries in read or []:
                for entry_id, fields in entries:
                    self.last_id = entry_id.decode()
                    command = decode_entry(fields)
                    if command.WhichOneof("body") == "price_update":
                        at = int(self.last_id.split("-")[0])
                        self.quotes += [(at, q.asset, q.sell_price) for q in command.price_update.quotes]


class Tops:
    """Keeps the fake venue quoting the chosen tops (re-sent often, so quotes stay fresh)."""

    def __init__(self, mesh: Platform) -> None:
        self.mesh, self.tops = mesh, {}  # type: ignore[var-annotated]

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                for symbol, bid in list(self.tops.items()):
                    await self.send(client, symbol, bid)
                await asyncio.sleep(0.25)

    async def send(self, client: httpx.AsyncClient, symbol: str, bid: str) -> None:
        ask = str(Decimal(bid) + Decimal("0.5"))
        response = await client.get(
            f"http://127.0.0.1:{self.mesh.fake_port}/control/top", params={"symbol": symbol, "bid": bid, "ask": ask}
        )
        response.raise_for_status()


@pytest.fixture(scope="module")
def platform(redis_url: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The fake venue trades SOL for a minute before the rest of the platform starts (history to backfill).
    Its own PostgreSQL database: candles from another module's platform would share its buckets."""
    yield from whole_platform(redis_url, mongodb_url, tmp_path_factory, lambda mesh: asyncio.run(_venue_history(mesh)))


async def _venue_history(mesh: Platform) -> None:
    """SOL trades at the fake venue while no pooler listens, then the minute ends (it must have ended to be
    history: the venue leaves the bucket in progress out)."""
    async with httpx.AsyncClient(timeout=5) as client:
        for bid in SOL_HISTORY:
            await Tops(mesh).send(client, "SOL_USDC", bid)
    minute = int(time.time()) // 60
    await apoll_until(lambda: int(time.time()) // 60 > minute, "the venue's minute to end", 70)


@contextlib.asynccontextmanager
async def running(task_of: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(task_of)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def candles_of(api: httpx.AsyncClient, asset: str, interval: str, **params: Any) -> list[dict[str, int]]:
    response = await api.get("/candles", params={"asset": asset, "interval": interval, "limit": 1000, **params})
    if response.status_code != 200:
        raise NotYet(f"/candles answered {response.status_code} {response.text[:200]}")
    body = response.json()
    assert body["asset"] == asset and body["interval"] == interval and body["decimal"] == 4
    candles: list[dict[str, int]] = body["candles"]
    return candles


async def hold_bid(api: httpx.AsyncClient, tops: Tops, symbol: str, bid: str) -> None:
    """Quote `bid` and wait until the live 1m candle closes at it."""
    tops.tops[symbol] = bid

    async def live_close() -> bool:
        candles = await candles_of(api, symbol, "1m")
        return bool(candles) and candles[-1]["close"] == scaled_bid(bid)

    await apoll_until(live_close, f"the live {symbol} candle to close at {bid}", 60, ignore=(httpx.HTTPError,))


async def test_candles_match_the_quotes_across_restarts(platform: Platform, redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    tailer, tops = Tailer(redis, platform.common_env["STREAM_KEY"]), Tops(platform)
    async with httpx.AsyncClient(base_url=platform.api, timeout=10) as api, running(tailer.run()), running(tops.run()):
        for bid in ("68000.5", "68012.2", "67990"):
            await hold_bid(api, tops, "BTC_USDC", bid)
        platform.pooler.stop()  # type: ignore[union-attr]
        await asyncio.to_thread(platform.start_pooler)
        await hold_bid(api, tops, "BTC_USDC", "68100.7")
        platform.engine.kill(signal.SIGKILL)  # type: ignore[union-attr]
        await asyncio.to_thread(platform.start_engine)
        await hold_bid(api, tops, "BTC_USDC", "67950.5")
        platform.candles.kill(signal.SIGKILL)  # type: ignore[union-attr]
        await asyncio.to_thread(platform.start_candles)
        for bid in ("68005", "68001.3"):
            await hold_bid(api, tops, "BTC_USDC", bid)
        await live_candle_messages(platform, api, tops)
        # the stream stops growing: no more quotes, so the builder and the tailer can both finish
        tops.tops.clear()
        platform.pooler.stop()  # type: ignore[union-attr]
        final_id = (await redis.xrevrange(platform.common_env["STREAM_KEY"], count=1))[0][0].decode()
        await apoll_until(lambda: tailer.last_id == final_id, "the tailer to read the whole stream", 30)
        for interval, width in INTERVALS.items():
            want = expected_candles(tailer.quotes, "BTC_USDC", width)
            assert len(want) >= 1

            async def built(interval: str = interval, want: list[dict[str, int]] = want) -> bool:
                got = await candles_of(api, "BTC_USDC", interval)
                return [c for c in got if c["ticks"] > 0] == want

            await apoll_until(built, f"BTC_USDC {interval} candles equal to the stream's quotes", 60)
            got = await candles_of(api, "BTC_USDC", interval)
            ours = {c["time"] for c in want}
            # backfilled buckets (ticks 0) never stand where our quotes made one
            assert all(c["time"] not in ours for c in got if c["ticks"] == 0)
            assert sum(c["ticks"] for c in want) == sum(1 for _, a, _ in tailer.quotes if a == "BTC_USDC")
        await check_backfilled_history(platform, api, tailer)
    await redis.aclose()


async def live_candle_messages(platform: Platform, api: httpx.AsyncClient, tops: Tops) -> None:
    async with websockets.connect(platform.ws_prices) as ws:
        await ws.send(json.dumps({"type": "subscribe", "candles": [{"asset": "BTC_USDC", "interval": "5m"}]}))
        await ws.send("not json")
        seen: list[dict[str, Any]] = []

        async def candle_at(close: int) -> bool:
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return seen[-1]["type"] == "CANDLE" and seen[-1]["candle"]["close"] == close

        tops.tops["BTC_USDC"] = "68020.5"
        await apoll_until(lambda: candle_at(scaled_bid("68020.5")), "a CANDLE message at the new bid", 30)
        kinds = {m["type"] for m in seen}
        assert {"SUBSCRIBED", "ERROR", "CANDLE"} <= kinds
        candle = next(m for m in reversed(seen) if m["type"] == "CANDLE")
        assert candle["asset"] == "BTC_USDC" and candle["interval"] == "5m" and candle["decimal"] == 4
        assert candle["candle"]["time"] % INTERVALS["5m"] == 0
        assert not any(m["type"] == "CANDLE" and m["interval"] != "5m" for m in seen)
    await hold_bid(api, tops, "BTC_USDC", "68020.5")


async def check_backfilled_history(platform: Platform, api: httpx.AsyncClient, tailer: Tailer) -> None:
    """The SOL minute the venue traded before the platform ran: its klines, scaled, with ticks 0."""
    ours = expected_candles(tailer.quotes, "SOL_USDC", 60_000)
    first_own = ours[0]["time"] if ours else None
    got = await candles_of(api, "SOL_USDC", "1m")
    history = [c for c in got if c["ticks"] == 0]
    assert history, got
    bucket = history[-1]
    assert first_own is None or bucket["time"] < first_own
    async with httpx.AsyncClient(timeout=5) as venue:
        answer = (
            await venue.get(
                f"http://127.0.0.1:{platform.fake_port}/api/v1/klines",
                params={"symbol": "SOL_USDC", "interval": "1m", "startTime": str(bucket["time"] // 1000)},
            )
        ).json()
    kline = next(
        k for k in answer if k["start"] == time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(bucket["time"] / 1000))
    )
    assert bucket == {
        "time": bucket["time"],
        **{name: scaled_bid(kline[name]) for name in ("open", "high", "low", "close")},
        "ticks": 0,
    }
    assert bucket["close"] == scaled_bid(SOL_HISTORY[-1])
    assert bucket["high"] >= scaled_bid("151.5") and bucket["low"] <= scaled_bid("149.75")
    assert [c for c in got if c["ticks"] > 0] == ours


async def test_bad_candle_requests_are_refused(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.api, timeout=10) as api:
        for params, status in [
            ({"asset": "BTC_USDC", "interval": "2m"}, 422),
            ({"asset": "BTC_USDC", "interval": "1m", "limit": "0"}, 422),
            ({"asset": "BTC_USDC", "interval": "1m", "limit": "1001"}, 422),
            ({"asset": "BTC_USDC", "interval": "1m", "before": "soon"}, 422),
            ({"asset": "BTC_USDC", "interval": "1m", "before": "0"}, 422),
            ({"asset": "BTC_USDC"}, 422),
            ({"asset": "DOGE_USDC", "interval": "1m"}, 404),
        ]:
            response = await api.get("/candles", params=params)
            assert response.status_code == status, (params, response.text)
            assert set(response.json()["error"]) >= {"code", "message"}
        response = await api.get(
            "/candles", params={"asset": "BTC_USDC", "interval": "1m", "before": "1", "limit": "5"}
        )
        assert response.status_code == 200 and response.json()["candles"] == []
