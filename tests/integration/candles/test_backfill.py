"""Backfill against the fake Backpack server's real HTTP klines: history fills the buckets that end by the
cut-off and have no row, scaled like the bid with ticks 0; a bucket of our own quotes is never touched; a
gap asks only for the buckets between the cursor and the entry the builder resumed at; an unreachable
venue adds nothing and raises nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from candles.aggregation import Candle
from candles.config import CandleSettings
from candles.service import Backfiller
from candles.store import Cursor, Gap, commit_batch, load_cursor, read_all
from harness.polling import apoll_until
from pooler.fake_backpack import FakeBackpack
from tests.integration.candles.support import DAY_START

MIN = 60_000
ASSETS = "SOL_USDC:4:0.01"


@pytest.fixture
async def venue() -> AsyncIterator[FakeBackpack]:
    server = FakeBackpack(symbols=["SOL_USDC"])
    await server.start()
    server.paused = True
    # SOL traded at the venue for the first ten minutes of the day, one trade every 20 s
    for n in range(30):
        server.klines.record("SOL_USDC", Decimal(150) + Decimal(n) / 4, Decimal(1), DAY_START / 1000 + n * 20 + 0.5)
    yield server
    await server.stop()


def backfiller(db: AsyncEngine, url: str, candles_db_url: str) -> Backfiller:
    settings = CandleSettings(
        assets=ASSETS, candles_backfill_url=url, candles_backfill_buckets=20, database_url=candles_db_url
    )
    return Backfiller(db, settings)


def venue_minute(n: int) -> Candle:
    """The fake venue's n-th minute as our candle: trades 3n..3n+2 at 150 + k/4, scaled by 10^4."""
    prices = [1_500_000 + 2_500 * k for k in range(3 * n, 3 * n + 3)]
    return Candle(prices[0], max(prices), min(prices), prices[-1], 0)


async def test_history_fills_what_is_empty_and_never_our_buckets(
    venue: FakeBackpack, candles_db: AsyncEngine, candles_db_url: str
) -> None:
    ours = ("SOL_USDC", "1m", DAY_START + 3 * MIN)

    start = await load_cursor(candles_db, "s", "0-0")
    await commit_batch(candles_db, "s", start, Cursor("1-0", 1), {ours: Candle(1, 2, 1, 2, 5)})
    added = await backfiller(candles_db, f"http://127.0.0.1:{venue.port}", candles_db_url).run(DAY_START + 6 * MIN)
    rows = await read_all(candles_db)
    minutes = {key[2]: c for key, c in rows.items() if key[1] == "1m"}
    assert minutes == {
        **{DAY_START + n * MIN: venue_minute(n) for n in (0, 1, 2, 4, 5)},
        DAY_START + 3 * MIN: Candle(1, 2, 1, 2, 5),
    }
    five = rows[("SOL_USDC", "5m", DAY_START)]
    assert five == Candle(1_500_000, 1_500_000 + 2_500 * 14, 1_500_000, 1_500_000 + 2_500 * 14, 0)
    # the 15m, 1h, 4h and 1d buckets have not ended by the cut-off: the venue leaves them out
    assert {key[1] for key in rows} == {"1m", "5m"}
    assert added == 6


async def test_a_gap_asks_for_the_buckets_it_hid(
    venue: FakeBackpack, candles_db: AsyncEngine, candles_db_url: str
) -> None:
    filler = backfiller(candles_db, f"http://127.0.0.1:{venue.port}", candles_db_url)
    await filler.on_gap(Gap(f"{DAY_START + 2 * MIN + 5}-0", f"{DAY_START + 5 * MIN + 1}-0"))
    expected = {("SOL_USDC", "1m", DAY_START + n * MIN): venue_minute(n) for n in (2, 3, 4)}
    # the 5m bucket holding the cursor ended too (a bucket of our own there would be kept, as above)
    expected[("SOL_USDC", "5m", DAY_START)] = Candle(1_500_000, 1_535_000, 1_500_000, 1_535_000, 0)

    async def filled() -> bool:
        return await read_all(candles_db) == expected

    await apoll_until(filled, "the gap's buckets backfilled", 30)


async def test_an_unreachable_venue_adds_nothing(candles_db: AsyncEngine, candles_db_url: str) -> None:
    added = await backfiller(candles_db, "http://127.0.0.1:1", candles_db_url).run(DAY_START + 6 * MIN)
    assert added == 0 and await read_all(candles_db) == {}
    assert await asyncio.wait_for(backfiller(candles_db, "", candles_db_url).run(DAY_START), 5) == 0
