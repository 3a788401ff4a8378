"""An engine that cannot reconstruct the state the log implies refuses to lead: it logs CRITICAL and exits
non-zero (orchestration surfaces it) instead of starting from an empty or incomplete state. Cases:
snapshots exist but none can be restored (here: ASSETS changed under an open position); the stream was
trimmed past the snapshot's entry; no snapshot and the stream's start was trimmed (ENGINE_ACCEPT_LOG_GAP
overrides the last two)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from engine.config import EngineSettings
from tests.integration.engine.support import Producer, create_account, open_position, price_update, wait_applied
from tests.support.engine_process import start_engine, wait_serving
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
    await redis_client.xtrim(engine_env["STREAM_KEY"], minid=producer.last_id, approximate=False)
    # SOL_USDC removed from ASSETS: every kept snapshot holds a position the configuration refuses
    changed = {**engine_env, "ASSETS": "BTC_USDC:4:0.00001,ETH_USDC:4:0.0001"}
    proc, address = start_engine(changed, artifacts_dir, wait=False)
    try:
        assert await _exit_code(proc) != 0
        output = proc.output()
        assert '"level": "critical"' in output and '"msg": "refusing to lead"' in output
        assert "does not fit the configured asset SOL_USDC" in output
        assert "Restore the configuration they were written under" in output and "Traceback" not in output
        assert "no snapshot: starting from an empty state" not in output
    finally:
        proc.stop()


async def test_stream_trimmed_past_the_snapshot_refuses_to_lead(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    stream = engine_env["STREAM_KEY"]
    proc, address = start_engine(engine_env, artifacts_dir)
    producer = Producer(redis_client, stream, engine_settings)
    try:
        snapshot_id = await producer.send(create_account("g1", "g1@example.com"))
        await wait_applied(address, snapshot_id)
    finally:
        assert proc.stop() == 0  # final snapshot at g1
    # entries added while no engine runs, then a length cap trims past the snapshot's entry
    await producer.send(create_account("g2", "g2@example.com"))
    kept = await producer.send(create_account("g3", "g3@example.com"))
    await redis_client.xtrim(stream, minid=kept, approximate=False)
    proc, address = start_engine(engine_env, artifacts_dir, wait=False)
    try:
        assert await _exit_code(proc) != 0
        output = proc.output()
        assert '"level": "critical"' in output and '"msg": "refusing to lead"' in output
        assert f"the snapshot's last applied entry {snapshot_id} is no longer in the stream" in output
    finally:
        proc.stop()


async def test_trimmed_stream_without_snapshot_refuses_unless_the_operator_accepts_the_gap(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    stream = engine_env["STREAM_KEY"]
    producer = Producer(redis_client, stream, engine_settings)
    for i in range(3):
        await producer.send(create_account(f"t{i}", f"t{i}@example.com"))
    await redis_client.xtrim(stream, maxlen=1, approximate=False)
    proc, address = start_engine(engine_env, artifacts_dir, wait=False)
    try:
        assert await _exit_code(proc) != 0
        output = proc.output()
        assert '"msg": "refusing to lead"' in output
        assert "no snapshot, but 2 entries were trimmed from the start of the stream" in output
        assert "replay done" not in output
        # what a second checkout on the same machine meets: the message says what to do, without a traceback
        assert "run `make reset` to wipe this checkout's local state" in output
        assert "restore the MongoDB snapshots written for this stream" in output
        assert "Only as a last resort, ENGINE_ACCEPT_LOG_GAP=true" in output and "Traceback" not in output
    finally:
        proc.stop()
    proc, address = start_engine({**engine_env, "ENGINE_ACCEPT_LOG_GAP": "true"}, artifacts_dir, wait=False)
    try:
        wait_serving(address, proc)
        output = proc.output()
        assert "gap in the log accepted (ENGINE_ACCEPT_LOG_GAP)" in output and '"level": "critical"' in output
    finally:
        proc.stop()
