"""Fixtures for gateway integration tests: a real engine process and a real gateway process (uvicorn)
against the shared Redis and the session's PostgreSQL database, namespaced per module or per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from tests.integration.gateway.support import Stack, start_gateway
from tests.support.engine_process import start_engine


def _cleanup(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="module")
def stack_factory(
    redis_url: str, postgres_url: str, mongodb_url: str, artifacts_dir: Path
) -> Iterator[Callable[..., Stack]]:
    """Starts engine + gateway pairs with their own stream namespace; stops and cleans them all at the end."""
    started: list[tuple[Stack, str]] = []

    def start(engine_env: dict[str, str] | None = None, gateway_env: dict[str, str] | None = None) -> Stack:
        prefix = f"test:gw{uuid.uuid4().hex[:10]}:"
        stream_key = f"{prefix}stream:engine"
        channel = f"{prefix}ws:price:update"
        common = {
            "REDIS_URL": redis_url,
            "STREAM_KEY": stream_key,
            "PRICE_CHANNEL": channel,
            "DATABASE_URL": postgres_url,
        }
        engine, engine_addr = start_engine(
            {
                **common,
                "MONGODB_URL": mongodb_url,
                "MONGODB_DATABASE": f"gw_{uuid.uuid4().hex[:10]}",
                **(engine_env or {}),
            },
            artifacts_dir,
        )
        try:
            gateway, base_url = start_gateway(
                {**common, "ENGINE_ADDR": engine_addr, **(gateway_env or {})}, artifacts_dir
            )
        except BaseException:
            engine.stop()
            raise
        stack = Stack(engine, engine_addr, gateway, base_url, stream_key, channel, common)
        started.append((stack, prefix))
        return stack

    yield start
    for stack, prefix in started:
        stack.stop()
        _cleanup(redis_url, prefix)


@pytest.fixture(scope="module")
def stack(stack_factory: Callable[..., Stack]) -> Stack:
    """One engine + gateway shared by a module's tests (each test signs up its own users).
    Quotes go stale after 2 s of stream time, so staleness is testable without long waits."""
    return stack_factory(
        engine_env={"PRICE_STALE_AFTER_MS": "2000"},
        gateway_env={"CORS_ORIGINS": "http://app.example, http://localhost:5173"},
    )


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{stack.base_url}/api/v1", timeout=30) as client:
        yield client


@pytest.fixture
async def redis_conn(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()
