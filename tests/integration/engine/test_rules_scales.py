"""A restart under an ASSETS price-scale change replays as the live run decided: entries are decoded in the
scales of the rules in force, not the configured ones. A state that cannot take the configured rules is
refused before anything is replayed, and a configured rules entry refused when applied ends the session
instead of serving under the old rules. The Engine runs in this process, its reply hub at hand."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2

from engine.config import EngineSettings
from engine.lifecycle import Engine
from engine.metrics import EngineMetrics
from engine.recovery import Recovery
from engine.refusals import RefuseToLead
from harness.polling import apoll_until
from tests.integration.engine.in_process import running_engine
from tests.integration.engine.support import Producer, create_account, open_position, price_update

BTC = (600_500_000, 600_000_000)
SOL = (1_500_100, 1_500_000)
GW = "gw-scales"


async def _refusal(settings: EngineSettings) -> tuple[str, list[commands_pb2.Reply]]:
    """Lead under `settings` until the engine refuses: why, and the replies it sent meanwhile."""
    engine = Engine(settings, EngineMetrics())
    replies = engine.hub.open(GW)
    try:
        with pytest.raises(RefuseToLead) as refusal:
            await engine.run()
    finally:
        await engine.close()
    return str(refusal.value), list(replies.items)


async def _lead_once(settings: EngineSettings, producer: Producer) -> None:
    """An engine under `settings` applies all the producer wrote, then stops (final snapshot)."""
    async with running_engine(settings) as engine:
        await apoll_until(lambda: engine.applier is not None and engine.applier.last_applied_id == producer.last_id,
                          f"the engine applied {producer.last_id}")  # fmt: skip


async def test_replay_after_a_price_scale_change_decides_as_the_live_run(
    engine_settings: EngineSettings, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    settings = engine_settings.model_copy(update={"snapshot_interval_seconds": 3600.0})
    producer = Producer(redis_client, settings.stream_key, settings)
    user = f"{key_prefix}dora"
    await producer.send(create_account(user, "dora@example.com"))
    # the snapshot records the rules in force (BTC_USDC at scale 4), and no BTC_USDC quote yet
    await _lead_once(settings, producer)
    # written while no engine runs: decided under the rules in force when replayed
    await producer.send(price_update({"BTC_USDC": BTC}))
    order = open_position(user, "BTC_USDC", "LONG", 100_000, 10, stop_loss=5_900_000, reply_to=GW, request_id="open")
    order.open_position.price_decimal = 4
    await producer.send(order)
    assert producer.expected["open"].WhichOneof("result") == "position_opened"

    rescaled = settings.model_copy(update={"assets": "BTC_USDC:2:0.00001,ETH_USDC:4:0.0001,SOL_USDC:4:0.01"})
    reason, replies = await _refusal(rescaled)
    # the order is answered as the live run would have; only then the configured scale is refused
    assert [reply.request_id for reply in replies] == ["open"] and replies[0] == producer.expected["open"]
    assert await redis_client.xlen(settings.dead_letter_stream) == 0
    assert "does not fit the configured asset BTC_USDC" in reason


async def test_a_state_that_cannot_take_the_configured_rules_is_refused_before_replay(
    engine_settings: EngineSettings, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    settings = engine_settings.model_copy(update={"snapshot_interval_seconds": 3600.0})
    producer = Producer(redis_client, settings.stream_key, settings)
    user = f"{key_prefix}erin"
    await producer.send(create_account(user, "erin@example.com"))
    await producer.send(price_update({"BTC_USDC": BTC}))
    await producer.send(open_position(user, "BTC_USDC", "LONG", 100_000, 10))
    await _lead_once(settings, producer)  # the snapshot holds a BTC_USDC position at scale 4
    await producer.send(create_account(f"{key_prefix}late", "late@example.com", reply_to=GW, request_id="late"))
    groups = await redis_client.xinfo_groups(settings.stream_key)

    rescaled = settings.model_copy(update={"assets": "BTC_USDC:2:0.00001,ETH_USDC:4:0.0001,SOL_USDC:4:0.01"})
    reason, replies = await _refusal(rescaled)
    assert "does not fit the configured asset BTC_USDC" in reason
    # nothing replayed: nobody answered, the group's cursor where it was
    assert replies == []
    assert await redis_client.xinfo_groups(settings.stream_key) == groups


async def test_a_refused_configured_rules_entry_refuses_to_serve(
    engine_settings: EngineSettings, redis_client: aioredis.Redis, key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings = engine_settings.model_copy(update={"snapshot_interval_seconds": 3600.0})
    producer = Producer(redis_client, settings.stream_key, settings)
    await producer.send(create_account(f"{key_prefix}finn", "finn@example.com"))
    await _lead_once(settings, producer)
    put_in_force = Recovery.put_configured_rules_in_force

    async def quote_arrives_first(recovery: Recovery, applier: object) -> None:
        # the pooler publishes SOL_USDC, still traded under the rules in force, just before the rules entry
        await producer.send(price_update({"SOL_USDC": SOL}))
        await put_in_force(recovery, applier)  # type: ignore[arg-type]

    monkeypatch.setattr(Recovery, "put_configured_rules_in_force", quote_arrives_first)
    without_sol = settings.model_copy(update={"assets": "BTC_USDC:4:0.00001,ETH_USDC:4:0.0001"})
    reason, _ = await _refusal(without_sol)
    assert "configured rules entry" in reason and "was refused" in reason and "SOL_USDC" in reason
