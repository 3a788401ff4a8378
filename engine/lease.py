"""The single-writer lease: a Redis key (set if absent, with a TTL) that only its holder may renew or
release; a holder may re-acquire a key that still holds its own token. The
holder trusts its lease only until `valid_until` (measured on its own monotonic clock from the moment
it sent the last successful renewal), so a leader cut off from Redis stops applying before another
engine can possibly acquire the key.

Every acquisition also takes a new epoch (the fencing token, engine.fencing): one more than the last, and
never below Redis' clock in microseconds, so it still grows if Redis lost the epoch key (a restart without
persistence). The side effects of the session are checked against it where they land."""

from __future__ import annotations

import logging
import secrets
import time

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

# Acquire when free, or when the key already holds our own token (a leader session that failed on a Redis
# blip could not release it): either way the lease is ours for a fresh TTL.
# Returns the session's new epoch, or 0 when another holder has the key.
_ACQUIRE = """
local current = redis.call('get', KEYS[1])
if current == false then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
elseif current == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2])
else return 0 end
local now = redis.call('time')
local floor = tonumber(now[1]) * 1000000 + tonumber(now[2])
local epoch = string.format('%d', math.max((tonumber(redis.call('get', KEYS[2])) or 0) + 1, floor))
redis.call('set', KEYS[2], epoch)
return tonumber(epoch)
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class LeaseLost(Exception):
    """The lease lapsed or was taken while leading: stop applying at once."""


class Lease:
    def __init__(self, client: aioredis.Redis, key: str, holder: str, ttl_ms: int) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = ttl_ms
        # unique per acquisition attempt set, so a restarted process never mistakes an old lease for its own
        self.token = f"{holder}:{secrets.token_hex(8)}"
        self.valid_until = 0.0
        # the fencing token of the current session (0 until acquired); see engine.fencing
        self.epoch = 0
        self.epoch_key = f"{key}:epoch"
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @property
    def held(self) -> bool:
        return time.monotonic() < self.valid_until

    async def try_acquire(self) -> bool:
        sent_at = time.monotonic()
        epoch = int(await self._acquire(keys=[self.key, self.epoch_key], args=[self.token, self.ttl_ms]))
        if epoch:
            self.epoch = epoch
            self.valid_until = sent_at + self.ttl_ms / 1000
            return True
        return False

    async def renew(self) -> bool:
        """Extend the lease; False (and no longer held) when someone else holds the key."""
        sent_at = time.monotonic()
        if await self._renew(keys=[self.key], args=[self.token, self.ttl_ms]):
            self.valid_until = sent_at + self.ttl_ms / 1000
            return True
        self.valid_until = 0.0
        return False

    async def release(self) -> None:
        self.valid_until = 0.0
        await self._release(keys=[self.key], args=[self.token])

    async def holder(self) -> str:
        value = await self.client.get(self.key)
        if isinstance(value, bytes):
            return value.decode()
        return value or ""
