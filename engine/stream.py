"""The engine's side of the Redis stream: the consumer group (new entries, own pending entries after a
crash, entries orphaned by a previous leader), XRANGE replay, dead-lettering of malformed entries and
trimming. Entry ids are the log positions; `entry_key` makes them comparable.

What a leader writes to the stream (acknowledgements, dead letters, the group cursor, trims) goes through
Lua scripts guarded by the session's epoch (engine.fencing): a stale leader's write is refused whole."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from engine.fencing import EPOCH_GUARD, StaleEpoch

Fields = Mapping[bytes, bytes]
# (entry id, fields); fields are None for a pending entry that has since been trimmed away
Entry = tuple[str, Fields | None]

# the dead-letter stream is for operators to inspect; it must not grow without bound
DEAD_LETTER_MAXLEN = 100_000
# KEYS: epoch, stream, dead-letter stream; ARGV: epoch, group, mode ("ack" or "setid"), dead-letter count,
# then per dead letter its entry id, field count and fields, then the ids to acknowledge (or the id to set).
# "ack" writes a dead letter only as its entry leaves the group's pending list (every entry a batch
# dead-letters was delivered to the group), so an acknowledgement retried after its answer was lost adds
# no second copy; "setid" dead-letters entries the group never delivered.
_FENCED_BATCH = (
    EPOCH_GUARD
    + """
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  local source_id = ARGV[i]
  local n = tonumber(ARGV[i + 1])
  local fields = {}
  for f = 1, 2 * n do fields[f] = ARGV[i + 1 + f] end
  i = i + 2 + 2 * n
  if ARGV[3] ~= 'ack' or redis.call('xack', KEYS[2], ARGV[2], source_id) == 1 then
    redis.call('xadd', KEYS[3], 'MAXLEN', '~', '"""
    + str(DEAD_LETTER_MAXLEN)
    + """', '*', unpack(fields))
  end
end
if ARGV[3] == 'setid' then redis.call('xgroup', 'setid', KEYS[2], ARGV[2], ARGV[i]) return 1 end
local acked = 0
while i <= #ARGV do
  local last = math.min(i + 999, #ARGV)
  acked = acked + redis.call('xack', KEYS[2], ARGV[2], unpack(ARGV, i, last))
  i = last + 1
end
return acked
"""
)
_FENCED_TRIM = EPOCH_GUARD + "return redis.call('xtrim', KEYS[2], 'MINID', ARGV[2])"
_EPOCH_CHECK = EPOCH_GUARD + "return 1"
_FENCED_APPEND = EPOCH_GUARD + "return redis.call('xadd', KEYS[2], '*', unpack(ARGV, 2))"


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
    def __init__(self, client: aioredis.Redis, stream_key: str, group: str, consumer: str, dead_letter_stream: str,
                 epoch_key: str = "") -> None:  # fmt: skip
        self.client = client
        self.stream_key = stream_key
        self.group = group
        self.consumer = consumer
        self.dead_letter_stream = dead_letter_stream
        # the lease's epoch key (engine.lease); the fenced writes compare it with the caller's epoch
        self.epoch_key = epoch_key or f"{stream_key}:lease:epoch"
        self._fenced_batch = client.register_script(_FENCED_BATCH)
        self._fenced_trim = client.register_script(_FENCED_TRIM)
        self._epoch_check = client.register_script(_EPOCH_CHECK)
        self._fenced_append = client.register_script(_FENCED_APPEND)

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

    async def ack(self, entry_ids: Sequence[str], dead_letters: Sequence[DeadLetter], epoch: int) -> None:
        """Acknowledge a processed batch; malformed entries are copied to the dead-letter stream in the
        same script, so each lands there exactly once even if the engine dies right here, or calls this
        again because the answer was lost (a dead letter is written only as its entry is acknowledged).
        StaleEpoch (and nothing written) when a newer leader holds the lease."""
        if not entry_ids and not dead_letters:
            return
        await self._run_fenced("ack", dead_letters, list(entry_ids), epoch)

    async def finish_replay(self, dead_letters: Sequence[DeadLetter], last_applied_id: str, epoch: int) -> None:
        """After replay: dead-letter the malformed entries the group never delivered and move the group
        past everything replay applied, atomically (a crash before this redoes the replay)."""
        await self._run_fenced("setid", dead_letters, [last_applied_id], epoch)

    async def check_epoch(self, epoch: int, where: str) -> None:
        """StaleEpoch unless `epoch` is still the newest (before side effects that do not land in Redis)."""
        if int(await self._epoch_check(keys=[self.epoch_key], args=[epoch])) < 0:
            raise StaleEpoch(where, epoch)

    async def _run_fenced(self, mode: str, dead_letters: Sequence[DeadLetter], ids: list[str], epoch: int) -> None:
        args: list[Any] = [epoch, self.group, mode, len(dead_letters)]
        for dead in dead_letters:
            fields: list[Any] = [
                "source_stream",
                self.stream_key,
                "source_id",
                dead.entry_id,
                "error",
                dead.error[:2000],
            ]
            for name, value in (dead.fields or {}).items():
                fields += [b"entry." + (name if isinstance(name, bytes) else str(name).encode()), value]
            args += [dead.entry_id, len(fields) // 2, *fields]
        keys = [self.epoch_key, self.stream_key, self.dead_letter_stream]
        if int(await self._fenced_batch(keys=keys, args=[*args, *ids])) < 0:
            raise StaleEpoch(f"stream {mode}", epoch)

    async def append(self, fields: Mapping[str, bytes], epoch: int) -> str:
        """XADD an entry of the engine's own (no MAXLEN: only the engine trims its log, below a snapshot);
        StaleEpoch, and nothing added, when a newer leader holds the lease."""
        flat = [item for name, value in fields.items() for item in (name, value)]
        entry_id = await self._fenced_append(keys=[self.epoch_key, self.stream_key], args=[epoch, *flat])
        if entry_id == -1:
            raise StaleEpoch("stream append", epoch)
        return _id(entry_id)

    async def contains(self, entry_id: str) -> bool:
        return bool(await self.client.xrange(self.stream_key, min=entry_id, max=entry_id))

    async def trimmed_count(self) -> int:
        """Entries ever added to the stream that are no longer in it (0 for a complete log)."""
        info: Any = await self.client.xinfo_stream(self.stream_key)
        return int(info["entries-added"]) - int(info["length"])

    async def trim_below(self, min_id: str, epoch: int) -> int:
        """XTRIM MINID, refused (StaleEpoch) when a newer leader holds the lease."""
        trimmed = int(await self._fenced_trim(keys=[self.epoch_key, self.stream_key], args=[epoch, min_id]))
        if trimmed < 0:
            raise StaleEpoch("stream trim", epoch)
        return trimmed

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
