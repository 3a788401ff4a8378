"""A leader cut off past its lease while a standby takes over, under load: paused with SIGSTOP, or its
network to Redis cut (a proxy between it and Redis). When it comes back it must write nothing: no reply,
acknowledgement, trim, closed-trade row or snapshot of its old epoch lands after the standby took over
(engine.fencing); it steps down, and everything reconciles (tests/chaos/verify.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import asyncpg
import pymongo
import pytest
import redis.asyncio as aioredis

from engine.config import EngineSettings
from engine.stream import entry_key
from harness.polling import apoll_until
from harness.processes import free_port
from tests.chaos.load import Load
from tests.chaos.verify import Figures, report, verify
from tests.integration.engine.support import status
from tests.integration.engine.tcp_proxy import TcpProxy
from tests.support import engine_process
from tests.support.engine_process import start_engine, wait_serving

OUT_SECONDS = 4.0  # well past the lease TTL (1.5 s)


@pytest.mark.parametrize("cut", ["sigstop", "redis_network_cut"])
async def test_stale_leader_writes_nothing(
    cut: str, redis_url: str, chaos_env: dict[str, str], chaos_prefix: str, postgres_url: str, artifacts_dir: Path
) -> None:
    proxy = TcpProxy("127.0.0.1", int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    proxy.up()
    leader_redis = f"redis://127.0.0.1:{proxy.port}/0" if cut == "redis_network_cut" else redis_url
    env = engine_process.engine_env({**chaos_env, "REDIS_URL": redis_url})
    settings = EngineSettings(**{k.lower(): v for k, v in env.items() if not k.startswith("ENGINE_")})
    old, old_address = start_engine({**env, "REDIS_URL": leader_redis, "ENGINE_INSTANCE_NAME": "old"}, artifacts_dir)
    new_env = {**env, "ENGINE_INSTANCE_NAME": "new", "ENGINE_GRPC_PORT": str(free_port()),
               "ENGINE_METRICS_PORT": str(free_port())}  # fmt: skip
    new, new_address = start_engine(new_env, artifacts_dir, wait=False)
    redis = aioredis.Redis.from_url(redis_url)
    epoch_key = f"{env['STREAM_KEY']}:lease:epoch"
    figures = Figures(f"stale leader: {cut} past the lease while a standby takes over", faults=1)
    try:
        async with Load(redis_url, env["STREAM_KEY"], [old_address, new_address], prefix=chaos_prefix) as load:
            await asyncio.sleep(2)
            old_epoch = int(await redis.get(epoch_key))
            if cut == "sigstop":
                os.killpg(old.pid, signal.SIGSTOP)
            else:
                proxy.down()
            out_at = time.monotonic()
            # what it had read and not acknowledged: a reply for any of these (or anything newer) would be stale
            unacknowledged = {row["message_id"].decode() for row in await redis.xpending_range(
                env["STREAM_KEY"], "engine", min="-", max="+", count=10_000, consumername="old")}  # fmt: skip
            delivered = await _last_delivered(redis, env["STREAM_KEY"])
            await asyncio.to_thread(wait_serving, new_address, new)
            # replies of the old leader that arrive from here on
            old_replies = set(load.replies_from(old_address))
            figures.recovery_seconds["standby_serving"] = round(time.monotonic() - out_at, 2)
            figures.recovery_seconds["every_client_served"] = round(await load.recovered_after(out_at), 2)
            await asyncio.sleep(max(0.0, OUT_SECONDS - (time.monotonic() - out_at)))
            new_epoch = int(await redis.get(epoch_key))
            assert new_epoch > old_epoch
            if cut == "sigstop":
                os.killpg(old.pid, signal.SIGCONT)
            else:
                proxy.up()
            back_at_ms = int(time.time() * 1000)
            await apoll_until(lambda: _stepped_down(old_address), "the old leader to step down", 30)
            # trading goes on with the old leader back: anything it still had in hand would land now
            await asyncio.sleep(1.5)
            late = {rid: r for rid, r in load.replies_from(old_address).items() if rid not in old_replies}
            # a late one is harmless when it was released before the pause (sitting in the frozen process'
            # gRPC buffers), i.e. for an entry it had acknowledged; stale when its batch was never acknowledged
            newest = entry_key(delivered)
            stale_replies = [rid for rid, r in late.items()
                             if r.stream_id in unacknowledged or entry_key(r.stream_id) > newest]  # fmt: skip
        assert (await status(new_address)).leader
        await verify(load, figures, address=new_address, redis_url=redis_url, settings=settings,
                     postgres_url=postgres_url)  # fmt: skip
        stale = await _stale_writes(env, postgres_url, old_epoch, new_epoch, back_at_ms)
        stale["stale_replies"] = len(stale_replies)
        assert stale == {"snapshots_after_takeover": 0, "postgres_fence_below_new_epoch": 0, "stale_replies": 0}
        stale["late_replies_of_acknowledged_entries"] = len(late) - len(stale_replies)
        output = old.output()
        # it noticed: the lapsed lease, a fenced write, or (cut off) its session failing on Redis
        assert any(sign in output for sign in ("lease lost", "fenced off", "leader session failed"))
        fenced = [json.loads(line).get("error", "") for line in output.splitlines() if "fenced off" in line]
        figures.extra = {"old_epoch": old_epoch, "new_epoch": new_epoch, **stale, "old_leader_refused": fenced}
        report(figures, artifacts_dir)
    finally:
        if not old.exited():
            os.killpg(old.pid, signal.SIGCONT)
        old.stop()
        new.stop()
        proxy.close()
        keys = [key async for key in redis.scan_iter(match=f"{chaos_prefix}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def _last_delivered(redis: aioredis.Redis, stream_key: str) -> str:
    for group in await redis.xinfo_groups(stream_key):
        if group["name"] == b"engine":
            return str(group["last-delivered-id"].decode())
    return "0-0"


async def _stepped_down(address: str) -> bool:
    return not (await status(address)).leader


async def _stale_writes(env: dict[str, str], postgres_url: str, old_epoch: int, new_epoch: int,
                        back_at_ms: int) -> dict[str, int]:  # fmt: skip
    """Snapshot manifests of the old epoch written after it came back, and whether PostgreSQL's fence fell
    behind the new leader's epoch. (Its acknowledgements and trims cannot be told apart afterwards: the
    stream checks are those of verify, and tests/integration/engine/test_fencing.py refuses each.)"""
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(env["MONGODB_URL"])
    try:
        manifests = client[env["MONGODB_DATABASE"]]["snapshots"]
        late = manifests.count_documents({"epoch": old_epoch, "created_at_ms": {"$gte": back_at_ms}})
    finally:
        client.close()
    conn = await asyncpg.connect(postgres_url)
    try:
        fence = await conn.fetchval("SELECT epoch FROM engine_fence WHERE stream_key = $1", env["STREAM_KEY"])
    finally:
        await conn.close()
    return {"snapshots_after_takeover": late, "postgres_fence_below_new_epoch": int(fence < new_epoch)}
