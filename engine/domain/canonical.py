"""The canonical JSON encoding of a state snapshot (`TradingState.snapshot()`) and its SHA-256: keys
sorted, no spaces, ASCII only. Equal states give equal hashes in any process, whatever PYTHONHASHSEED.

The encoding is produced in slices (one `json.dumps` call per slice of a list) rather than in one call:
the C encoder holds the GIL for the whole of a call, so one call over a large state run in a worker
thread would still stop the thread that runs the engine's event loop. Slices keep every hold short; the
bytes are exactly those of `json.dumps(snapshot, sort_keys=True, separators=(",", ":"))`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

# list elements encoded per json.dumps call: a fraction of a millisecond of GIL hold per slice
SLICE = 256


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def snapshot_hash(snapshot: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical encoding of `snapshot`, a dict of JSON-ready primitives whose large
    members are lists at the top level."""
    digest = hashlib.sha256(b"{")
    for index, key in enumerate(sorted(snapshot)):
        digest.update(b"," if index else b"")
        digest.update(_dumps(key).encode("ascii") + b":")
        value = snapshot[key]
        if not isinstance(value, list):
            digest.update(_dumps(value).encode("ascii"))
            continue
        digest.update(b"[")
        for start in range(0, len(value), SLICE):
            # "[a,b,c]" -> "a,b,c": the slices' elements joined by commas, as in one encoding of the list
            digest.update((b"," if start else b"") + _dumps(value[start : start + SLICE])[1:-1].encode("ascii"))
        digest.update(b"]")
    digest.update(b"}")
    return digest.hexdigest()
