"""Doing big things to the state in short steps, for the snapshot: copying a collection in slices with
a yield between them (the event loop runs between slices), and sorting in chunks merged lazily (a
single `sorted` holds the GIL for its whole comparison phase, tens of ms for 100k strings; the snapshot
writer's thread must let the loop's thread in every few ms), and emptying big lists in slices too (freeing a
list decrefs every item in one C call: ~10 ms for the lists of a 100k-account capture)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
# items sorted per chunk: ~1 ms each
SORT_CHUNK = 10_000


def copy_in_slices(source: Iterable[T], per_slice: int) -> Generator[None, None, list[T]]:
    """A list of `source`'s items, copied `per_slice` at a time with a yield between slices."""
    if per_slice < 1:
        raise ValueError(f"per_slice must be at least 1, got {per_slice}")
    items = iter(source)
    copied: list[T] = []
    while True:
        more = list(itertools.islice(items, per_slice))
        copied += more
        if len(more) < per_slice:
            return copied
        yield


def sorted_in_chunks(items: Sequence[T], key: Callable[[T], Any], chunk: int = SORT_CHUNK) -> Iterator[T]:
    """`sorted(items, key=key)` (stable too), as an iterator: each chunk sorted on its own, then merged
    (heapq.merge keeps equal keys in chunk order, and chunks are consecutive). The merge holds only the
    chunks' iterators, and a list iterator lets go of its list when exhausted: each chunk is freed on its
    own as the merge passes it, not all together when the merge is dropped."""
    if len(items) <= chunk:
        return iter(sorted(items, key=key))
    chunks = [iter(sorted(items[start : start + chunk], key=key)) for start in range(0, len(items), chunk)]
    return heapq.merge(*chunks, key=key)


def empty_in_slices(items: list[Any], per_slice: int = SORT_CHUNK) -> None:
    """Empty `items` from its end, `per_slice` items per `del` (each a short C call)."""
    while items:
        del items[-per_slice:]
