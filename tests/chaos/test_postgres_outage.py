"""PostgreSQL unreachable for 30 s while positions close under load (a proxy in front of the shared server
cuts every connection): trading goes on, close replies wait for their rows' commit, clients keep retrying
with their Idempotency-Key, and when the database is back every row is committed exactly once and every
account reconciles (tests/chaos/verify.py)."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from pathlib import Path

import redis.asyncio as aioredis

from engine.config import EngineSettings
from harness.polling import apoll_until
from tests.chaos.load import Load
from tests.chaos.verify import Figures, report, verify
from tests.integration.engine.support import status
from tests.integration.engine.tcp_proxy import TcpProxy
from tests.support import engine_process
from tests.support.engine_process import start_engine

OUTAGE_SECONDS = 30.0


async def test_postgres_down_30s_while_positions_close(
    redis_url: str, chaos_env: dict[str, str], chaos_prefix: str, postgres_url: str, artifacts_dir: Path
) -> None:
    target = urllib.parse.urlsplit(postgres_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    proxy.up()
    proxied = target._replace(netloc=f"{target.username}@127.0.0.1:{proxy.port}").geturl()
    env = engine_process.engine_env({**chaos_env, "REDIS_URL": redis_url, "DATABASE_URL": proxied})
    settings = EngineSettings(**{k.lower(): v for k, v in env.items() if not k.startswith("ENGINE_")})
    proc, address = start_engine(env, artifacts_dir)
    figures = Figures("postgresql: unreachable 30 s while positions close", faults=1)
    try:
        async with Load(redis_url, env["STREAM_KEY"], [address], prefix=chaos_prefix) as load:
            await asyncio.sleep(2)
            proxy.down()
            cut = time.monotonic()
            # positions keep closing (manual closes, stop-losses, take-profits): their rows pile up
            await apoll_until(lambda: _pending(address, 10), "closed trades to pile up while PostgreSQL is down", 30)
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut)))
            figures.extra["rows_pending_at_end_of_outage"] = (await status(address)).pending_trade_rows
            figures.extra["acknowledged_during_outage"] = load.acknowledged_after(cut)
            proxy.up()
            back = time.monotonic()
            await apoll_until(lambda: _pending(address, 0, at_most=True), "the backlog committed", 60)
            figures.recovery_seconds["backlog_committed"] = round(time.monotonic() - back, 2)
            figures.recovery_seconds["every_client_served"] = round(await load.recovered_after(back), 2)
            await asyncio.sleep(1)
        await verify(load, figures, address=address, redis_url=redis_url, settings=settings, postgres_url=postgres_url)
        assert figures.extra["rows_pending_at_end_of_outage"] >= 10
        assert "closed-trade commit failed" in proc.output()
        report(figures, artifacts_dir)
    finally:
        proc.stop()
        proxy.close()
        client = aioredis.Redis.from_url(redis_url)
        keys = [key async for key in client.scan_iter(match=f"{chaos_prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def _pending(address: str, rows: int, at_most: bool = False) -> bool:
    pending = (await status(address)).pending_trade_rows
    return pending <= rows if at_most else pending >= rows
