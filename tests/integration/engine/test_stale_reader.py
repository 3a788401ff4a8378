"""Split brain at the read: an old leader's XREADGROUP > that Redis runs after the new leader took over moves
fresh entries into the old leader's pending list, past the group's cursor. The leader still applies them
(and answers their requests), whether more entries follow or the stream goes quiet."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2

from engine.config import EngineSettings
from mesh.stream_codec import encode_command
from tests.integration.engine.support import Producer, ReplyClient, applied_state_hash, create_account, wait_applied
from tests.support.engine_process import start_engine


async def _stolen(client: aioredis.Redis, producer: Producer, commands: list[commands_pb2.Command]) -> list[str]:
    """XADD `commands` and, in the same MULTI, read them as another consumer of the engine's group: the
    leader, blocked in its own XREADGROUP, is served only after EXEC, when the group's cursor is past them."""
    async with client.pipeline(transaction=True) as pipe:
        for command in commands:
            pipe.xadd(producer.stream_key, encode_command(command))  # type: ignore[arg-type]
        pipe.xreadgroup("engine", "old-leader", {producer.stream_key: ">"}, count=100)
        *ids, read = await pipe.execute()
    entry_ids = [entry_id.decode() for entry_id in ids]
    assert [entry_id.decode() for entry_id, _ in read[0][1]] == entry_ids
    for entry_id, command in zip(entry_ids, commands, strict=True):
        producer.observe(entry_id, encode_command(command))
    return entry_ids


async def test_entries_taken_by_a_stale_reader_are_applied(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    proc, address = start_engine(engine_env, artifacts_dir)
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    try:
        async with ReplyClient(address) as replies:
            gw = replies.gateway_id
            await producer.send(create_account("s0", "s0@example.com"))
            await wait_applied(address, producer.last_id)
            # stolen, then a fresh entry the leader reads itself: what lies before it is fetched first
            await _stolen(redis_client, producer, [
                create_account("s1", "s1@example.com", reply_to=gw, request_id="r1"),
                create_account("s2", "s2@example.com", reply_to=gw, request_id="r2"),
            ])  # fmt: skip
            await producer.send(create_account("s3", "s3@example.com", reply_to=gw, request_id="r3"))
            assert await applied_state_hash(address, producer.last_id) == producer.reference.state_hash()
            for request_id in ("r1", "r2", "r3"):
                assert (await replies.wait_for(request_id)) == producer.expected[request_id]
            # stolen while the stream then stays quiet
            await _stolen(redis_client, producer, [
                create_account("s4", "s4@example.com", reply_to=gw, request_id="r4"),
            ])  # fmt: skip
            assert await applied_state_hash(address, producer.last_id) == producer.reference.state_hash()
            assert (await replies.wait_for("r4")) == producer.expected["r4"]
        # acknowledged for the group, though delivered to the other consumer
        pending = await redis_client.xpending(producer.stream_key, "engine")
        assert pending["pending"] == 0
        assert "entries delivered to another consumer and never applied" in proc.output()
    finally:
        proc.stop()
