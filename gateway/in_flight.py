"""The platform's count of writes waiting for engine replies, shared by every gateway process through
Redis, so that GATEWAY_MAX_IN_FLIGHT bounds the platform and not each process (gateway.admission).

Each process publishes its own count (`SharedInFlight`) from a background task every REFRESH_SECONDS,
never on an order's path: one script call writes the count into one hash (field: the gateway id, value:
the count and a deadline TTL_MS ahead on Redis's clock), drops the fields whose deadline has passed and
returns the sum of the other live gateways' counts. Admission adds this process's live count to that sum.
A gateway that dies stops counting by itself once its deadline passes; one that stops cleanly removes its
field at once. One hash rather than a key per gateway: the script finds the others without scanning the
keyspace.

The sum is eventually consistent: it is the others' counts as of the last refresh, at most
REFRESH_SECONDS plus a round trip old, so in that window the gateways together may admit up to what the
others admitted since (the overshoot of a burst that hits every gateway at once). Refusals are never
wrong for long either: a finished write leaves the sum at the next refresh.

When Redis fails, or no refresh has succeeded for TTL_MS, the others count as zero: this process falls
back to its own count (a warning when it happens, another when sharing resumes, and the gauge
`gateway_in_flight_shared` at 0 meanwhile); no order is refused for it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway import metrics

log = logging.getLogger(__name__)

REFRESH_SECONDS = 0.1
# a published count outlives its gateway by this much: long enough for several missed refreshes on a
# busy machine, short enough that a dead gateway's budget comes back within a retry or two
TTL_MS = 1500

# KEYS[1]: the hash; ARGV: this gateway's id, its count, the TTL in ms. Returns the other live gateways'
# counts summed.
PUBLISH_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + ttl))
redis.call('PEXPIRE', KEYS[1], ttl)
local others = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if fields[i] ~= ARGV[1] then
    local count, deadline = string.match(fields[i + 1], '^(%d+):(%d+)$')
    if count == nil or tonumber(deadline) <= now then
      redis.call('HDEL', KEYS[1], fields[i])
    else
      others = others + tonumber(count)
    end
  end
end
return others
"""


class SharedInFlight:
    """This process's count published under `key` (as `gateway_id`), and the other gateways' sum as of
    the last refresh (`others`). `local_count` is read on every refresh."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        gateway_id: str,
        local_count: Callable[[], int],
        refresh_seconds: float = REFRESH_SECONDS,
        ttl_ms: int = TTL_MS,
    ) -> None:
        self.key = key
        self.gateway_id = gateway_id
        self.refresh_seconds = refresh_seconds
        self.ttl_ms = ttl_ms
        self._redis = redis
        self._local_count = local_count
        self._script = redis.register_script(PUBLISH_SCRIPT)
        self._others = 0
        self._fresh_until = 0.0
        self._shared = True
        self._task: asyncio.Task[None] | None = None

    def others(self) -> int:
        """The other gateways' writes in flight; 0 while the last successful refresh is older than the TTL
        (Redis failing: this process counts alone)."""
        if time.monotonic() > self._fresh_until:
            return 0
        return self._others

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="in-flight-share")

    async def close(self) -> None:
        """Stop publishing and remove this gateway's count (its writes are no longer in flight here)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(RedisError, OSError):
            await self._redis.hdel(self.key, self.gateway_id)

    async def refresh(self) -> None:
        """Publish this process's count and read the others' once (the background task's step)."""
        try:
            others = await asyncio.wait_for(
                self._script(keys=[self.key], args=[self.gateway_id, self._local_count(), self.ttl_ms]),
                self.ttl_ms / 1000,
            )
        except (RedisError, OSError, TimeoutError) as exc:
            self._fresh_until = 0.0
            self._set_shared(False, str(exc) or type(exc).__name__)
            return
        self._others = int(others)
        self._fresh_until = time.monotonic() + self.ttl_ms / 1000
        metrics.IN_FLIGHT_OTHER_GATEWAYS.set(self._others)
        self._set_shared(True, "")

    def _set_shared(self, shared: bool, error: str) -> None:
        if not shared:
            metrics.IN_FLIGHT_OTHER_GATEWAYS.set(0)
        if shared == self._shared:
            return
        self._shared = shared
        metrics.IN_FLIGHT_SHARED.set(1 if shared else 0)
        if shared:
            log.warning("in-flight cap: Redis answers again, the cap is shared across the platform")
        else:
            log.warning(
                "in-flight cap: Redis failed, counting this gateway's writes only (per-process cap until it answers)",
                extra={"error": error},
            )

    async def _run(self) -> None:
        metrics.IN_FLIGHT_SHARED.set(1)
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # a defect must not end the sharing silently: count alone, say so once, go on
                self._fresh_until = 0.0
                self._set_shared(False, repr(exc)[:200])
            await asyncio.sleep(self.refresh_seconds)
