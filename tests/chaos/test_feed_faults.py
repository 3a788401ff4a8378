"""Backpack feed faults under load, through the whole price path (the fake Backpack over a real websocket,
the pooler as its own process, the engine): a gap (the venue stalls for 3 s, quotes go stale and opens
are refused, then prices flow again), a reconnect storm (40 cuts and Close frames in 2 s), and a jump of
the venue's price that crosses 3,000 stop-loss, take-profit and liquidation levels in one price entry.
Everything reconciles afterwards (tests/chaos/verify.py)."""

from __future__ import annotations

import asyncio
import sys
import time
from decimal import Decimal
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from engine.config import EngineSettings
from harness.polling import apoll_until
from harness.processes import ManagedProcess, free_port, wait_listening
from mesh.stream_codec import decode_entry
from pooler.fake_backpack import FakeBackpack, ScriptStep
from tests.chaos.load import Load
from tests.chaos.test_price_jump import ACCOUNTS, PER_ACCOUNT, committed, open_bulk, reasons_of
from tests.chaos.verify import Figures, report, verify
from tests.support import engine_process
from tests.support.engine_process import start_engine

GAP_SECONDS = 3.0
STORM_CUTS = 40
JUMP = Decimal("0.95")
# fixed tops (no level moves until the jump); the published sell price is the bid at 10^4
TOPS = {"BTC_USDC": (Decimal("68983.0"), Decimal("68983.1")), "ETH_USDC": (Decimal("3667.49"), Decimal("3667.50")),
        "SOL_USDC": (Decimal("98.96"), Decimal("98.97"))}  # fmt: skip


def _script(factor: Decimal = Decimal(1)) -> list[ScriptStep]:
    return [ScriptStep(symbol, bid * factor, ask * factor, Decimal("0.5"), Decimal("0.5"), 30)
            for symbol, (bid, ask) in TOPS.items()]  # fmt: skip


async def _newest_price_after(redis: aioredis.Redis, stream_key: str, moment_ms: int) -> bool:
    """A price entry of the pooler's later than `moment_ms` is on the stream."""
    try:
        entries = await redis.xrevrange(stream_key, count=50)
    except ResponseError:
        return False
    for entry_id, fields in entries:
        if int(entry_id.split(b"-")[0]) > moment_ms and decode_entry(fields).WhichOneof("body") == "price_update":
            return True
    return False


