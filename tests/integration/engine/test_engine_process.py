"""The engine as a separate process against real Redis, PostgreSQL and a MongoDB-protocol server:
commands in, replies out over StreamReplies, reads, the operator's view through reflection, garbage
on the stream, and a graceful restart."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import grpc
import httpx
import pymongo
import pytest
import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2, engine_service_pb2, engine_service_pb2_grpc

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
from tests.support import engine_process
from tests.support.engine_process import start_engine
from tests.support.grpc_reflection_client import call_unary, list_services

BTC = (600_500_000, 600_000_000)  # buy 60,050.0000 / sell 60,000.0000


async def test_commands_replies_reads_and_restart(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis,
    postgres_url: str, artifacts_dir: Path,
) -> None:  # fmt: skip
    proc, address = start_engine(engine_env, artifacts_dir)
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    try:
        async with ReplyClient(address) as replies:
            gw = replies.gateway_id
            created = await producer.send(create_account("u1", "one@example.com", reply_to=gw, request_id="r1"))
            await producer.send(price_update({"BTC_USDC": BTC}))
            await producer.send(open_position("u1", "BTC_USDC", "LONG", 1_000_000, 10, reply_to=gw, request_id="r2"))
            reply = await replies.wait_for("r1")
            assert reply.account_created.account.email == "one@example.com" and reply.stream_id == created
            opened = await replies.wait_for("r2")
            assert opened == producer.expected["r2"]
            position_id = opened.position_opened.position.id
            rejected_request = open_position("u1", "DOGE_USDC", "LONG", 1, 1, reply_to=gw, request_id="r3")
            await producer.send(rejected_request)
            assert (await replies.wait_for("r3")).rejection.reason == commands_pb2.REJECT_REASON_UNKNOWN_ASSET

            async with grpc.aio.insecure_channel(address) as channel:
                stub = engine_service_pb2_grpc.EngineServiceStub(channel)
                account = await stub.GetAccount(engine_service_pb2.GetAccountRequest(user_id="u1"))
                assert account.open_positions == 1
                assert account.account.balance_cents == opened.position_opened.balance_cents
                positions = await stub.ListPositions(engine_service_pb2.ListPositionsRequest(user_id="u1"))
                assert [v.position.id for v in positions.positions] == [position_id]
                assert positions.positions[0].current_price == BTC[1]
                prices = await stub.GetPrices(engine_service_pb2.GetPricesRequest())
                assert [(p.quote.asset, p.quote.buy_price) for p in prices.prices] == [("BTC_USDC", BTC[0])]
                with pytest.raises(grpc.aio.AioRpcError) as missing:
                    await stub.GetAccount(engine_service_pb2.GetAccountRequest(user_id="nobody"))
                assert missing.value.code() == grpc.StatusCode.NOT_FOUND
                with pytest.raises(grpc.aio.AioRpcError) as empty:
                    await stub.GetAccount(engine_service_pb2.GetAccountRequest())
                assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT

                await producer.send(close_position("u1", position_id, reply_to=gw, request_id="r4"))
                closed = await replies.wait_for("r4")
                assert closed == producer.expected["r4"]
                # side effects before replies: the row was committed before the reply was sent
                conn = await asyncpg.connect(postgres_url)
                try:
                    row = await conn.fetchrow("SELECT * FROM closed_trades WHERE id = $1", position_id)
                finally:
                    await conn.close()
                assert row is not None and row["credited_cents"] == closed.position_closed.trade.credited_cents
                page = await stub.ListClosedTrades(engine_service_pb2.ListClosedTradesRequest(user_id="u1"))
                assert [t.id for t in page.trades] == [position_id] and page.next_page_token == ""
                assert page.trades[0] == closed.position_closed.trade
                with pytest.raises(grpc.aio.AioRpcError) as bad_token:
                    await stub.ListClosedTrades(
                        engine_service_pb2.ListClosedTradesRequest(user_id="u1", page_token="%%%")
                    )
                assert bad_token.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        # graceful SIGTERM writes a final snapshot; the next engine resumes from it with the same state
        before = await status(address)
        assert proc.stop() == 0
        assert "leader stopped cleanly" in proc.output()
        proc, address = start_engine(engine_env, artifacts_dir)
        after = await wait_applied(address, producer.last_id)
        # the final snapshot holds the whole state; the restarted engine reports its hash from the manifest
        assert after.state_hash_id == producer.last_id
        assert after.state_hash == producer.reference.state_hash()
        assert after.last_snapshot_id == before.last_snapshot_id or after.last_snapshot_id
        assert '"replayed": 0' in proc.output()
    finally:
        proc.stop()


async def test_closed_trades_pagination(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    proc, address = start_engine(engine_env, artifacts_dir)
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    try:
        await producer.send(create_account("p1", "p1@example.com"))
        for _ in range(5):
            await producer.send(price_update({"BTC_USDC": BTC}))
            await producer.send(open_position("p1", "BTC_USDC", "SHORT", 100_000, 5))
        for position in producer.reference.positions_of("p1"):
            await producer.send(close_position("p1", position.id))
        expected = sorted(producer.closed_rows.values(), key=lambda r: (r["closed_at_ms"], r["id"]), reverse=True)
        await wait_applied(address, producer.last_id, committed=True)
        async with grpc.aio.insecure_channel(address) as channel:
            stub = engine_service_pb2_grpc.EngineServiceStub(channel)
            seen: list[str] = []
            token = ""
            for _ in range(20):
                page = await stub.ListClosedTrades(
                    engine_service_pb2.ListClosedTradesRequest(user_id="p1", page_size=2, page_token=token)
                )
                seen += [t.id for t in page.trades]
                token = page.next_page_token
                if not token:
                    break
            assert seen == [r["id"] for r in expected]
            with pytest.raises(grpc.aio.AioRpcError) as too_big:
                await stub.ListClosedTrades(engine_service_pb2.ListClosedTradesRequest(user_id="p1", page_size=501))
            assert too_big.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        proc.stop()


async def test_operator_view_through_reflection(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    env = engine_process.engine_env(engine_env)
    proc, address = start_engine(env, artifacts_dir)
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    try:
        assert list_services(address) == [
            "exness.engine.v1.EngineAdminService",
            "exness.engine.v1.EngineService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
        await producer.send(create_account("op1", "Op1@example.com"))
        await producer.send(price_update({"BTC_USDC": BTC}))
        await producer.send(open_position("op1", "BTC_USDC", "LONG", 100_000, 2))
        await wait_applied(address, producer.last_id)
        current = call_unary(address, "exness.engine.v1.EngineAdminService/GetStatus")
        assert current["leader"] is True
        assert current["lastAppliedId"] == producer.last_id
        assert current["accounts"] == "1" and current["openPositions"] == "1"
        snapshot = call_unary(address, "exness.engine.v1.EngineAdminService/TakeSnapshot")
        assert snapshot["lastAppliedId"] == producer.last_id and int(snapshot["sizeBytes"]) > 0
        assert snapshot["stateHash"] == producer.reference.state_hash()
        after_snapshot = call_unary(address, "exness.engine.v1.EngineAdminService/GetStatus")
        assert after_snapshot["lastSnapshotId"] == snapshot["snapshotId"]
        assert after_snapshot["stateHash"] == snapshot["stateHash"]
        assert after_snapshot["stateHashId"] == producer.last_id
        by_email = call_unary(address, "exness.engine.v1.EngineAdminService/LookupAccount",
                              {"email": "Op1@example.com"})  # fmt: skip
        by_id = call_unary(address, "exness.engine.v1.EngineAdminService/LookupAccount", {"userId": "op1"})
        assert by_email == by_id and len(by_id["positions"]) == 1
        with pytest.raises(grpc.RpcError) as missing:
            call_unary(address, "exness.engine.v1.EngineAdminService/LookupAccount", {"email": "no@example.com"})
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as no_key:
            call_unary(address, "exness.engine.v1.EngineAdminService/LookupAccount", {})
        assert no_key.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"http://127.0.0.1:{env['ENGINE_METRICS_PORT']}/metrics")).text
        assert 'engine_commands_applied_total{type="open_position"} 1.0' in metrics
        assert "engine_leader 1.0" in metrics
        assert "engine_snapshot_age_seconds" in metrics and "engine_stream_lag" in metrics
    finally:
        proc.stop()


async def test_garbage_entries_are_dead_lettered(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    proc, address = start_engine(engine_env, artifacts_dir)
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    try:
        async with ReplyClient(address) as replies:
            garbage = [
                {b"type": b"CREATE_ORDER", b"payload": b"\xff\xfe not a protobuf"},
                {b"type": b"LAUNCH_ROCKET", b"payload": b""},
                {b"hello": b"world"},
                {b"type": b"PRICE_UPDATE", b"payload": create_account("x", "x@example.com").SerializeToString()},
            ]
            garbage_ids = [await producer.send_raw(fields) for fields in garbage]
            # decodable but missing the user id: dead-lettered, and the waiting gateway hears why
            no_user = create_account("", "nouser@example.com", reply_to=replies.gateway_id, request_id="bad")
            garbage_ids.append(await producer.send(no_user))
            await producer.send(create_account("ok", "ok@example.com", reply_to=replies.gateway_id, request_id="ok"))
            assert (await replies.wait_for("bad")).rejection.reason == commands_pb2.REJECT_REASON_INVALID_COMMAND
            assert (await replies.wait_for("ok")).account_created.account.user_id == "ok"

        async def dead_letters() -> list[tuple[bytes, dict[bytes, bytes]]] | None:
            # a batch's dead letters go out with its XACK, after the batch's replies were queued
            entries = await redis_client.xrange(engine_env["DEAD_LETTER_STREAM"])
            return entries if len(entries) >= len(garbage_ids) else None

        dead = await apoll_until(dead_letters, "every garbage entry dead-lettered", 30)
        assert [fields[b"source_id"].decode() for _, fields in dead] == garbage_ids
        assert all(fields[b"error"] for _, fields in dead)
        assert dead[0][1][b"entry.payload"] == garbage[0][b"payload"]
        assert await applied_state_hash(address, producer.last_id) == producer.reference.state_hash()
        pending = await redis_client.xpending(engine_env["STREAM_KEY"], "engine")
        assert pending["pending"] == 0
    finally:
        proc.stop()


async def test_corrupt_snapshots_fall_back_to_an_older_one(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    env = {**engine_env, "SNAPSHOT_INTERVAL_SECONDS": "3600"}
    proc, address = start_engine(env, artifacts_dir)
    producer = Producer(redis_client, env["STREAM_KEY"], engine_settings)
    try:
        for round_ in range(3):
            await producer.send(create_account(f"c{round_}", f"c{round_}@example.com"))
            await producer.send(price_update({"BTC_USDC": BTC}))
            await producer.send(open_position(f"c{round_}", "BTC_USDC", "LONG", 100_000, 3))
            await wait_applied(address, producer.last_id)
            call_unary(address, "exness.engine.v1.EngineAdminService/TakeSnapshot")
        await producer.send(create_account("last", "last@example.com"))
        assert proc.stop() == 0  # writes a fourth snapshot; three are kept
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(env["MONGODB_URL"])
        try:
            database = client[env["MONGODB_DATABASE"]]
            manifests = list(database["snapshots"].find().sort("last_applied_ms", -1))
            assert len(manifests) == 3
            # damage the two newest: one chunk rewritten, one chunk missing
            database["snapshot_chunks"].update_one({"snapshot_id": manifests[0]["snapshot_id"]},
                                                   {"$set": {"data": b"rot"}})  # fmt: skip
            database["snapshot_chunks"].delete_many({"snapshot_id": manifests[1]["snapshot_id"]})
        finally:
            client.close()
        proc, address = start_engine(env, artifacts_dir)
        assert await applied_state_hash(address, producer.last_id) == producer.reference.state_hash()
        assert proc.output().count("snapshot cannot be restored; trying an older one") == 2
        assert manifests[2]["snapshot_id"] in proc.output()
    finally:
        proc.stop()


async def test_entries_left_pending_by_a_dead_consumer_are_recovered(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    stream = engine_env["STREAM_KEY"]
    producer = Producer(redis_client, stream, engine_settings)
    await redis_client.xgroup_create(stream, "engine", id="0", mkstream=True)
    await producer.send(create_account("d1", "d1@example.com"))
    garbage_id = await producer.send_raw({b"type": b"CLOSE_ORDER", b"payload": b"\x07"})
    await producer.send(create_account("d2", "d2@example.com"))
    # an engine that died after reading these and before acknowledging them
    delivered = await redis_client.xreadgroup("engine", "dead-engine", {stream: ">"}, count=10)
    assert len(delivered[0][1]) == 3
    await producer.send(create_account("d3", "d3@example.com"))
    proc, address = start_engine(engine_env, artifacts_dir)
    try:
        assert await applied_state_hash(address, producer.last_id) == producer.reference.state_hash()
        dead = await redis_client.xrange(engine_env["DEAD_LETTER_STREAM"])
        assert [fields[b"source_id"].decode() for _, fields in dead] == [garbage_id]
        assert (await redis_client.xpending(stream, "engine"))["pending"] == 0
        assert '"claimed_from_others": 3' in proc.output()
    finally:
        proc.stop()
