"""The consume loop of a leader session: read the group's new entries in batches, first apply what the
group delivered to another consumer past our cursor, apply and acknowledge each batch (dead letters in
the same script as the XACK; an acknowledgement lost in transit is retried while the lease is trusted), and
tell the session when it has caught up (then it serves reads)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine.applier import EntryApplier
from engine.config import EngineSettings
from engine.lease import Lease, LeaseLost
from engine.metrics import EngineMetrics
from engine.refusals import log_gap
from engine.stream import DeadLetter, Entry, StreamLog, entry_key

log = logging.getLogger(__name__)

# XREADGROUP blocks at most this long, so a stop request or a lost lease is noticed quickly
READ_BLOCK_MS = 200
LAG_REFRESH_SECONDS = 1.0
# a batch's acknowledgement that failed in transit is retried with this backoff while the lease is held
ACK_RETRY_MIN_SECONDS = 0.05
ACK_RETRY_MAX_SECONDS = 1.0


class Consumer:
    def __init__(self, settings: EngineSettings, stream: StreamLog, lease: Lease, metrics: EngineMetrics,
                 applier: EntryApplier) -> None:  # fmt: skip
        self.settings = settings
        self.stream = stream
        self.lease = lease
        self.metrics = metrics
        self.applier = applier

    async def consume(self, *, stopping: Callable[[], bool], on_caught_up: Callable[[], Awaitable[None]],
                      on_turn: Callable[[], None], refresh_lag: Callable[[], Awaitable[object]]) -> None:  # fmt: skip
        """Until `stopping()` or the lease lapses. `on_caught_up` once, when a read first drains the stream;
        `on_turn` after every read (snapshot scheduling); `refresh_lag` every LAG_REFRESH_SECONDS."""
        batch_size = self.settings.read_batch_size
        caught_up = False
        next_lag_refresh = 0.0
        while not stopping() and self.lease.held:
            entries = await self.stream.read_new(batch_size, READ_BLOCK_MS)
            if not self.lease.held:
                # read but not applied: the entries stay pending for whoever holds the lease now
                break
            if entries:
                await self.apply_skipped(entries[0][0])
                await self.process_batch(entries)
            else:
                await self.apply_skipped(None)
            if not caught_up and len(entries) < batch_size:
                caught_up = True
                await on_caught_up()
            on_turn()
            if time.monotonic() >= next_lag_refresh:
                await refresh_lag()
                next_lag_refresh = time.monotonic() + LAG_REFRESH_SECONDS

    async def apply_skipped(self, next_id: str | None) -> None:
        """Apply (and acknowledge: XACK is per group) the entries after last_applied_id that the group
        delivered to another consumer: an old leader's XREADGROUP > sent before its lease lapsed but run by
        Redis after we took over moves fresh entries into its own pending list, past our '>' cursor, and
        nobody else would ever apply them. `next_id`: the first entry our read got (those before it were
        skipped); None after an empty read (then up to the group's last delivered entry)."""
        last_applied_id = self.applier.last_applied_id
        if next_id is None:
            delivered = await self.stream.last_delivered_id()
            if entry_key(delivered) <= entry_key(last_applied_id):
                return
            upper = delivered
        else:
            last_ms, last_seq = entry_key(last_applied_id)
            if entry_key(next_id) == (last_ms, last_seq + 1):
                return  # no id lies between: skip the round trip
            upper = f"({next_id}"
        batch_size = self.settings.read_batch_size
        while entries := await self.stream.range_between(self.applier.last_applied_id, upper, batch_size):
            log.warning("entries delivered to another consumer and never applied: applying them", extra={
                "first_id": entries[0][0], "last_id": entries[-1][0], "entries": len(entries),
            })  # fmt: skip
            await self.process_batch(entries)

    async def process_batch(self, entries: list[Entry]) -> None:
        applier = self.applier
        acks: list[str] = []
        dead: list[DeadLetter] = []
        # the batch's replies go out only once its fenced acknowledgement says this is still the leader
        applier.hub.hold()
        try:
            async with applier.applying:
                self._apply_batch(entries, acks, dead)
            self.metrics.batch_size.observe(len(entries))
            applier.writer.wake()
            await self._acknowledge(acks, dead)
        except BaseException:
            applier.hub.discard()
            raise
        applier.hub.release()
        if dead:
            self.metrics.dead_letters.inc(len(dead))

    async def _acknowledge(self, acks: list[str], dead: list[DeadLetter]) -> None:
        """The batch's fenced acknowledgement. The replies held meanwhile include close and cancel replies
        the trade writer released for entries acknowledged in earlier batches, which no replay would answer
        again; so a connection error or timeout (the script may or may not have run) is retried for as long
        as the lease is trusted, and the replies go out once it lands. StaleEpoch is final, and so is any
        other Redis error (a refusal, not a failure in transit): the session ends and the replies are dropped."""
        delay = ACK_RETRY_MIN_SECONDS
        while True:
            try:
                await self.stream.ack(acks, dead, self.lease.epoch)
                return
            except (RedisConnectionError, RedisTimeoutError) as exc:
                if not self.lease.held:
                    raise LeaseLost() from exc
                log.warning("batch acknowledgement failed; retrying, its replies held", extra={
                    "entries": len(acks), "retry_in_s": delay, "error": repr(exc),
                })  # fmt: skip
                self.metrics.ack_retries.inc()
                await asyncio.sleep(delay)
                delay = min(delay * 2, ACK_RETRY_MAX_SECONDS)

    def _apply_batch(self, entries: list[Entry], acks: list[str], dead: list[DeadLetter]) -> None:
        """Apply a batch (while `applying` is held), collecting the ids to acknowledge and the dead letters."""
        applier = self.applier
        for entry_id, fields in entries:
            acks.append(entry_id)
            if fields is None:
                # trimmed after delivery: at or below last_applied_id it was applied (a snapshot holds it);
                # above, it is lost unapplied
                if entry_key(entry_id) > entry_key(applier.last_applied_id):
                    log_gap(f"entry {entry_id}, after the last applied {applier.last_applied_id}, was trimmed "
                            "before it was applied", accept=self.settings.engine_accept_log_gap,
                            last_applied_id=applier.last_applied_id)  # fmt: skip
                continue
            if entry_key(entry_id) <= entry_key(applier.last_applied_id):
                # applied by replay or before the crash; a malformed one still owes its dead letter, judged
                # by the same check as when it is applied
                error = applier.malformed(fields)
                if error:
                    dead.append(DeadLetter(entry_id, fields, error))
                continue
            error = applier.apply(entry_id, fields, live=True, answer=True)
            if error:
                dead.append(DeadLetter(entry_id, fields, error))
