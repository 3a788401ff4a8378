"""Malformed requests on every RPC of every service the engine serves (its own two, health and reflection),
through a real gRPC channel's generic calls: bytes that are no protobuf, another message's bytes, fields
of the wrong wire type, a huge field, an oversized message, extreme and out-of-range paging values. Each
call ends with a clear status (never UNKNOWN, which is a servicer that broke), the engine keeps serving,
and its state is what the commands before the attack made it."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import grpc
import redis.asyncio as aioredis
from exness.engine.v1 import admin_service_pb2, engine_service_pb2
from exness.market.v1 import candles_pb2
from google.protobuf import descriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from engine.config import EngineSettings
from harness.candles_process import start_candles
from tests.integration.engine.support import (
    Producer,
    applied_state_hash,
    create_account,
    open_position,
    price_update,
    status,
)
from tests.support.engine_process import start_engine

BTC = (600_500_000, 600_000_000)  # buy 60,050.0000 / sell 60,000.0000


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire_type) + payload


def _length_delimited(number: int, data: bytes) -> bytes:
    return _field(number, 2, _varint(len(data)) + data)


def hostile_payloads(method: descriptor.MethodDescriptor) -> dict[str, bytes]:
    """Hostile request bodies for one method, built from its input message's fields."""
    payloads = {
        "not protobuf": b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        "truncated length": b"\x0a\xff\xff\xff\x0f",
        "field number 0": b"\x00\x01",
        "another message": create_account("intruder", "intruder@example.com").SerializeToString(),
    }
    for field in method.input_type.fields:
        if field.type == field.TYPE_STRING:
            payloads[f"{field.name}: 1 MiB"] = _length_delimited(field.number, b"u" * (1 << 20))
            payloads[f"{field.name}: invalid UTF-8"] = _length_delimited(field.number, b"\xc3\x28\xff")
            payloads[f"{field.name}: as varint"] = _field(field.number, 0, _varint(7))
        elif field.type in (field.TYPE_UINT32, field.TYPE_UINT64, field.TYPE_INT32, field.TYPE_INT64):
            payloads[f"{field.name}: -1"] = _field(field.number, 0, _varint(-1))
            payloads[f"{field.name}: 2^64-1"] = _field(field.number, 0, _varint((1 << 64) - 1))
            payloads[f"{field.name}: as bytes"] = _length_delimited(field.number, b"\x01\x02")
        elif field.type == field.TYPE_ENUM:
            payloads[f"{field.name}: 999"] = _field(field.number, 0, _varint(999))
            payloads[f"{field.name}: -1"] = _field(field.number, 0, _varint(-1))
        elif field.type == field.TYPE_MESSAGE:
            payloads[f"{field.name}: garbage inside"] = _length_delimited(field.number, b"\xff\xff\xff")
    payloads["oversized message"] = _length_delimited(1, b"x" * (9 << 20))
    return payloads


# every gRPC server of the platform also serves these two
COMMON_SERVICES = [
    health_pb2.DESCRIPTOR.services_by_name["Health"],
    reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"],
]
ENGINE_SERVICES = [
    engine_service_pb2.DESCRIPTOR.services_by_name["EngineService"],
    admin_service_pb2.DESCRIPTOR.services_by_name["EngineAdminService"],
    *COMMON_SERVICES,
]
CANDLE_SERVICES = [candles_pb2.DESCRIPTOR.services_by_name["CandleService"], *COMMON_SERVICES]
# What a malformed request may end in: refused as such, looked up and not found, too big, not possible
# right now, or not served. UNKNOWN (an exception in a servicer) and UNAVAILABLE (the server went away) may not.
CLEAR = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNIMPLEMENTED,  # grpcio-health's List, which this version does not serve
}


def _call(channel: grpc.Channel, method: descriptor.MethodDescriptor, payload: bytes) -> grpc.StatusCode:
    path = f"/{method.containing_service.full_name}/{method.name}"
    try:
        if method.client_streaming:
            call = channel.stream_stream(path)(iter([payload]), timeout=10)
            for _ in call:
                pass
        elif method.server_streaming:
            stream = channel.unary_stream(path)(payload, timeout=3)
            try:
                for _ in stream:  # StreamReplies and Watch run until cancelled: a first message is enough
                    stream.cancel()
            except grpc.RpcError as exc:
                # cancelled by us after a first message, or open with nothing to say: both served
                if exc.code() not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise
        else:
            channel.unary_unary(path)(payload, timeout=10)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


async def _attack(address: str, services: list[descriptor.ServiceDescriptor]) -> dict[str, grpc.StatusCode]:
    """Every hostile payload on every method, each on a channel of its own; the server must still
    answer its health check after each call. Returns each call's status; asserts none is unclear."""
    outcomes: dict[str, grpc.StatusCode] = {}
    for service in services:
        for method in service.methods:
            for name, payload in hostile_payloads(method).items():
                call = f"{service.name}/{method.name} {name}"
                with grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 16 << 20)]) as channel:
                    outcomes[call] = _call(channel, method, payload)
                    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
                assert health.status == health_pb2.HealthCheckResponse.SERVING, f"not serving after {call}"
    unclear = {call: code for call, code in outcomes.items() if code not in CLEAR}
    print(f"\ngRPC {address}: {len(outcomes)} malformed calls, {dict(Counter(c.name for c in outcomes.values()))}")
    assert not unclear
    return outcomes


async def test_malformed_requests_on_every_rpc_get_clear_statuses_and_the_engine_keeps_serving(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, artifacts_dir: Path
) -> None:
    proc, address = start_engine(engine_env, artifacts_dir)
    producer = Producer(redis_client, engine_env["STREAM_KEY"], engine_settings)
    try:
        await producer.send(create_account("owner", "owner@example.com"))
        await producer.send(price_update({"BTC_USDC": BTC}))
        await producer.send(open_position("owner", "BTC_USDC", "LONG", 100_000, 5))
        before = await applied_state_hash(address, producer.last_id)
        outcomes = await _attack(address, ENGINE_SERVICES)
        # bytes that are no message, and ids longer than any the platform issues, are refused as such
        for call, code in outcomes.items():
            if call.endswith((" not protobuf", " truncated length", "user_id: 1 MiB", "gateway_id: 1 MiB")):
                assert code == grpc.StatusCode.INVALID_ARGUMENT, call
        assert not proc.exited()
        current = await status(address)
        assert current.leader
        # nothing the attack sent changed the state (TakeSnapshot ran, so the hash is the state's own)
        assert await applied_state_hash(address, producer.last_id) == before == producer.reference.state_hash()
    finally:
        proc.stop()


async def test_malformed_requests_on_every_rpc_of_the_candle_service(
    redis_url: str, postgres_url: str, key_prefix: str, artifacts_dir: Path
) -> None:
    name = f"exness_hostile_{uuid.uuid4().hex[:10]}"
    admin_url = f"{postgres_url.rpartition('/')[0]}/postgres"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    env = {"REDIS_URL": redis_url, "STREAM_KEY": f"{key_prefix}stream:engine"}
    try:
        proc, address = start_candles(
            {**env, "DATABASE_URL": f"{postgres_url.rpartition('/')[0]}/{name}"}, artifacts_dir
        )
        try:
            outcomes = await _attack(address, CANDLE_SERVICES)
            assert outcomes["CandleService/ListCandles not protobuf"] == grpc.StatusCode.INVALID_ARGUMENT
            assert not proc.exited()
        finally:
            proc.stop()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
