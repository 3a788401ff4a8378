"""The candle builder's loop: read the engine's stream after the saved cursor (plain XREAD, never the
engine's consumer group, never trimming), turn the batch's price updates into candles, and commit them
together with the moved cursor in one PostgreSQL transaction (candles.store.commit_batch). A crash at any
point replays from the saved cursor, so every quote is counted exactly once.

Gaps: the engine trims its stream below its oldest kept snapshot, and does not wait for the builder. Each
read runs in one Redis transaction with XINFO STREAM, whose `entries-added` and `length` say how many
entries are gone from the head; the cursor counts the entries it has read (`entries_read`), so more gone
than read means entries were trimmed unread. The gap is logged, counted, recorded in `candle_gaps` (in
the batch's own transaction) and handed to `on_gap` (backfill of the buckets it hides); the builder goes
on with what is there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from candles import metrics
from candles.aggregation import BucketKey, Candle, Tick, aggregate
from candles.entries import STREAM_START, Skipped, parse_id, ticks_of
from candles.store import Cursor, CursorMoved, Gap, commit_batch, load_cursor
from mesh.stream_codec import CodecError, EntryFields
from mesh.units import AssetSpec

log = logging.getLogger("candles.builder")

RETRY_MIN_SECONDS = 0.1
RETRY_MAX_SECONDS = 5.0
WAIT_MS = 1000

Entries = list[tuple[str, EntryFields]]
OnCommit = Callable[[list[tuple[BucketKey, Candle]]], Awaitable[None]]
OnGap = Callable[[Gap], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StreamRead:
    """Entries after the cursor, with the stream's counters read in the same Redis transaction."""

    entries: Entries
    entries_added: int
    length: int


@dataclass(slots=True)
class Plan:
    """What committing a batch does: the cursor it moves to, its candles, the gap it found."""

    to: Cursor
    candles: dict[BucketKey, Candle]
    gap: Gap | None
    skipped: Skipped = field(default_factory=Skipped)
    malformed: int = 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def plan_batch(cursor: Cursor, read: StreamRead, specs: dict[str, AssetSpec]) -> Plan:
    """Pure: the candles, moved cursor and gap of one read (which holds at least one entry)."""
    gone = read.entries_added - read.length
    gap = None
    base = cursor.entries_read
    if base is None:
        base = gone  # a new builder starts with what the stream still holds
    elif gone > base:
        gap = Gap(cursor.last_id, read.entries[0][0])
        base = gone
    ticks: list[Tick] = []
    skipped, malformed = Skipped(), 0
    for entry_id, fields in read.entries:
        try:
            ticks.extend(ticks_of(entry_id, fields, specs, skipped))
        except CodecError as exc:
            malformed += 1
            log.warning("skipping a malformed stream entry", extra={"entry_id": entry_id, "error": str(exc)[:300]})
    to = Cursor(read.entries[-1][0], base + len(read.entries))
    return Plan(to, aggregate(ticks), gap, skipped, malformed)


class StreamReader:
    def __init__(self, redis: aioredis.Redis, stream_key: str) -> None:
        self._redis = redis
        self._key = stream_key

    async def read(self, after_id: str, count: int) -> StreamRead | None:
        """Up to `count` entries after `after_id`; None while the stream does not exist."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xinfo_stream(self._key)
            pipe.xread({self._key: after_id}, count=count)
            info, read = await pipe.execute(raise_on_error=False)
        if isinstance(info, ResponseError):
            if "no such key" in str(info).lower():
                return None
            raise info
        if isinstance(read, Exception):
            raise read
        entries: Entries = [(_text(entry_id), fields) for _, batch in read or [] for entry_id, fields in batch]
        return StreamRead(entries, int(info["entries-added"]), int(info["length"]))

    async def wait(self, after_id: str, timeout_ms: int) -> None:
        """Block until an entry after `after_id` exists or `timeout_ms` passes."""
        await self._redis.xread({self._key: after_id}, count=1, block=timeout_ms)

    async def first_after(self, after_id: str) -> str | None:
        """The id of the first entry after `after_id`, if any."""
        start = "-" if after_id == STREAM_START else f"({after_id}"
        found: Any = await self._redis.xrange(self._key, min=start, max="+", count=1)
        return _text(found[0][0]) if found else None


class CandleBuilder:
    def __init__(
        self,
        db: AsyncEngine,
        reader: StreamReader,
        stream_key: str,
        specs: dict[str, AssetSpec],
        batch_size: int,
        *,
        on_commit: OnCommit | None = None,
        on_gap: OnGap | None = None,
    ) -> None:
        self._db = db
        self._reader = reader
        self._stream_key = stream_key
        self._specs = specs
        self._batch_size = batch_size
        self._on_commit = on_commit
        self._on_gap = on_gap
        self.cursor = Cursor(STREAM_START, None)
        self._loaded = False

    async def load(self) -> Cursor:
        self.cursor = await load_cursor(self._db, self._stream_key, STREAM_START)
        self._loaded = True
        return self.cursor

    async def step(self) -> int:
        """Read and commit one batch; returns how many entries it held (0: nothing new)."""
        read = await self._reader.read(self.cursor.last_id, self._batch_size)
        if read is None or not read.entries:
            return 0
        plan = plan_batch(self.cursor, read, self._specs)
        if plan.gap is not None:
            metrics.GAPS.inc()
            log.error(
                "the stream was trimmed past the builder's cursor: candles miss the entries in between",
                extra={"after_id": plan.gap.after_id, "resumed_id": plan.gap.resumed_id},
            )
        try:
            merged = await commit_batch(self._db, self._stream_key, self.cursor, plan.to, plan.candles, plan.gap)
        except CursorMoved:
            log.warning("the saved cursor moved under this builder; reloading it")
            await self.load()
            return 0
        self.cursor = plan.to
        metrics.ENTRIES.inc(len(read.entries))
        metrics.MALFORMED.inc(plan.malformed)
        for reason, count in plan.skipped.counts.items():
            metrics.SKIPPED.labels(reason).inc(count)
        metrics.CURSOR_MS.set(parse_id(plan.to.last_id)[0])
        if self._on_commit is not None:
            await self._on_commit(merged)
        if plan.gap is not None and self._on_gap is not None:
            await self._on_gap(plan.gap)
        return len(read.entries)

    async def run(self, stop: asyncio.Event) -> None:
        """Build until `stop` is set; Redis and PostgreSQL failures are retried with backoff (the batch
        is read again from the saved cursor, nothing half-applied)."""
        backoff = RETRY_MIN_SECONDS
        while not stop.is_set():
            try:
                if not self._loaded:
                    await self.load()
                if await self.step() == 0:
                    await self._reader.wait(self.cursor.last_id, WAIT_MS)
                backoff = RETRY_MIN_SECONDS
            except (RedisError, OSError, DBAPIError) as exc:
                metrics.ERRORS.inc()
                log.warning("candle batch failed; retrying", extra={"error": str(exc)[:300], "retry_in": backoff})
                try:
                    async with asyncio.timeout(backoff):
                        await stop.wait()
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, RETRY_MAX_SECONDS)
