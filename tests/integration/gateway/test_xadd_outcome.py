"""When XADD fails, the gateway must tell "never sent" (503, nothing runs) from "outcome unknown" (wait,
then 504 + retry with the Idempotency-Key): a command that may be on the stream is never reported as not
executed; a timed-out XADD is never retried (written once), and the XADDs of one loop iteration share a
pipeline. Exercised with real redis-py clients against a closed port, a server that never answers and
the real Redis."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.stream_writer import StreamWriter, command_redis, xadd_never_sent
from tests.support.net import free_port


async def _xadd_error(url: str) -> RedisError:
    client = aioredis.Redis.from_url(url, socket_timeout=0.3, socket_connect_timeout=0.3)
    try:
        with pytest.raises(RedisError) as failure:
            await client.xadd("never:written", {"type": "CREATE_ORDER", "payload": b"x"})
        return failure.value
    finally:
        await client.aclose()


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and reads, never answers: a Redis that hangs after the command was sent."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(4096):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0, family=socket.AF_INET)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_refused_connection_means_never_sent() -> None:
    error = await _xadd_error(f"redis://127.0.0.1:{free_port()}/0")
    assert xadd_never_sent(error)


async def test_a_connect_that_times_out_means_never_sent() -> None:
    """A listener whose accept queue is full drops new connection attempts: the TCP connect times out,
    so nothing was written (on a starved event loop a connect to a healthy Redis times out the same way)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # fill the accept queue (never accepted); later SYNs are dropped
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        error = await _xadd_error(f"redis://127.0.0.1:{port}/0")
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    assert str(error) == "Timeout connecting to server"
    assert xadd_never_sent(error)


async def test_a_timeout_after_the_write_means_outcome_unknown(silent_server: int) -> None:
    error = await _xadd_error(f"redis://127.0.0.1:{silent_server}/0")
    assert not xadd_never_sent(error)


async def test_a_timed_out_xadd_is_written_once() -> None:
    """The command client never retries: an XADD that timed out after its write must not be written again
    (without an Idempotency-Key a second copy would execute a second time)."""
    received: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # a Redis that completes the handshake (HELLO, CLIENT SETINFO) and then hangs on XADD
        while data := await reader.read(4096):
            received.append(data)
            if b"HELLO" in data.upper():
                writer.write(b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n")
            elif b"XADD" not in data.upper():
                writer.write(b"+OK\r\n" * data.count(b"\r\n*") + (b"+OK\r\n" if data.startswith(b"*") else b""))
        writer.close()

    server = await asyncio.start_server(record, "127.0.0.1", 0, family=socket.AF_INET)
    client = command_redis(f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0", timeout=0.3)
    try:
        with pytest.raises(RedisError) as failure:
            await StreamWriter(client, "never:answered").xadd({"type": b"CREATE_ORDER", "payload": b"x"})
        assert not xadd_never_sent(failure.value)
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
    assert b"".join(received).upper().count(b"XADD") == 1


async def test_xadds_of_one_iteration_go_out_as_one_pipeline(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = command_redis(redis_url)
    pipelines = 0
    original = client.pipeline

    def counting_pipeline(*args: object, **kwargs: object) -> object:
        nonlocal pipelines
        pipelines += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(client, "pipeline", counting_pipeline)
    stream = f"{key_prefix}coalesced"
    writer = StreamWriter(client, stream)
    try:
        await asyncio.gather(*(writer.xadd({"type": b"CREATE_ORDER", "payload": str(n).encode()}) for n in range(20)))
        assert pipelines == 1
        entries = await client.xrange(stream)
        assert [fields[b"payload"] for _, fields in entries] == [str(n).encode() for n in range(20)]
        await writer.xadd({"type": b"CREATE_ORDER", "payload": b"alone"})
        assert pipelines == 1  # a lone command is a plain XADD
    finally:
        await client.delete(stream)
        await client.aclose()


async def test_every_command_of_a_batch_learns_it_was_never_sent() -> None:
    client = command_redis(f"redis://127.0.0.1:{free_port()}/0", timeout=0.3)
    writer = StreamWriter(client, "never:written")
    try:
        outcomes = await asyncio.gather(
            *(writer.xadd({"type": b"CREATE_ORDER", "payload": b"x"}) for _ in range(3)), return_exceptions=True
        )
    finally:
        await client.aclose()
    assert all(isinstance(outcome, RedisError) and xadd_never_sent(outcome) for outcome in outcomes)
