"""The canonical JSON encoding of a state snapshot (`TradingState.snapshot()`: keys sorted, no spaces,
ASCII only) and its SHA-256, the state hash. Equal states give equal hashes in any process, whatever
PYTHONHASHSEED. The engine's snapshot writer encodes the state with `canonical_json` once and takes the
hash of that same text, so a snapshot's hash costs no second encoding."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(snapshot: Mapping[str, Any]) -> str:
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def text_hash(canonical: str) -> str:
    """Hex SHA-256 of a `canonical_json` text."""
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def snapshot_hash(snapshot: Mapping[str, Any]) -> str:
    return text_hash(canonical_json(snapshot))
