"""The engine's side of the Redis stream: the consumer group (new entries, own pending entries after a
crash, entries orphaned by a previous leader), XRANGE replay, dead-lettering of malformed entries and
trimming. Entry ids are the log positions; `entry_key` makes them comparable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

Fields = Mapping[bytes, bytes]
# (entry id, fields); fields are None for a pending entry that has since been trimmed away
Entry = tuple[str, Fields | None]

# the dead-letter stream is for operators to inspect; it must not grow without bound
DEAD_LETTER_MAXLEN = 100_000


def entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def entry_time_ms(entry_id: str) -> int:
    """The stream time of an entry: its id's millisecond part (Redis' clock when it was added)."""
    return entry_key(entry_id)[0]


@dataclass(frozen=True)
class DeadLetter:
    entry_id: str
    fields: Fields | None
    error: str


def _id(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entries(raw: Sequence[tuple[bytes | str, Fields | None]]) -> list[Entry]:
    return [(_id(entry_id), fields or None) for entry_id, fields in raw]


class StreamLog:
    def __init__(self, client: aioredis.Redis, stream_key: str, group: str, consumer: str, dead_letter_stream: str):
        self.client = client
        self.stream_key = stream_key
        self.group = group
        self.consumer = consumer
        self.dead_letter_stream = dead_letter_stream

    async def ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(self.stream_key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def group_info(self) -> dict[str, object]:
        for info in await self.client.xinfo_groups(self.stream_key):
            if _id(info["name"]) == self.group:
                return dict(info)
        return {}

    async def last_delivered_id(self) -> str:
        info = await self.group_info()
        return _id(info.get("last-delivered-id", b"0-0"))  # type: ignore[arg-type]

    async def claim_orphans(self) -> int:
        """Move every pending entry of other consumers (a dead previous leader) to this consumer, so the
        pending-entry recovery below sees them. Only the lease holder calls this."""
        start, claimed = "0-0", 0
        while True:
            result = await self.client.xautoclaim(
                self.stream_key, self.group, self.consumer, min_idle_time=0, start_id=start, count=1000
            )
            claimed += len(result[1])
            start = _id(result[0])
            if start == "0-0":
                return claimed

    async def pending_ids(self, page: int = 1000) -> set[str]:
        """Ids of every entry the group delivered and nobody acknowledged (after claim_orphans: all ours)."""
        ids: set[str] = set()
        start = "-"
        while True:
            rows: Any = await self.client.xpending_range(self.stream_key, self.group, min=start, max="+", count=page)
            ids.update(_id(row["message_id"]) for row in rows)
            if len(rows) < page:
                return ids
            start = f"({_id(rows[-1]['message_id'])}"

    async def read_own_pending(self, count: int) -> list[Entry]:
        """Entries delivered to this consumer and never acknowledged (from the oldest)."""
        # redis-py's annotations do not describe its RESP2 replies; the shape is [[stream, [(id, fields)…]]]
        response: Any = await self.client.xreadgroup(self.group, self.consumer, {self.stream_key: "0"}, count=count)
        return _entries(response[0][1]) if response else []

    async def read_new(self, count: int, block_ms: int) -> list[Entry]:
        response: Any = await self.client.xreadgroup(
            self.group, self.consumer, {self.stream_key: ">"}, count=count, block=block_ms
        )
        return _entries(response[0][1]) if response else []

    async def range_after(self, after_id: str, count: int) -> list[Entry]:
        entries: Any = await self.client.xrange(self.stream_key, min=f"({after_id}", max="+", count=count)
        return _entries(entries)

    async def range_between(self, after_id: str, upper: str, count: int) -> list[Entry]:
        """Entries after `after_id` up to `upper`, an XRANGE bound ("(id" excludes the id itself)."""
        entries: Any = await self.client.xrange(self.stream_key, min=f"({after_id}", max=upper, count=count)
        return _entries(entries)

    async def ack(self, entry_ids: Sequence[str], dead_letters: Sequence[DeadLetter]) -> None:
        """Acknowledge a processed batch; malformed entries are copied to the dead-letter stream in the
        same MULTI, so each lands there exactly once even if the engine dies right here."""
        if not entry_ids and not dead_letters:
            return
        async with self.client.pipeline(transaction=True) as pipe:
            self._queue_dead_letters(pipe, dead_letters)
            if entry_ids:
                pipe.xack(self.stream_key, self.group, *entry_ids)
            await pipe.execute()

    async def finish_replay(self, dead_letters: Sequence[DeadLetter], last_applied_id: str) -> None:
        """After replay: dead-letter the malformed entries the group never delivered and move the group
        past everything replay applied, atomically (a crash before this redoes the replay)."""
        async with self.client.pipeline(transaction=True) as pipe:
            self._queue_dead_letters(pipe, dead_letters)
            pipe.xgroup_setid(self.stream_key, self.group, last_applied_id)
            await pipe.execute()

    def _queue_dead_letters(self, pipe: aioredis.client.Pipeline, dead_letters: Sequence[DeadLetter]) -> None:
        for dead in dead_letters:
            fields: dict[bytes | str, bytes | str] = {
                "source_stream": self.stream_key, "source_id": dead.entry_id, "error": dead.error[:2000],
            }  # fmt: skip
            for name, value in (dead.fields or {}).items():
                fields[b"entry." + (name if isinstance(name, bytes) else str(name).encode())] = value
            pipe.xadd(self.dead_letter_stream, cast(Any, fields), maxlen=DEAD_LETTER_MAXLEN, approximate=True)

    async def append(self, fields: Mapping[str, bytes]) -> str:
        """XADD an entry of the engine's own (no MAXLEN: only the engine trims its log, below a snapshot)."""
        return _id(await self.client.xadd(self.stream_key, cast(Any, dict(fields))))

    async def contains(self, entry_id: str) -> bool:
        return bool(await self.client.xrange(self.stream_key, min=entry_id, max=entry_id))

    async def trimmed_count(self) -> int:
        """Entries ever added to the stream that are no longer in it (0 for a complete log)."""
        info: Any = await self.client.xinfo_stream(self.stream_key)
        return int(info["entries-added"]) - int(info["length"])

    async def trim_below(self, min_id: str) -> int:
        return int(await self.client.xtrim(self.stream_key, minid=min_id, approximate=False))

    async def length(self) -> int:
        return int(await self.client.xlen(self.stream_key))

    async def lag_after(self, last_applied_id: str | None, cap: int = 1_000) -> int:
        """Entries in the stream after `last_applied_id` (what Redis cannot count is counted up to `cap`:
        every entry counted is parsed on the caller's loop, ~6 ms per 1,000); with None (a standby), the
        group's lag: entries the leader has not read yet."""
        info = await self.group_info()
        lag = info.get("lag")
        delivered = _id(info.get("last-delivered-id", b"0-0"))  # type: ignore[arg-type]
        if isinstance(lag, int) and last_applied_id in (None, delivered):
            return lag
        if isinstance(lag, int) and last_applied_id is not None and entry_key(last_applied_id) < entry_key(delivered):
            # applied trails delivered (a replay, a batch in hand): count only that gap, not the whole tail
            gap: Any = await self.client.xrange(self.stream_key, min=f"({last_applied_id}", max=delivered, count=cap)
            return lag + len(gap)
        after = last_applied_id or delivered
        entries: Any = await self.client.xrange(self.stream_key, min=f"({after}", max="+", count=cap)
        return len(entries)
