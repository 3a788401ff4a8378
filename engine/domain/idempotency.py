"""Remembered replies of commands that carried an idempotency key, scoped per (user id, key), with
bounded first-in-first-out retention. Part of the trading state, so it is snapshotted and replayed like
everything else."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import NamedTuple

from engine.domain.commands import Reply, UserCommand


class Remembered(NamedTuple):
    user_id: str
    key: str
    # the whole command, compared field by field to tell a retry from a reuse of the key
    command: UserCommand
    reply: Reply


class IdempotencyStore:
    __slots__ = ("_entries", "_order", "_retention")

    def __init__(self, retention: int) -> None:
        self._retention = retention
        self._entries: dict[tuple[str, str], Remembered] = {}
        # Eviction order, oldest first. Not the dict's own order: finding a dict's first key after many
        # deletions at its front scans the deleted slots, which made eviction O(n) per command.
        self._order: deque[tuple[str, str]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Remembered]:
        """Oldest first."""
        entries = self._entries
        return (entries[scope] for scope in self._order)

    def lookup(self, user_id: str, key: str) -> Remembered | None:
        return self._entries.get((user_id, key))

    def remember(self, entry: Remembered) -> None:
        if self._retention == 0:
            return
        # a loop, not an if: a state restored under a smaller retention sheds its surplus here
        while len(self._order) >= self._retention:
            del self._entries[self._order.popleft()]
        scope = (entry.user_id, entry.key)
        self._entries[scope] = entry
        self._order.append(scope)
