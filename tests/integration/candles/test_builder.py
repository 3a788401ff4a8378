"""The candle builder against the real Redis and PostgreSQL: candles of a scripted stream, exactly once
across crashes at any point (a failed commit, a builder started anew from the saved cursor, two builders
on one stream), a trim past the cursor noted as a gap while the builder goes on, and malformed entries
stepped over."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from candles import store
from candles.aggregation import Candle, Tick, aggregate
from candles.store import Gap, read_all, read_gaps
from harness.polling import apoll_until
from tests.integration.candles.support import DAY_START, add_prices, builder, drain

MIN = 60_000


def script(count: int, step_ms: int = 7_000) -> list[Tick]:
    prices = [100_000 + (i * 7919) % 5000 for i in range(count)]
    return [Tick("BTC_USDC" if i % 3 else "ETH_USDC", p, DAY_START + i * step_ms) for i, p in enumerate(prices)]


async def test_a_scripted_stream_gives_exactly_its_candles(
    candles_db: AsyncEngine, redis_client: aioredis.Redis, stream_key: str
) -> None:
    ticks = [
        Tick("BTC_USDC", 500, DAY_START + 1_000),
        Tick("BTC_USDC", 520, DAY_START + 30_000),
        Tick("BTC_USDC", 480, DAY_START + 59_999),
        Tick("BTC_USDC", 510, DAY_START + MIN),
    ]
    await add_prices(redis_client, stream_key, ticks)
    assert await drain(builder(candles_db, redis_client, stream_key, batch=3)) == 4
    rows = await read_all(candles_db)
    assert rows[("BTC_USDC", "1m", DAY_START)] == Candle(500, 520, 480, 480, 3)
    assert rows[("BTC_USDC", "1m", DAY_START + MIN)] == Candle(510, 510, 510, 510, 1)
    for interval in ("5m", "15m", "1h", "4h", "1d"):
        assert rows[("BTC_USDC", interval, DAY_START)] == Candle(500, 520, 480, 510, 4)
    assert len(rows) == 7


async def test_a_new_builder_resumes_from_the_saved_cursor_without_counting_twice(
    candles_db: AsyncEngine, redis_client: aioredis.Redis, stream_key: str
) -> None:
    ticks = script(40)
    await add_prices(redis_client, stream_key, ticks[:25])
    first = builder(candles_db, redis_client, stream_key, batch=7)
    await drain(first)
    # a second process after a SIGKILL: it knows only what PostgreSQL holds
    await add_prices(redis_client, stream_key, ticks[25:])
    assert await drain(builder(candles_db, redis_client, stream_key, batch=4)) == 15
    assert await read_all(candles_db) == aggregate(ticks)


class _CommitFails(RuntimeError):
    pass


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.integers(1, 9), crash_after=st.integers(0, 6), total=st.integers(1, 30))
async def test_a_crash_in_any_batch_replays_to_the_same_rows(
    candles_db: AsyncEngine, redis_client: aioredis.Redis, key_prefix: str, batch: int, crash_after: int, total: int
) -> None:
    """Property: whatever the batch size and whichever commit dies, the rows end as all-at-once."""
    async with candles_db.begin() as conn:
        await conn.execute(text("TRUNCATE candles, candle_cursor"))
    stream_key = f"{key_prefix}prop:{batch}:{crash_after}:{total}"
    await redis_client.delete(stream_key)
    ticks = script(total, step_ms=41_000)
    await add_prices(redis_client, stream_key, ticks)
    real_commit = store.commit_batch
    commits = 0

    async def dying_commit(engine: AsyncEngine, *args: Any, **kwargs: Any) -> Any:
        nonlocal commits
        commits += 1
        if commits > crash_after:
            # the transaction writes everything, then the process dies before COMMIT
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE candles SET ticks = ticks + 1000"))
                raise _CommitFails("killed before COMMIT")
        return await real_commit(engine, *args, **kwargs)

    doomed = builder(candles_db, redis_client, stream_key, batch=batch)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("candles.builder.commit_batch", dying_commit)
        with contextlib.suppress(_CommitFails):
            await drain(doomed)
    await drain(builder(candles_db, redis_client, stream_key, batch=batch + 2))
    assert await read_all(candles_db) == aggregate(ticks)
    await redis_client.delete(stream_key)


async def test_two_builders_on_one_stream_never_count_twice(
    candles_db: AsyncEngine, redis_client: aioredis.Redis, stream_key: str
) -> None:
    ticks = script(30)
    await add_prices(redis_client, stream_key, ticks)
    one, two = builder(candles_db, redis_client, stream_key, 5), builder(candles_db, redis_client, stream_key, 5)
    await one.load()
    await two.load()
    # both believe the cursor is at the start; they race batch by batch
    for _ in range(20):
        await one.step()
        await two.step()
    assert await read_all(candles_db) == aggregate(ticks)


async def test_a_trim_past_the_cursor_is_noted_and_the_builder_goes_on(
    candles_db: AsyncEngine, redis_client: aioredis.Redis, stream_key: str
) -> None:
    ticks = script(30, step_ms=20_000)
    ids = await add_prices(redis_client, stream_key, ticks[:10])
    gaps: list[Gap] = []
    b = builder(candles_db, redis_client, stream_key, batch=50)

    async def note(gap: Gap) -> None:
        gaps.append(gap)

    b._on_gap = note
    await drain(b)
    # the builder is away; the engine trims its log past the builder's cursor (entries 10..19 never read)
    later = await add_prices(redis_client, stream_key, ticks[10:])
    await redis_client.xtrim(stream_key, minid=later[10], approximate=False)
    await drain(b)
    assert gaps == [Gap(ids[-1], later[10])]
    assert await read_gaps(candles_db, stream_key) == gaps
    assert await read_all(candles_db) == aggregate(ticks[:10] + ticks[20:])
    # and counting goes on: another trim of entries already read is no gap
    await redis_client.xtrim(stream_key, minid=later[-1], approximate=False)
    await add_prices(redis_client, stream_key, [Tick("BTC_USDC", 1, ticks[-1].time_ms + 1)])
    await drain(b)
    assert len(await read_gaps(candles_db, stream_key)) == 1


async def test_malformed_entries_are_stepped_over(
    candles_db: AsyncEngine, redis_client: aioredis.Redis, stream_key: str
) -> None:
    ticks = script(4)
    await add_prices(redis_client, stream_key, ticks[:2])
    await redis_client.xadd(stream_key, {"type": "PRICE_UPDATE", "payload": b"\x00garbage"})
    await redis_client.xadd(stream_key, {"hello": "world"})
    later = [Tick(t.asset, t.price, t.time_ms + 10**9) for t in ticks[2:]]
    await add_prices(redis_client, stream_key, later)
    assert await drain(builder(candles_db, redis_client, stream_key)) == 6
    assert await read_all(candles_db) == aggregate(ticks[:2] + later)


async def test_own_quotes_replace_a_backfilled_bucket_and_backfill_never_touches_ours(
    candles_db: AsyncEngine, redis_client: aioredis.Redis, stream_key: str
) -> None:
    ours = ("BTC_USDC", "1m", DAY_START)
    history = ("BTC_USDC", "1m", DAY_START - MIN)
    assert await store.insert_history(candles_db, {ours: Candle(1, 9, 1, 5, 7), history: Candle(2, 3, 1, 2, 7)}) == 2
    await add_prices(redis_client, stream_key, [Tick("BTC_USDC", 500, DAY_START + 5)])
    await drain(builder(candles_db, redis_client, stream_key))
    rows = await read_all(candles_db)
    assert rows[ours] == Candle.of(500)
    assert rows[history] == Candle(2, 3, 1, 2, 0)
    assert await store.insert_history(candles_db, {ours: Candle(1, 9, 1, 5, 0)}) == 0
    assert (await read_all(candles_db))[ours] == Candle.of(500)


async def test_live_candles_are_the_merged_rows(
    candles_db: AsyncEngine, redis_client: aioredis.Redis, stream_key: str
) -> None:
    seen: list[dict[tuple[str, str, int], Candle]] = []

    async def on_commit(merged: list[tuple[tuple[str, str, int], Candle]]) -> None:
        seen.append(dict(merged))

    await add_prices(redis_client, stream_key, [Tick("BTC_USDC", 500, DAY_START), Tick("BTC_USDC", 600, DAY_START + 1)])
    await drain(builder(candles_db, redis_client, stream_key, batch=1, on_commit=on_commit))
    assert seen[-1][("BTC_USDC", "1m", DAY_START)] == Candle(500, 600, 500, 600, 2)


async def test_an_unreachable_redis_is_retried_and_the_loop_stops_on_request(candles_db: AsyncEngine) -> None:
    from candles import metrics

    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    b = builder(candles_db, dead, "nowhere:stream:engine")
    stop = asyncio.Event()
    before = metrics.ERRORS._value.get()
    task = asyncio.create_task(b.run(stop))
    await apoll_until(lambda: metrics.ERRORS._value.get() >= before + 2, "two failed batches, retried")
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 10)
    await dead.aclose()
