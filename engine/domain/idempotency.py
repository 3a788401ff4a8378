"""Remembered replies of commands that carried an idempotency key, scoped per (user id, key). Part of
the trading state, so it is snapshotted and replayed like everything else.

Retention is per user, so no user's activity can push out another's keys: a key is remembered for
`window_ms` of stream time after its command was applied, and each user keeps at most
`keys_per_user` keys (their own oldest is forgotten first). Memory is bounded by accounts x
keys_per_user; a retry within the window of one of the user's last `keys_per_user` keyed commands
always finds its original reply."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, KeysView, ValuesView
from typing import NamedTuple

from engine.domain.commands import Reply, UserCommand
from engine.domain.slicing import sorted_in_chunks


class Remembered(NamedTuple):
    user_id: str
    key: str
    # stream time at which the command was applied; the key is remembered for the window after it
    time_ms: int
    # the whole command, compared field by field to tell a retry from a reuse of the key
    command: UserCommand
    reply: Reply


# IdempotencyStore.iter_captured: users ranked in this many dicts
_RANK_PARTS = 64


class IdempotencyStore:
    __slots__ = ("_by_user", "_entries", "_keys_per_user", "_window_ms")

    def __init__(self, keys_per_user: int, window_ms: int) -> None:
        self._keys_per_user = keys_per_user
        self._window_ms = window_ms
        self._entries: dict[tuple[str, str], Remembered] = {}
        # each user's (time, key), oldest first; users in the order they first kept a key (deterministic)
        self._by_user: dict[str, deque[tuple[int, str]]] = {}

    def set_limits(self, keys_per_user: int, window_ms: int) -> None:
        """New retention limits, applied at once: the store is rebuilt as a restore under them would be."""
        kept = list(self)
        self._keys_per_user, self._window_ms = keys_per_user, window_ms
        self._entries, self._by_user = {}, {}
        for entry in kept:
            self.remember(entry)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Remembered]:
        """User by user, each user's oldest first: restoring in this order rebuilds the same store."""
        entries = self._entries
        return (entries[(user_id, key)] for user_id, keys in self._by_user.items() for _, key in keys)

    def capture_views(self) -> tuple[ValuesView[Remembered], KeysView[str]]:
        """What `iter_captured` needs, once copied into lists, to yield this store's iteration order later,
        whatever happens to the store meanwhile (the entries are immutable values)."""
        return self._entries.values(), self._by_user.keys()

    @staticmethod
    def iter_captured(entries: list[Remembered], users: list[str]) -> Iterator[Remembered]:
        """The order `__iter__` had when the views were copied: user by user, each user's oldest first (a
        user's entries in `_entries` are in the order of their deque; see `remember`)."""
        # each user's place in `users`, in many small dicts: a dict of 100k keys grows by resizes that copy
        # it whole in one C call, and is freed in one, each holding the GIL for ms (the snapshot writer's
        # thread runs this)
        parts: list[dict[str, int]] = [{} for _ in range(_RANK_PARTS)]
        for number, user_id in enumerate(users):
            parts[hash(user_id) % _RANK_PARTS][user_id] = number

        def rank(entry: Remembered) -> int:
            user_id = entry.user_id
            return parts[hash(user_id) % _RANK_PARTS][user_id]

        # a stable sort keeps each user's own order; no list per user (100k containers for the collector)
        yield from sorted_in_chunks(entries, key=rank)
        while parts:
            parts.pop()  # one small dict freed at a time

    def lookup(self, user_id: str, key: str, now_ms: int) -> Remembered | None:
        entry = self._entries.get((user_id, key))
        if entry is None or entry.time_ms < now_ms - self._window_ms:
            return None
        return entry

    def remember(self, entry: Remembered) -> None:
        if self._keys_per_user == 0:
            return
        user_id, key, time_ms = entry.user_id, entry.key, entry.time_ms
        entries = self._entries
        keys = self._by_user.get(user_id)
        if keys is None:
            keys = self._by_user[user_id] = deque()
        else:
            stale = entries.get((user_id, key))
            if stale is not None:
                # the same key again after its window ran out: it moves to the newest place
                keys.remove((stale.time_ms, key))
                # and to the newest place in `_entries` too: `capture` relies on each user's entries there
                # being in the order of their deque
                del entries[(user_id, key)]
            horizon = time_ms - self._window_ms
            cap = self._keys_per_user
            while keys and (len(keys) >= cap or keys[0][0] < horizon):
                del entries[(user_id, keys.popleft()[1])]
        entries[(user_id, key)] = entry
        keys.append((time_ms, key))
