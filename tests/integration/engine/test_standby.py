"""Single writer: a second engine on the same stream waits as a standby (health NOT_SERVING, reads and
snapshots refused) and takes over with restore + replay when the leader dies and its lease expires; a
leader whose lease is taken stops applying."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import redis.asyncio as aioredis
from exness.engine.v1 import admin_service_pb2, admin_service_pb2_grpc, engine_service_pb2, engine_service_pb2_grpc

from engine.config import EngineSettings
from harness.polling import apoll_until
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
from tests.support.engine_process import start_engine, wait_serving

BTC = (600_500_000, 600_000_000)


async def test_standby_takes_over_when_the_leader_dies(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    leader, leader_address = start_engine({**engine_env, "ENGINE_INSTANCE_NAME": "leader"}, artifacts_dir)
    standby, standby_address = start_engine({**engine_env, "ENGINE_INSTANCE_NAME": "standby"}, artifacts_dir,
                                            wait=False)  # fmt: skip
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    try:
        await producer.send(create_account("s1", "s1@example.com"))
        await producer.send(price_update({"BTC_USDC": BTC}))
        await wait_applied(leader_address, producer.last_id)

        async def standby_answers() -> bool:
            try:
                return not (await status(standby_address)).leader
            except grpc.aio.AioRpcError:
                return False

        await apoll_until(standby_answers, "the standby to start")
        async with grpc.aio.insecure_channel(standby_address) as channel:
            engine_stub = engine_service_pb2_grpc.EngineServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as read:
                await engine_stub.GetAccount(engine_service_pb2.GetAccountRequest(user_id="s1"))
            assert read.value.code() == grpc.StatusCode.UNAVAILABLE
            stream = engine_stub.StreamReplies(engine_service_pb2.StreamRepliesRequest(gateway_id="gw"))
            with pytest.raises(grpc.aio.AioRpcError) as replies:
                await stream.read()
            assert replies.value.code() == grpc.StatusCode.UNAVAILABLE
            admin_stub = admin_service_pb2_grpc.EngineAdminServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as snapshot:
                await admin_stub.TakeSnapshot(admin_service_pb2.TakeSnapshotRequest())
            assert snapshot.value.code() == grpc.StatusCode.FAILED_PRECONDITION

        # entries keep coming while the leader dies; the standby restores, replays and continues
        await producer.send(open_position("s1", "BTC_USDC", "LONG", 100_000, 10))
        leader.kill()
        for i in range(20):
            await producer.send(create_account(f"late-{i}", f"late-{i}@example.com"))
        wait_serving(standby_address, standby)
        async with ReplyClient(standby_address) as replies:
            await producer.send(create_account("s2", "s2@example.com", reply_to=replies.gateway_id, request_id="r"))
            assert (await replies.wait_for("r")) == producer.expected["r"]
        final = await wait_applied(standby_address, producer.last_id)
        assert final.leader and final.instance_name == "standby"
        assert await applied_state_hash(standby_address, producer.last_id) == producer.reference.state_hash()
        assert "lease acquired" in standby.output()
    finally:
        leader.stop()
        standby.stop()


async def test_leader_that_loses_its_lease_stops_applying(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    proc, address = start_engine(engine_env, artifacts_dir)
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    lease_key = f"{engine_env['STREAM_KEY']}:lease"
    try:
        await producer.send(create_account("l1", "l1@example.com"))
        await wait_applied(address, producer.last_id)
        # another writer takes the key (as after a network partition longer than the TTL)
        await redis_client.set(lease_key, "intruder", px=60_000)

        async def stepped_down() -> bool:
            return not (await status(address)).leader

        await apoll_until(stepped_down, "the leader to notice the lost lease")
        await producer.send(create_account("l2", "l2@example.com"))
        current = await status(address)
        assert not current.leader and current.last_applied_id == "" and current.state_hash == ""
        assert "lease lost" in proc.output()
        # the intruder goes away: the engine leads again from snapshot + replay, nothing missed
        await redis_client.delete(lease_key)
        assert await applied_state_hash(address, producer.last_id) == producer.reference.state_hash()
    finally:
        proc.stop()
