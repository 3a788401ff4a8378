"""Random bytes and hostile protobufs on the command stream of a real engine process: seeded random payloads
under real and invented type names, and well-formed commands whose values are extreme (the largest
quantities and leverages, negative and zero prices, unknown enum values, strings with NUL, a thousand
quotes). Every entry is applied, refused or dead-lettered, one at a time: the engine stays the leader,
leaves nothing pending, dead-letters exactly the entries that do not decode, and ends in the state an
independent reference reaches from the same entries."""

from __future__ import annotations

import random
from pathlib import Path

import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2

from engine import translate
from engine.config import EngineSettings
from mesh.stream_codec import decode_entry, encode_command
from tests.integration.engine.support import (
    Producer,
    applied_state_hash,
    close_position,
    create_account,
    open_position,
    price_update,
    status,
)
from tests.support.engine_process import start_engine

BTC = (600_500_000, 600_000_000)
TYPES = [b"CREATE_ACCOUNT", b"OPEN_POSITION", b"CLOSE_POSITION", b"PRICE_UPDATE", b"AMEND_POSITION", b"RM_RF"]
I64 = (1 << 63) - 1
U32 = (1 << 32) - 1


def random_entries(seed: int, count: int) -> list[dict[bytes, bytes]]:
    rng = random.Random(seed)
    entries = []
    for _ in range(count):
        payload = rng.randbytes(rng.choice([0, 1, 3, 17, 200, 5000]))
        entries.append({b"type": rng.choice(TYPES), b"payload": payload})
    return entries


def hostile_commands() -> list[commands_pb2.Command]:
    def opening(**fields: object) -> commands_pb2.Command:
        command = open_position("victim", "BTC_USDC", "LONG", 100_000, 5)
        for name, value in fields.items():
            setattr(command.open_position, name, value)
        return command

    quote = market_pb2.Quote
    huge_update = commands_pb2.Command(
        price_update=market_pb2.PriceUpdate(
            quotes=[quote(asset=f"X{n}_USDC", buy_price=n + 1, sell_price=n + 1, decimal=4) for n in range(1000)]
        )
    )
    return [
        opening(quantity=I64),
        opening(quantity=-1),
        opening(leverage=U32),
        opening(leverage=0),
        opening(slippage_bps=U32),
        opening(stop_loss=-I64),
        opening(take_profit=I64),
        opening(trade_opening_price=I64),
        opening(side=99),
        opening(asset="BTC_USDC\x00"),
        opening(asset="é" * 32),
        create_account("victim", "victim@example.com", balance=I64),
        create_account("other", "other@example.com", balance=-1),
        create_account("x" * 65, "long@example.com"),
        close_position("victim", "\x00" * 128),
        close_position("victim", "p" * 129),
        price_update({"BTC_USDC": (-1, -5)}),
        price_update({"BTC_USDC": (0, 0)}),
        price_update({"BTC_USDC": (1, I64)}),
        commands_pb2.Command(price_update=market_pb2.PriceUpdate(quotes=[quote(asset="BTC_USDC", decimal=U32)])),
        huge_update,
    ]


def _decodes(fields: dict[bytes, bytes]) -> bool:
    try:
        translate.command_from_proto(decode_entry(fields))
    except (ValueError, translate.MalformedCommand):
        return False
    return True


async def test_random_bytes_and_hostile_protobufs_are_refused_or_dead_lettered_and_nothing_half_applies(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    proc, address = start_engine(engine_env, artifacts_dir)
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    try:
        await producer.send(create_account("victim", "victim@example.com"))
        await producer.send(price_update({"BTC_USDC": BTC}))
        await producer.send(open_position("victim", "BTC_USDC", "LONG", 100_000, 5))
        undecodable: list[str] = []
        for fields in random_entries(seed=17, count=150):
            entry_id = await producer.send_raw(fields)
            if not _decodes(fields):
                undecodable.append(entry_id)
        # a command without a body, which the codec would not even encode
        no_body = {b"type": b"OPEN_POSITION", b"payload": commands_pb2.Command(user_id="victim").SerializeToString()}
        undecodable.append(await producer.send_raw(no_body))
        for command in hostile_commands():
            entry_id = await producer.send(command)
            if not _decodes(encode_command(command)):
                undecodable.append(entry_id)
        # the platform still trades after the attack
        await producer.send(price_update({"BTC_USDC": BTC}))
        await producer.send(open_position("victim", "BTC_USDC", "SHORT", 100_000, 2))
        assert await applied_state_hash(address, producer.last_id) == producer.reference.state_hash()
        assert (await status(address)).leader and not proc.exited()
        dead = await redis_client.xrange(engine_env["DEAD_LETTER_STREAM"])
        assert sorted(fields[b"source_id"].decode() for _, fields in dead) == sorted(undecodable)
        assert all(fields[b"error"] for _, fields in dead)
        assert (await redis_client.xpending(engine_env["STREAM_KEY"], "engine"))["pending"] == 0
        print(f"\nstream: {producer.entries} entries, {len(undecodable)} dead-lettered")
    finally:
        proc.stop()


async def test_a_price_update_quoting_one_asset_twice_is_dead_lettered_whole(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    """docs/contract.md §3: at most one quote per asset per update. Applied in turn, the first of two
    would fire the stop-loss at a price the second replaces in the same instant; the entry is malformed
    instead, dead-lettered like any other, and changes nothing (not even the other asset's quote)."""
    proc, address = start_engine(engine_env, artifacts_dir)
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    try:
        await producer.send(create_account("victim", "victim@example.com"))
        await producer.send(price_update({"BTC_USDC": BTC}))
        await producer.send(open_position("victim", "BTC_USDC", "LONG", 100_000, 5, stop_loss=590_000_000))
        quote = market_pb2.Quote
        twice = commands_pb2.Command(
            price_update=market_pb2.PriceUpdate(
                quotes=[
                    quote(asset="BTC_USDC", buy_price=580_500_000, sell_price=580_000_000, decimal=4),
                    quote(asset="ETH_USDC", buy_price=30_000_000, sell_price=29_900_000, decimal=4),
                    quote(asset="BTC_USDC", buy_price=BTC[0], sell_price=BTC[1], decimal=4),
                ]
            )
        )
        refused = await producer.send(twice)
        after = await producer.send(price_update({"BTC_USDC": BTC}))
        assert await applied_state_hash(address, after) == producer.reference.state_hash()
        (position,) = producer.reference.positions_of("victim")
        assert position.stop_loss == 590_000_000 and producer.reference.quote("ETH_USDC") is None
        dead = await redis_client.xrange(engine_env["DEAD_LETTER_STREAM"])
        assert [fields[b"source_id"].decode() for _, fields in dead] == [refused]
        assert b"more than one quote of 'BTC_USDC'" in dead[0][1][b"error"]
        assert (await status(address)).open_positions == 1 and not proc.exited()
    finally:
        proc.stop()
