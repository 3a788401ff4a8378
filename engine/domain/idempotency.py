"""Remembered replies of commands that carried an idempotency key, scoped per (user id, key), with
bounded first-in-first-out retention. Part of the trading state, so it is snapshotted and replayed like
everything else."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engine.domain.commands import Reply, UserCommand


@dataclass(frozen=True, slots=True)
class Remembered:
    user_id: str
    key: str
    # the whole command, compared field by field to tell a retry from a reuse of the key
    command: UserCommand
    reply: Reply


class IdempotencyStore:
    __slots__ = ("_entries", "_retention")

    def __init__(self, retention: int) -> None:
        self._retention = retention
        # dicts keep insertion order, which is the eviction order
        self._entries: dict[tuple[str, str], Remembered] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Remembered]:
        """Oldest first."""
        return iter(self._entries.values())

    def lookup(self, user_id: str, key: str) -> Remembered | None:
        return self._entries.get((user_id, key))

    def remember(self, entry: Remembered) -> None:
        if self._retention == 0:
            return
        # a loop, not an if: a state restored under a smaller retention sheds its surplus here
        while len(self._entries) >= self._retention:
            del self._entries[next(iter(self._entries))]
        self._entries[(entry.user_id, entry.key)] = entry
