"""gateway.engine_client.EngineClient in this process against a real engine process and Redis: the
in-flight bound refuses at once (503, nothing XADDed) instead of queueing replies the engine would drop,
and a timed-out request frees its slot. Against a stand-in EngineService: the reply stream counts as
registered only once the engine has said so (the call's initial metadata), however long that takes, and
replies batched several to a message (`replies`) each reach their request."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
import redis.asyncio as aioredis
from exness.common.v1 import trading_pb2
from exness.engine.v1 import commands_pb2, engine_service_pb2, engine_service_pb2_grpc

from gateway.engine_client import EngineClient
from gateway.errors import ApiError
from gateway.translate import create_account_command
from harness.polling import apoll_until
from mesh.stream_codec import decode_entry
from tests.integration.gateway.helpers import stream_length_is
from tests.integration.gateway.support import Stack


async def test_in_flight_bound(stack_factory: Callable[..., Stack], redis_url: str) -> None:
    stack = stack_factory(engine_env={"LEASE_TTL_MS": "20000"})
    redis = aioredis.Redis.from_url(redis_url)
    client = EngineClient(
        stack.engine_addr,
        f"gw-test-{uuid.uuid4().hex[:6]}",
        redis,
        stack.stream_key,
        reply_timeout=1.5,
        max_in_flight=2,
    )
    client.start()
    try:
        await apoll_until(lambda: client.ready, "the reply stream open and settled", 60)
        reply = await client.submit(create_account_command(uuid.uuid4(), "a@example.com", 100))
        assert reply.WhichOneof("result") == "account_created"

        assert stack.engine.proc is not None
        os.killpg(stack.engine.proc.pid, signal.SIGSTOP)
        try:
            before = await redis.xlen(stack.stream_key)
            waiting = [
                asyncio.create_task(client.submit(create_account_command(uuid.uuid4(), f"w{n}@example.com", 1)))
                for n in range(2)
            ]
            # until both are on the stream, waiting for replies
            await apoll_until(
                lambda: stream_length_is(redis, stack.stream_key, before + 2),
                "both commands on the stream",
                12,
                interval=0.01,
            )
            entries = await redis.xlen(stack.stream_key)
            with pytest.raises(ApiError) as busy:
                await client.submit(create_account_command(uuid.uuid4(), "c@example.com", 1))
            assert (busy.value.status, busy.value.code) == (503, "ENGINE_BUSY")
            assert await redis.xlen(stack.stream_key) == entries
            for task in waiting:
                with pytest.raises(ApiError) as timeout:
                    await task
                assert timeout.value.status == 504 and timeout.value.request_id
        finally:
            os.killpg(stack.engine.proc.pid, signal.SIGCONT)
        # the timed-out requests gave their slots back
        reply = await client.submit(create_account_command(uuid.uuid4(), "d@example.com", 100))
        assert reply.WhichOneof("result") == "account_created"
    finally:
        await client.close()
        await redis.aclose()


class _SlowToRegister(engine_service_pb2_grpc.EngineServiceServicer):  # type: ignore[misc]
    """StreamReplies that accepts the call but registers it (sends initial metadata) only when told."""

    def __init__(self) -> None:
        self.call_arrived = asyncio.Event()
        self.register = asyncio.Event()

    async def StreamReplies(
        self, request: engine_service_pb2.StreamRepliesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[engine_service_pb2.StreamRepliesResponse]:
        self.call_arrived.set()
        await self.register.wait()
        await context.send_initial_metadata(())
        await asyncio.Event().wait()  # an open stream with no replies
        yield engine_service_pb2.StreamRepliesResponse()


async def test_reply_stream_is_ready_only_once_the_engine_registered_it(redis_url: str) -> None:
    servicer = _SlowToRegister()
    server = grpc.aio.server()
    engine_service_pb2_grpc.add_EngineServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    redis = aioredis.Redis.from_url(redis_url)
    client = EngineClient(f"127.0.0.1:{port}", "gw-registration", redis, "test:unused", reply_timeout=1.0)
    client.start()
    try:
        await asyncio.wait_for(servicer.call_arrived.wait(), 30)
        # the call is open and the channel READY, but the engine has not registered it: however long we
        # wait, writes must still be refused (their replies would have nowhere to go)
        await asyncio.sleep(1.0)
        assert not client.ready
        with pytest.raises(ApiError) as refused:
            await client.submit(create_account_command(uuid.uuid4(), "early@example.com", 1))
        assert (refused.value.status, refused.value.code) == (503, "ENGINE_UNAVAILABLE")
        servicer.register.set()
        await apoll_until(lambda: client.ready, "the metadata across the connection", 12, interval=0.01)
    finally:
        await client.close()
        await redis.aclose()
        await server.stop(grace=None)


class _BatchingEngine(engine_service_pb2_grpc.EngineServiceServicer):  # type: ignore[misc]
    """StreamReplies that answers the commands on the stream in batches: the first in `reply`, the rest
    in `replies` of the same message (the form an engine may send to a gateway that accepts batches)."""

    def __init__(self, redis: aioredis.Redis, stream_key: str, batch: int) -> None:
        self.redis = redis
        self.stream_key = stream_key
        self.batch = batch
        self.accepts_batches: bool | None = None

    async def StreamReplies(
        self, request: engine_service_pb2.StreamRepliesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[engine_service_pb2.StreamRepliesResponse]:
        self.accepts_batches = request.accepts_batches
        await context.send_initial_metadata(())
        last = "0-0"
        commands: list[commands_pb2.Command] = []
        while True:
            for _, stream_entries in await self.redis.xread({self.stream_key: last}, block=0):
                for entry_id, fields in stream_entries:
                    last = entry_id
                    commands.append(decode_entry(fields))
            if len(commands) < self.batch:  # until the whole batch is on the stream
                continue
            replies = [
                commands_pb2.Reply(
                    request_id=command.request_id,
                    account_created=commands_pb2.AccountCreated(
                        account=trading_pb2.Account(user_id=command.user_id, balance_cents=7)
                    ),
                )
                for command in commands
            ]
            commands = []
            yield engine_service_pb2.StreamRepliesResponse(reply=replies[0], replies=replies[1:])


async def test_replies_batched_in_one_message_all_reach_their_requests(redis_url: str, key_prefix: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    stream_key = f"{key_prefix}batched"
    servicer = _BatchingEngine(redis, stream_key, batch=3)
    server = grpc.aio.server()
    engine_service_pb2_grpc.add_EngineServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    client = EngineClient(f"127.0.0.1:{port}", "gw-batches", redis, stream_key, reply_timeout=30.0)
    client.start()
    try:
        await apoll_until(lambda: client.ready, "the reply stream registered", 12, interval=0.01)
        users = [uuid.uuid4() for _ in range(3)]
        accounts = await asyncio.gather(
            *(client.create_account(create_account_command(user, f"{user}@example.com", 7)) for user in users)
        )
        assert [account.user_id for account in accounts] == [str(user) for user in users]
        assert servicer.accepts_batches is True
    finally:
        await client.close()
        await server.stop(grace=None)
        await redis.delete(stream_key)
        await redis.aclose()


class _OldAndNewEngine(engine_service_pb2_grpc.EngineServiceServicer):  # type: ignore[misc]
    """StreamReplies that answers as an engine before batching did (one `reply` per message), then as one
    that batches (`replies`)."""

    def __init__(self) -> None:
        self.go = asyncio.Event()

    async def StreamReplies(
        self, request: engine_service_pb2.StreamRepliesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[engine_service_pb2.StreamRepliesResponse]:
        await context.send_initial_metadata(())
        await self.go.wait()
        yield engine_service_pb2.StreamRepliesResponse(reply=commands_pb2.Reply(request_id="single"))
        yield engine_service_pb2.StreamRepliesResponse(
            replies=[commands_pb2.Reply(request_id="first"), commands_pb2.Reply(request_id="second")]
        )
        await asyncio.Event().wait()


async def test_replies_arrive_one_per_message_or_batched(redis_url: str) -> None:
    servicer = _OldAndNewEngine()
    server = grpc.aio.server()
    engine_service_pb2_grpc.add_EngineServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    redis = aioredis.Redis.from_url(redis_url)
    client = EngineClient(f"127.0.0.1:{port}", "gw-batches", redis, "test:unused", reply_timeout=1.0)
    waiting = {request_id: asyncio.get_running_loop().create_future() for request_id in ("single", "first", "second")}
    client._pending.update(waiting)  # as submit() registers them before its XADD
    client.start()
    try:
        servicer.go.set()
        replies = await asyncio.wait_for(asyncio.gather(*waiting.values()), 30)
        assert [reply.request_id for reply in replies] == ["single", "first", "second"]
    finally:
        await client.close()
        await server.stop(None)
        await redis.aclose()


async def test_a_request_waiting_when_the_gateway_stops_answers_504_not_a_cancellation(redis_url: str) -> None:
    # the command is on the stream and the engine may still execute it: the client must be told to retry
    # with its Idempotency-Key (504), not get a cancelled request (a 500 from the server)
    servicer = _SlowToRegister()
    servicer.register.set()
    server = grpc.aio.server()
    engine_service_pb2_grpc.add_EngineServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    redis = aioredis.Redis.from_url(redis_url)
    stream_key = f"test:stopping:{uuid.uuid4().hex[:8]}"
    client = EngineClient(f"127.0.0.1:{port}", "gw-stopping", redis, stream_key, reply_timeout=60.0)
    client.start()
    try:
        await apoll_until(lambda: client.ready, "the reply stream registered", 30, interval=0.01)
        waiting = asyncio.create_task(client.submit(create_account_command(uuid.uuid4(), "s@example.com", 1)))
        await apoll_until(lambda: stream_length_is(redis, stream_key, 1), "the command on the stream", 12)
        await client.close()
        with pytest.raises(ApiError) as stopped:
            await waiting
        assert (stopped.value.status, stopped.value.code) == (504, "ENGINE_TIMEOUT")
        assert "Idempotency-Key" in stopped.value.message
    finally:
        await redis.delete(stream_key)
        await redis.aclose()
        await server.stop(grace=None)
