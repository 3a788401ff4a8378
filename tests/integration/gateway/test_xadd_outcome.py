"""When XADD fails, the gateway must tell "never sent" (503, nothing runs) from "outcome unknown" (wait,
then 504 + retry with the Idempotency-Key): a command that may be on the stream is never reported as not
executed. Exercised with real redis-py clients against a closed port and a server that never answers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.engine_client import xadd_never_sent
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


async def test_a_timeout_after_the_write_means_outcome_unknown(silent_server: int) -> None:
    error = await _xadd_error(f"redis://127.0.0.1:{silent_server}/0")
    assert not xadd_never_sent(error)
