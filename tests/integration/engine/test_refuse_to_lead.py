"""An engine that cannot reconstruct the state the log implies refuses to lead: it logs CRITICAL and exits
non-zero (orchestration surfaces it) instead of starting from an empty or incomplete state. Cases:
snapshots exist but none can be restored (here: ASSETS changed under an open position)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from engine.config import EngineSettings
from tests.integration.engine.support import Producer, create_account, open_position, price_update, wait_applied
from tests.support.engine_process import start_engine
from tests.support.processes import ManagedProcess

SOL = (2_000_500, 2_000_000)  # buy 200.0500 / sell 200.0000


async def _exit_code(proc: ManagedProcess) -> int:
    assert proc.proc is not None
    return await asyncio.to_thread(proc.proc.wait, 60)


async def test_unrestorable_snapshots_refuse_to_lead_instead_of_starting_empty(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    proc, address = start_engine(engine_env, artifacts_dir)
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    try:
        await producer.send(create_account("r1", "r1@example.com"))
        await producer.send(price_update({"SOL_USDC": SOL}))
        await producer.send(open_position("r1", "SOL_USDC", "LONG", 100_000_000, 2))
        assert len(producer.reference.positions_of("r1")) == 1
        await wait_applied(address, producer.last_id)
    finally:
        # SIGTERM: final snapshot at the last entry
        assert proc.stop() == 0
    # the stream below the snapshot is gone, as after the engine's own trimming
    await redis_client.xtrim(engine_env["STREAM_KEY"], minid=producer.last_id)
    # SOL_USDC removed from ASSETS: every kept snapshot holds a position the configuration refuses
    changed = {**engine_env, "ASSETS": "BTC_USDC:4:0.00001,ETH_USDC:4:0.0001"}
    proc, address = start_engine(changed, artifacts_dir, wait=False)
    try:
        assert await _exit_code(proc) != 0
        output = proc.output()
        assert '"level": "critical"' in output and '"msg": "refusing to lead"' in output
        assert "does not fit the configured asset SOL_USDC" in output
        assert "no snapshot: starting from an empty state" not in output
    finally:
        proc.stop()
