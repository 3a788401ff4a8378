"""Small client-side helpers for the gateway tests: sign up a fresh user, auth headers, stream-length checks
for harness.polling."""

from __future__ import annotations

import uuid

import httpx
import redis.asyncio as aioredis


async def new_user(api: httpx.AsyncClient, password: str = "correct horse 1") -> tuple[dict[str, object], str]:
    """Sign up a user with a fresh e-mail; returns (user, token)."""
    response = await api.post("/signup", json={"email": f"u{uuid.uuid4().hex[:12]}@example.com", "password": password})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["user"], body["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def stream_length_is(redis: aioredis.Redis, key: str, length: int) -> bool:
    return bool(await redis.xlen(key) == length)


async def stream_longer_than(redis: aioredis.Redis, key: str, length: int) -> bool:
    return bool(await redis.xlen(key) > length)
