"""A restart under changed rules never re-decides what was acknowledged: the rules in force are recorded
in the snapshots and, when the configuration changes, in a rules entry the new leader writes to the log."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2

from engine.config import EngineSettings
from tests.integration.engine.support import (
    Producer,
    ReplyClient,
    applied_state_hash,
    create_account,
    open_position,
    price_update,
    status,
    wait_applied,
)
from tests.support import engine_process
from tests.support.engine_process import start_engine

BTC = (600_500_000, 600_000_000)


async def test_an_acknowledged_order_survives_a_restart_with_a_lower_max_leverage(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis,
    key_prefix: str, artifacts_dir: Path,
) -> None:  # fmt: skip
    stream = engine_env["STREAM_KEY"]
    # fixed ports (the reply client reconnects to the restarted engine); no scheduled snapshot after the order
    env = engine_process.engine_env({**engine_env, "SNAPSHOT_INTERVAL_SECONDS": "3600"})
    producer = Producer(redis_client, stream, engine_settings)
    user = f"{key_prefix}trader"
    proc, address = start_engine(env, artifacts_dir)
    try:
        async with ReplyClient(address) as replies:
            gw = replies.gateway_id
            await producer.send(create_account(user, "trader@example.com", reply_to=gw, request_id="signup"))
            await producer.send(price_update({"BTC_USDC": BTC}))
            await producer.send(open_position(user, "BTC_USDC", "LONG", 100_000, 80, reply_to=gw, request_id="x80"))
            acknowledged = await replies.wait_for("x80")
            assert acknowledged.WhichOneof("result") == "position_opened"
            proc.kill()  # no final snapshot: the restart replays the order

            lowered = {**env, "MAX_LEVERAGE": "50"}
            proc, address = start_engine(lowered, artifacts_dir)
            # SERVING: caught up, the rules entry below included. The order decided under 80x still stands.
            assert (await status(address)).open_positions == 1
            # the new leader put its rules in force through the log, after the order
            written = await redis_client.xrange(stream, min=f"({producer.last_id}", max="+")
            assert [fields[b"type"] for _, fields in written] == [b"CHANGE_RULES"]
            producer.observe(written[0][0].decode(), written[0][1])
            restarted = await wait_applied(address, producer.last_id)
            assert restarted.open_positions == 1
            assert await applied_state_hash(address, producer.last_id) == producer.reference.state_hash()

            await producer.send(open_position(user, "BTC_USDC", "LONG", 100_000, 80, reply_to=gw, request_id="again"))
            refused = await replies.wait_for("again")
            assert refused.rejection.reason == commands_pb2.REJECT_REASON_INVALID_LEVERAGE
            assert refused == producer.expected["again"]

        # restarted again under the same configuration: the snapshot holds the rules, nothing more is written
        assert proc.stop() == 0
        length = await redis_client.xlen(stream)
        proc, address = start_engine(lowered, artifacts_dir)
        again = await wait_applied(address, producer.last_id)
        assert await redis_client.xlen(stream) == length
        # the hash of the final snapshot, restored: it holds the state at the last entry
        assert again.state_hash_id == producer.last_id
        assert again.state_hash == producer.reference.state_hash()
        assert (await status(address)).open_positions == 1
    finally:
        proc.stop()
