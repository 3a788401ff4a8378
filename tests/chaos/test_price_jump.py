"""One price jump crosses thousands of levels at once, under load: 3,000 positions (1,000 stop-losses,
1,000 take-profits, 1,000 positions at 100x whose liquidation price is within 1%) all close, and 1,200
pending LIMIT orders 3% below the market all fill, on the one price entry that moves the market 5%.
Every closed trade and every filled order is committed exactly once and every account reconciles
(tests/chaos/verify.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import grpc
import redis.asyncio as aioredis
from exness.engine.v1 import engine_service_pb2, engine_service_pb2_grpc

from engine.config import EngineSettings
from engine.stream import entry_key
from harness.polling import apoll_until
from mesh.stream_codec import encode_command
from tests.chaos.load import START_BALANCE, Load
from tests.chaos.verify import Figures, report, verify
from tests.integration.engine.support import create_account, open_position, place_order, status
from tests.support import engine_process
from tests.support.engine_process import start_engine

ACCOUNTS = 300
PER_ACCOUNT = 10  # 300 x 10 = 3,000 levels
ORDERS_PER_ACCOUNT = 4  # and 1,200 pending orders
JUMP = -0.05


def bulk_commands(users: list[str], mid: int, leverage: int = 100, orders: int = 0) -> list[dict[str, bytes]]:
    """Accounts of `users`, each with PER_ACCOUNT positions: a third with a stop-loss 2% below `mid`, a third
    SHORT with a take-profit 2% below, a third LONG at `leverage`, liquidated within a few percent; and
    `orders` pending LIMIT LONG orders each, 3% below `mid`."""
    quantity = 1_000 * 10**12 // mid // 1_000 * 1_000  # ~$1,000 notional
    commands = [create_account(user, f"{user}@example.com", START_BALANCE) for user in users]
    for i, user in enumerate(users):
        for j in range(PER_ACCOUNT):
            kind = (i * PER_ACCOUNT + j) % 3
            if kind == 0:  # a LONG whose stop-loss is 2% below
                commands.append(open_position(user, "BTC_USDC", "LONG", quantity, 10, stop_loss=int(mid * 0.98)))
            elif kind == 1:  # a SHORT whose take-profit is 2% below
                commands.append(open_position(user, "BTC_USDC", "SHORT", quantity, 10, take_profit=int(mid * 0.98)))
            else:
                commands.append(open_position(user, "BTC_USDC", "LONG", quantity, leverage))
        for _ in range(orders):
            commands.append(place_order(user, "BTC_USDC", "LONG", "LIMIT", int(mid * 0.97), quantity, 10))
    return [encode_command(command) for command in commands]


async def open_bulk(redis: aioredis.Redis, stream_key: str, address: str, users: list[str], mid: int,
                    leverage: int = 100, orders: int = 0) -> int:  # fmt: skip
    """Write bulk_commands at once; once the engine has applied them, the positions they opened (all of them
    unless the market moved meanwhile: each open that was refused is one level fewer)."""
    async with redis.pipeline(transaction=False) as pipe:
        for fields in bulk_commands(users, mid, leverage, orders):
            pipe.xadd(stream_key, fields)  # type: ignore[arg-type]
        last_id = (await pipe.execute())[-1].decode()

    async def applied() -> bool:
        current = await status(address)
        # and every close so far committed, so the rows counted before a jump are all there is
        return entry_key(current.last_applied_id or "0-0") >= entry_key(last_id) and current.pending_trade_rows == 0

    await apoll_until(applied, "the bulk entries applied", 60, ignore=(grpc.aio.AioRpcError,))
    # a busy machine can make the engine miss a lease renewal (1.5 s here): it answers UNAVAILABLE while it
    # takes the lease back and catches up, so the count is asked again until it answers
    counted: list[int] = []

    async def count() -> bool:
        counted[:] = [await open_positions(address, users)]
        return True

    await apoll_until(count, "the engine to answer GetAccount", 60, ignore=(grpc.aio.AioRpcError,))
    return counted[0]


async def test_one_jump_crosses_3000_levels(
    redis_url: str, chaos_env: dict[str, str], chaos_prefix: str, postgres_url: str, artifacts_dir: Path
) -> None:
    env = engine_process.engine_env({**chaos_env, "REDIS_URL": redis_url, "READ_BATCH_SIZE": "500"})
    settings = EngineSettings(**{k.lower(): v for k, v in env.items() if not k.startswith("ENGINE_")})
    proc, address = start_engine(env, artifacts_dir)
    redis = aioredis.Redis.from_url(redis_url)
    users = [f"{chaos_prefix}bulk-{i}" for i in range(ACCOUNTS)]
    figures = Figures("feed: one price jump crosses 3,000 stop-loss, take-profit and liquidation levels and "
                      "1,200 pending orders", faults=1)  # fmt: skip
    try:
        async with Load(redis_url, env["STREAM_KEY"], [address], prefix=chaos_prefix) as load:
            load.prices_move = False  # no level may be crossed before the jump
            opened = await open_bulk(redis, env["STREAM_KEY"], address, users, load.prices.mids["BTC_USDC"],
                                     orders=ORDERS_PER_ACCOUNT)  # fmt: skip
            assert opened == ACCOUNTS * PER_ACCOUNT  # the prices stand still until the jump
            closed_before = sum((await reasons_of(postgres_url, users)).values())
            jumped = time.monotonic()
            await load.send_prices(JUMP)
            load.prices_move = True
            await apoll_until(
                lambda: committed(postgres_url, users, closed_before + opened), "3,000 closed trades committed", 60
            )
            await apoll_until(lambda: _filled(postgres_url, users, ACCOUNTS * ORDERS_PER_ACCOUNT),
                              "every pending order filled", 60)  # fmt: skip
            figures.recovery_seconds["jump_to_all_rows_committed"] = round(time.monotonic() - jumped, 2)
            figures.recovery_seconds["every_client_served"] = round(await load.recovered_after(jumped), 2)
            await asyncio.sleep(1)
        reasons = await reasons_of(postgres_url, users)
        assert reasons == {"STOP_LOSS": 1_000, "TAKE_PROFIT": 1_000, "LIQUIDATION": 1_000}
        figures.extra["closed_by_the_jump"] = reasons
        figures.extra["pending_orders_filled_by_the_jump"] = ACCOUNTS * ORDERS_PER_ACCOUNT
        assert await open_positions(address, users) == ACCOUNTS * ORDERS_PER_ACCOUNT  # the fills, still open
        await verify(load, figures, address=address, redis_url=redis_url, settings=settings, postgres_url=postgres_url,
                     other_users=tuple(users))  # fmt: skip
        report(figures, artifacts_dir)
    finally:
        proc.stop()
        keys = [key async for key in redis.scan_iter(match=f"{chaos_prefix}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def open_positions(address: str, users: list[str]) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = engine_service_pb2_grpc.EngineServiceStub(channel)
        total = 0
        for user in users:
            total += (
                await stub.GetAccount(engine_service_pb2.GetAccountRequest(user_id=user), timeout=10)
            ).open_positions
    return total


async def _filled(postgres_url: str, users: list[str], expected: int) -> bool:
    conn = await asyncpg.connect(postgres_url)
    try:
        filled = await conn.fetchval("SELECT count(*) FROM order_history WHERE user_id = ANY($1::text[]) "
                                     "AND status = 'FILLED'", users)  # fmt: skip
    finally:
        await conn.close()
    return int(filled) == expected


async def committed(postgres_url: str, users: list[str], expected: int) -> bool:
    return sum((await reasons_of(postgres_url, users)).values()) >= expected


async def reasons_of(postgres_url: str, users: list[str]) -> dict[str, int]:
    conn = await asyncpg.connect(postgres_url)
    try:
        rows = await conn.fetch("SELECT reason, count(*) AS n FROM closed_trades WHERE user_id = ANY($1::text[]) "
                                "GROUP BY reason", users)  # fmt: skip
    finally:
        await conn.close()
    return {row["reason"]: row["n"] for row in rows}