async def test_feed_gap_storm_and_jump(
    redis_url: str, chaos_env: dict[str, str], chaos_prefix: str, postgres_url: str, artifacts_dir: Path
) -> None:
    steps = _script()
    fake = FakeBackpack(script=steps, ticker_interval=0.2, close_grace=0.2)
    await fake.start()
    env = engine_process.engine_env({**chaos_env, "REDIS_URL": redis_url, "PRICE_STALE_AFTER_MS": "1500",
                                     "READ_BATCH_SIZE": "500"})  # fmt: skip
    settings = EngineSettings(**{k.lower(): v for k, v in env.items() if not k.startswith("ENGINE_")})
    engine, address = start_engine(env, artifacts_dir)
    http_port = free_port()
    pooler = ManagedProcess([sys.executable, "-m", "pooler"], artifacts_dir / f"{chaos_prefix}-pooler.log", env={
        "FEED": "fake", "BACKPACK_WS_URL": fake.url, "POOLER_HTTP_HOST": "127.0.0.1",
        "POOLER_HTTP_PORT": str(http_port), "REDIS_URL": redis_url, "STREAM_KEY": env["STREAM_KEY"],
        "PRICE_CHANNEL": f"{chaos_prefix}:ws:price:update", "FEED_BACKOFF_INITIAL_MS": "50",
        "FEED_BACKOFF_MAX_MS": "300", "QUOTE_MAX_AGE_MS": "1000", "LOG_FORMAT": "json",
        "SHUTDOWN_GRACE_SECONDS": "5",
    }, name="pooler").start()  # fmt: skip
    redis = aioredis.Redis.from_url(redis_url)
    users = [f"{chaos_prefix}bulk-{i}" for i in range(ACCOUNTS)]
    figures = Figures("feed: 3 s gap, reconnect storm of 40 cuts, jump across 3,000 levels (pooler + fake Backpack)",
                      faults=3)  # fmt: skip
    mids = {symbol: int(bid * 10_000) for symbol, (bid, _) in TOPS.items()}
    try:
        wait_listening("127.0.0.1", http_port, what="pooler health", proc=pooler)
        start_ms = int(time.time() * 1000)
        await apoll_until(lambda: _newest_price_after(redis, env["STREAM_KEY"], start_ms), "pooler prices", 30)
        async with Load(redis_url, env["STREAM_KEY"], [address], prefix=chaos_prefix, feed=False, mids=mids) as load:
            await asyncio.sleep(2)
            fake.paused = True  # the venue stalls: no frames at all
            await asyncio.sleep(GAP_SECONDS)
            fake.paused = False
            resumed, resumed_ms = time.monotonic(), int(time.time() * 1000)
            await apoll_until(lambda: _newest_price_after(redis, env["STREAM_KEY"], resumed_ms), "prices again", 30)
            figures.recovery_seconds["gap_prices_again"] = round(time.monotonic() - resumed, 2)
            figures.recovery_seconds["gap_every_client_served"] = round(await load.recovered_after(resumed), 2)
            during_gap = [a for a in load.acknowledged if resumed - GAP_SECONDS < a.at <= resumed]
            figures.extra["refused_during_gap"] = sum(
                1 for a in during_gap if a.reply.WhichOneof("result") == "rejection"
            )

            connections = fake.counters["connections"]
            for cut in range(STORM_CUTS):
                if cut % 2:
                    await fake.close_all(1001, "restarting")
                else:
                    fake.drop_all()
                await asyncio.sleep(0.05)
            calm, calm_ms = time.monotonic(), int(time.time() * 1000)
            await apoll_until(lambda: _newest_price_after(redis, env["STREAM_KEY"], calm_ms), "prices after storm", 30)
            figures.recovery_seconds["storm_prices_again"] = round(time.monotonic() - calm, 2)
            figures.extra["pooler_reconnects_during_storm"] = fake.counters["connections"] - connections

            opened = await open_bulk(redis, env["STREAM_KEY"], address, users, mids["BTC_USDC"], leverage=50)
            figures.extra["levels_opened"] = opened
            assert opened >= ACCOUNTS * PER_ACCOUNT * 9 // 10
            closed_before = sum((await reasons_of(postgres_url, users)).values())
            jumped = time.monotonic()
            steps[:] = _script(JUMP)  # the venue's price drops 5% and stays there
            await apoll_until(
                lambda: committed(postgres_url, users, closed_before + opened), "every level closed and committed", 60
            )
            figures.recovery_seconds["jump_to_all_rows_committed"] = round(time.monotonic() - jumped, 2)
            await asyncio.sleep(1)
        pooler.stop()
        reasons = await reasons_of(postgres_url, users)
        assert set(reasons) == {"STOP_LOSS", "TAKE_PROFIT", "LIQUIDATION"}
        assert sum(reasons.values()) == closed_before + opened
        figures.extra["levels_closed_before_the_jump"] = closed_before
        assert figures.extra["refused_during_gap"] > 0
        assert figures.extra["pooler_reconnects_during_storm"] >= 5
        await verify(load, figures, address=address, redis_url=redis_url, settings=settings, postgres_url=postgres_url,
                     other_users=tuple(users))  # fmt: skip
        figures.extra["closed_by_the_jump"] = reasons
        report(figures, artifacts_dir)
    finally:
        pooler.stop()
        engine.stop()
        await fake.stop()
        keys = [key async for key in redis.scan_iter(match=f"{chaos_prefix}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
