"""PostgreSQL unreachable (a proxy in front of the real server cuts every connection): the engine keeps
trading, holds the closed-trade rows and the replies that report them, keeps the rows across a snapshot
and a SIGKILL, and commits each exactly once when the database is back."""

from __future__ import annotations

import asyncio
import urllib.parse
import uuid
from pathlib import Path

import asyncpg
import grpc
import pytest
import redis.asyncio as aioredis
from exness.engine.v1 import engine_service_pb2, engine_service_pb2_grpc

from engine.config import EngineSettings
from harness.polling import apoll_until
from tests.integration.engine.support import (
    Producer,
    ReplyClient,
    applied_state_hash,
    close_position,
    create_account,
    open_position,
    price_update,
    status,
    wait_applied,
)
from tests.integration.engine.tcp_proxy import TcpProxy
from tests.support import engine_process
from tests.support.engine_process import start_engine, wait_serving
from tests.support.grpc_reflection_client import call_unary
from tests.support.processes import ManagedProcess

BTC = (600_500_000, 600_000_000)
CRASH = (540_500_000, 540_000_000)  # -10%: below the stop-loss of the position opened with one


async def _pending_rows(address: str, expected: int) -> None:
    async def reached() -> bool:
        return bool((await status(address)).pending_trade_rows == expected)

    await apoll_until(reached, f"pending_trade_rows to reach {expected}")


async def _schema_version(url: str) -> str | None:
    conn = await asyncpg.connect(url)
    try:
        exists = await conn.fetchval("SELECT to_regclass('alembic_version_engine') IS NOT NULL")
        return await conn.fetchval("SELECT version_num FROM alembic_version_engine") if exists else None
    finally:
        await conn.close()


async def _rows(postgres_url: str, ids: list[str]) -> list[str]:
    conn = await asyncpg.connect(postgres_url)
    try:
        return [r["id"] for r in await conn.fetch("SELECT id FROM closed_trades WHERE id = ANY($1)", ids)]
    finally:
        await conn.close()


async def test_postgres_outage_loses_nothing(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis,
    postgres_url: str, artifacts_dir: Path,
) -> None:  # fmt: skip
    target = urllib.parse.urlsplit(postgres_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    proxy.up()
    proxied_url = target._replace(netloc=f"{target.username}@127.0.0.1:{proxy.port}").geturl()
    env = engine_process.engine_env({**engine_env, "DATABASE_URL": proxied_url})
    proc, address = start_engine(env, artifacts_dir)
    producer = Producer(redis_client, env["STREAM_KEY"], engine_settings)
    try:
        async with ReplyClient(address) as replies:
            gw = replies.gateway_id
            await producer.send(create_account("pg1", "pg1@example.com"))
            await producer.send(price_update({"BTC_USDC": BTC}))
            for name, stop_loss in (("a", 0), ("b", 0), ("c", 580_000_000), ("d", 0)):
                await producer.send(open_position("pg1", "BTC_USDC", "LONG", 100_000, 5, stop_loss=stop_loss,
                                                  reply_to=gw, request_id=f"open-{name}"))  # fmt: skip
            ids = {name: (await replies.wait_for(f"open-{name}")).position_opened.position.id for name in "abcd"}
            await producer.send(close_position("pg1", ids["a"], reply_to=gw, request_id="close-a"))
            await replies.wait_for("close-a")
            assert await _rows(postgres_url, [ids["a"]]) == [ids["a"]]

            # outage 1: the close is applied, its reply waits for the commit; trading goes on
            proxy.down()
            await producer.send(close_position("pg1", ids["b"], reply_to=gw, request_id="close-b"))
            await _pending_rows(address, 1)
            assert "close-b" not in replies.replies
            await producer.send(open_position("pg1", "BTC_USDC", "SHORT", 100_000, 5, reply_to=gw, request_id="e"))
            assert (await replies.wait_for("e")).WhichOneof("result") == "position_opened"
            assert "close-b" not in replies.replies
            proxy.up()
            assert await replies.wait_for("close-b") == producer.expected["close-b"]
            assert await _rows(postgres_url, [ids["b"]]) == [ids["b"]]

            # outage 2: a manual close and a stop-loss pend, survive a snapshot and a SIGKILL
            proxy.down()
            await producer.send(close_position("pg1", ids["d"], reply_to=gw, request_id="close-d",
                                               idempotency_key="close-d-key"))  # fmt: skip
            await producer.send(price_update({"BTC_USDC": CRASH}))
            await _pending_rows(address, 2)
            async with grpc.aio.insecure_channel(address) as channel:
                stub = engine_service_pb2_grpc.EngineServiceStub(channel)
                with pytest.raises(grpc.aio.AioRpcError) as history:
                    await stub.ListClosedTrades(engine_service_pb2.ListClosedTradesRequest(user_id="pg1"))
                assert history.value.code() == grpc.StatusCode.UNAVAILABLE
            call_unary(address, "exness.engine.v1.EngineAdminService/TakeSnapshot")
            proc.kill()
            proc = ManagedProcess(proc.args, proc.log_path, env=env).start()
            await asyncio.to_thread(wait_serving, address, proc)
            restarted = await wait_applied(address, producer.last_id)
            assert restarted.pending_trade_rows == 2
            assert await _rows(postgres_url, [ids["c"], ids["d"]]) == []
            proxy.up()
            await wait_applied(address, producer.last_id, committed=True)
            # the reply of close-d died with the process; the gateway's retry with the same key gets it
            await producer.send(close_position("pg1", ids["d"], reply_to=gw, request_id="close-d-retry",
                                               idempotency_key="close-d-key"))  # fmt: skip
            retry = await replies.wait_for("close-d-retry")
            assert retry == producer.expected["close-d-retry"]
            assert retry.position_closed.trade.id == ids["d"]

        assert sorted(await _rows(postgres_url, list(ids.values()))) == sorted(ids.values())
        assert sorted(producer.closed_rows) == sorted(ids.values())
        assert await applied_state_hash(address, producer.last_id) == producer.reference.state_hash()
        assert "closed-trade commit failed" in proc.output()
    finally:
        proc.stop()
        proxy.close()


async def test_schema_is_migrated_when_the_engine_starts(
    engine_env: dict[str, str], postgres_url: str, artifacts_dir: Path
) -> None:
    database = f"engine_schema_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    fresh_url = postgres_url.rsplit("/", 1)[0] + f"/{database}"
    proc, address = start_engine({**engine_env, "DATABASE_URL": fresh_url}, artifacts_dir)
    try:
        # before any trade is closed, the history answers (empty) instead of failing on a missing table
        version = await apoll_until(lambda: _schema_version(fresh_url), "the engine's schema migrated", 10, proc)
        assert version == "0005"
        async with grpc.aio.insecure_channel(address) as channel:
            stub = engine_service_pb2_grpc.EngineServiceStub(channel)
            page = await stub.ListClosedTrades(engine_service_pb2.ListClosedTradesRequest(user_id="nobody"))
            orders = await stub.ListOrderHistory(engine_service_pb2.ListOrderHistoryRequest(user_id="nobody"))
        assert list(page.trades) == [] and page.next_page_token == ""
        assert list(orders.orders) == [] and orders.next_page_token == ""
    finally:
        proc.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
