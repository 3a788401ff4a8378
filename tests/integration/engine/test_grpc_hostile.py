"""Malformed requests on every RPC of every service the engine serves (its own two, health and reflection),
through a real gRPC channel's generic calls: bytes that are no protobuf, another message's bytes, fields
of the wrong wire type, a huge field, an oversized message, extreme and out-of-range paging values. Each
call ends with a clear status (never UNKNOWN, which is a servicer that broke), the engine keeps serving,
and its state is what the commands before the attack made it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import grpc
import redis.asyncio as aioredis
from exness.engine.v1 import admin_service_pb2, engine_service_pb2
from google.protobuf import descriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from engine.config import EngineSettings
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
        elif field.type == field.TYPE_MESSAGE:
            payloads[f"{field.name}: garbage inside"] = _length_delimited(field.number, b"\xff\xff\xff")
    payloads["oversized message"] = _length_delimited(1, b"x" * (9 << 20))
    return payloads


SERVICES = [
    engine_service_pb2.DESCRIPTOR.services_by_name["EngineService"],
    admin_service_pb2.DESCRIPTOR.services_by_name["EngineAdminService"],
    health_pb2.DESCRIPTOR.services_by_name["Health"],
    reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"],
]
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
        outcomes: dict[str, grpc.StatusCode] = {}
        for service in SERVICES:
            for method in service.methods:
                for name, payload in hostile_payloads(method).items():
                    call = f"{service.name}/{method.name} {name}"
                    with grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 16 << 20)]) as ch:
                        outcomes[call] = _call(ch, method, payload)
                    assert (await status(address)).leader, f"the engine stopped serving after {call}"
        unclear = {call: code for call, code in outcomes.items() if code not in CLEAR}
        print(f"\ngRPC: {len(outcomes)} malformed calls, {dict(Counter(code.name for code in outcomes.values()))}")
        assert not unclear
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
