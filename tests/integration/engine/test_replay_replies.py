"""Entries the engine applies while it replays are answered when their sender may still wait: those the
group never delivered (written while no engine ran) and those a dead leader read but never acknowledged.
A gateway attaching during or after the replay gets them. An entry that is malformed only by its price
scale gets its dead letter also when it is met again as a pending entry after a crash."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2

from engine.config import EngineSettings
from tests.integration.engine.support import (
    Producer,
    ReplyClient,
    close_position,
    create_account,
    open_position,
    price_update,
    wait_applied,
)
from tests.support.engine_process import start_engine

BTC = (600_500_000, 600_000_000)
SOL = (1_500_100, 1_500_000)
DEAD_CONSUMER = "engine-that-died"


async def _deliver_to_dead_consumer(redis_client: aioredis.Redis, settings: EngineSettings, count: int) -> None:
    """What a leader killed between XREADGROUP and XACK leaves: `count` entries pending for it."""
    await redis_client.xgroup_create(settings.stream_key, settings.consumer_group, id="0", mkstream=True)
    read = await redis_client.xreadgroup(settings.consumer_group, DEAD_CONSUMER, {settings.stream_key: ">"},
                                         count=count)  # fmt: skip
    assert len(read[0][1]) == count


async def test_entries_written_while_the_engine_is_down_get_their_replies(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis,
    key_prefix: str, artifacts_dir: Path,
) -> None:  # fmt: skip
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    gateway_id = f"{key_prefix}gw"
    alice, bob = f"{key_prefix}alice", f"{key_prefix}bob"
    sent: list[str] = []

    async def send(command: commands_pb2.Command) -> None:
        await producer.send(command)
        if command.reply_to:
            sent.append(command.request_id)

    # read by a leader that died before acknowledging them (it may or may not have answered)
    await send(create_account(alice, "alice@example.com", reply_to=gateway_id, request_id="pending-1"))
    await send(price_update({"BTC_USDC": BTC, "SOL_USDC": SOL}))
    await send(open_position(alice, "BTC_USDC", "LONG", 100_000, 20, reply_to=gateway_id, request_id="pending-2"))
    await _deliver_to_dead_consumer(redis_client, engine_settings, 3)
    # never delivered: written while no engine reads
    await send(create_account(bob, "bob@example.com", reply_to=gateway_id, request_id="new-1"))
    await send(open_position(bob, "SOL_USDC", "SHORT", 100_000_000, 5, reply_to=gateway_id, request_id="new-2"))
    await send(open_position(bob, "DOGE_USDC", "LONG", 1, 1, reply_to=gateway_id, request_id="new-3"))
    (position,) = producer.reference.positions_of(alice)
    # a close: its reply still waits for the trade's PostgreSQL commit
    await send(close_position(alice, position.id, reply_to=gateway_id, request_id="new-4"))

    proc, address = start_engine(engine_env, artifacts_dir, wait=False)
    try:
        # the gateway attaches whenever the engine lets it: during the replay or after it
        async with ReplyClient(address, gateway_id) as replies:
            for request_id in sent:
                assert await replies.wait_for(request_id, within=60) == producer.expected[request_id], request_id
            await wait_applied(address, producer.last_id, committed=True)
        closed = producer.expected["new-4"]
        assert closed.WhichOneof("result") == "position_closed"
        assert producer.expected["new-3"].rejection.reason == commands_pb2.REJECT_REASON_UNKNOWN_ASSET
    finally:
        proc.stop()


async def test_a_pending_entry_with_a_foreign_price_scale_is_dead_lettered_after_a_crash(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis,
    key_prefix: str, artifacts_dir: Path,
) -> None:  # fmt: skip
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    user = f"{key_prefix}carol"
    gateway_id = f"{key_prefix}gw"
    await producer.send(create_account(user, "carol@example.com"))
    await producer.send(price_update({"BTC_USDC": BTC}))
    order = open_position(user, "BTC_USDC", "LONG", 100_000, 10, stop_loss=5_900_000, reply_to=gateway_id,
                          request_id="scaled-by-100")  # fmt: skip
    order.open_position.price_decimal = 2  # the engine's scale for BTC_USDC is 4
    scaled_id = await producer.send(order)
    # the previous leader applied it (dead-lettered live) and died before the XACK that writes the dead letter
    await _deliver_to_dead_consumer(redis_client, engine_settings, 3)

    proc, address = start_engine(engine_env, artifacts_dir)
    try:
        # written with the pending entry's XACK, before the engine reports SERVING
        dead = await redis_client.xrange(engine_env["DEAD_LETTER_STREAM"])
        assert [fields[b"source_id"].decode() for _, fields in dead] == [scaled_id]
        assert b"10^2" in dead[0][1][b"error"]
        async with ReplyClient(address, gateway_id) as replies:
            reply = await replies.wait_for("scaled-by-100")
        assert reply.rejection.reason == commands_pb2.REJECT_REASON_INVALID_COMMAND
        await wait_applied(address, producer.last_id)
    finally:
        proc.stop()
