"""JSON text of a large document in pieces, each made by one short `json.dumps` call: the snapshot
writer's thread encodes 100k-account states with it, and the C encoder holds the GIL for the whole of a
call (one `json.dumps` of such a state held the event loop for seconds). Between pieces the thread runs
bytecode, so the interpreter can hand the GIL to the event loop every switch interval.

The pieces joined are exactly `json.dumps(value, separators=(",", ":"), sort_keys=sort_keys)`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

# rows per json.dumps call: ~1 ms of encoding for snapshot rows (engine.domain.capture.ROWS_PER_PIECE)
ROWS_PER_PIECE = 250


def pieces(value: Any, *, sort_keys: bool = False, rows: int = ROWS_PER_PIECE) -> Iterator[str]:
    """Yield the compact JSON text of `value` in pieces (dicts with str keys, lists, JSON scalars, and
    objects with a `json_pieces()` method, which yield their own: a captured state)."""
    own = getattr(value, "json_pieces", None)
    if own is not None:
        yield from own()
    elif isinstance(value, dict):
        yield "{"
        for number, key in enumerate(sorted(value) if sort_keys else value):
            if type(key) is not str:
                raise TypeError(f"keys must be str, got {key!r}")
            yield ("," if number else "") + json.dumps(key) + ":"
            yield from pieces(value[key], sort_keys=sort_keys, rows=rows)
        yield "}"
    elif isinstance(value, list) and len(value) > rows:
        yield "["
        for start in range(0, len(value), rows):
            text = json.dumps(value[start : start + rows], separators=(",", ":"), sort_keys=sort_keys)
            yield ("," if start else "") + text[1:-1]
        yield "]"
    else:
        yield json.dumps(value, separators=(",", ":"), sort_keys=sort_keys)
