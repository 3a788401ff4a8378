"""Redis faults under load: the private Redis (AOF, `appendfsync always`) is SIGKILLed and restarted in the
middle of trading, then made unreachable for 10 s (a proxy in front of it refuses and resets every
connection, the engine's and the clients'). Clients retry with their Idempotency-Key throughout; nothing
acknowledged is lost or applied twice, and everything reconciles (tests/chaos/verify.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from engine.config import EngineSettings
from harness.polling import apoll_until
from tests.chaos.conftest import PrivateRedis
from tests.chaos.load import Load
from tests.chaos.verify import Figures, report, verify
from tests.integration.engine.tcp_proxy import TcpProxy
from tests.support import engine_process
from tests.support.engine_process import start_engine, wait_serving

CUT_SECONDS = 10.0


async def _trade_for(load: Load, seconds: float) -> None:
    """Let the load run until `seconds` have passed and some operations were acknowledged meanwhile."""
    since = time.monotonic()
    await asyncio.sleep(seconds)
    await apoll_until(lambda: load.acknowledged_after(since) >= 5, "operations acknowledged under load", 60)


async def test_redis_restart_and_cut_lose_nothing(
    private_redis: PrivateRedis, chaos_env: dict[str, str], chaos_prefix: str, postgres_url: str,
    artifacts_dir: Path,
) -> None:  # fmt: skip
    proxy = TcpProxy("127.0.0.1", private_redis.port)
    proxy.up()
    redis_url = f"redis://127.0.0.1:{proxy.port}/0"
    env = engine_process.engine_env({**chaos_env, "REDIS_URL": redis_url})
    settings = EngineSettings(**{k.lower(): v for k, v in env.items() if not k.startswith("ENGINE_")})
    proc, address = start_engine(env, artifacts_dir)
    figures = Figures("redis: SIGKILL + restart (AOF always), then unreachable 10 s", faults=2)
    try:
        async with Load(redis_url, env["STREAM_KEY"], [address], prefix=chaos_prefix) as load:
            await _trade_for(load, 3)
            private_redis.kill()
            private_redis.start()
            restarted = time.monotonic()
            figures.recovery_seconds["redis_restart"] = round(await load.recovered_after(restarted), 2)
            await _trade_for(load, 2)
            proxy.down()
            await asyncio.sleep(CUT_SECONDS)
            proxy.up()
            reachable = time.monotonic()
            figures.recovery_seconds["redis_cut_10s"] = round(await load.recovered_after(reachable), 2)
            await _trade_for(load, 2)
        await asyncio.to_thread(wait_serving, address, proc)
        await verify(load, figures, address=address, redis_url=redis_url, settings=settings, postgres_url=postgres_url)
        figures.extra["engine_sessions"] = proc.output().count('"lease acquired"')
        report(figures, artifacts_dir)
    finally:
        proc.stop()
        proxy.close()
