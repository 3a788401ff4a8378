"""The lease against real Redis: one holder at a time, and a holder whose key still carries its own token
(a leader session that failed without releasing) acquires it again at once instead of waiting for the TTL."""

from __future__ import annotations

import redis.asyncio as aioredis

from engine.lease import Lease


async def test_own_live_token_is_acquired_again_and_others_are_refused(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    key = f"{key_prefix}stream:engine:lease"
    mine = Lease(redis_client, key, "a", ttl_ms=60_000)
    other = Lease(redis_client, key, "b", ttl_ms=60_000)
    assert await mine.try_acquire()
    assert not await other.try_acquire()
    # the leader session failed on a Redis blip: it stopped trusting the lease and could not release it
    mine.valid_until = 0.0
    assert not mine.held
    assert await mine.try_acquire()
    assert mine.held
    assert await redis_client.pttl(key) > 50_000
    assert not await other.try_acquire()
    assert await other.holder() == mine.token
    await mine.release()
    assert await other.try_acquire()
    assert not await mine.try_acquire()
