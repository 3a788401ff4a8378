"""The sliced canonical encoding behind `TradingState.state_hash()` and the snapshots' hash is byte for
byte the one-call encoding, for any JSON-ready snapshot and for lists spanning several slices."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.canonical import SLICE, snapshot_hash
from tests.unit.domain.helpers import busy_driver


def _one_call(snapshot: dict[str, Any]) -> str:
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)
_members = st.dictionaries(
    st.text(max_size=6),
    _values | st.lists(_values, max_size=2 * SLICE + 3),
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(_members)
def test_sliced_encoding_equals_one_call(snapshot: dict[str, Any]) -> None:
    assert snapshot_hash(snapshot) == _one_call(snapshot)


def test_lists_at_slice_boundaries() -> None:
    for length in (0, 1, SLICE - 1, SLICE, SLICE + 1, 3 * SLICE):
        snapshot = {"b": [[i, {"z": i, "a": str(i)}] for i in range(length)], "a": 1}
        assert snapshot_hash(snapshot) == _one_call(snapshot)


def test_state_hash_is_the_canonical_hash_of_the_snapshot() -> None:
    state = busy_driver().state
    assert state.state_hash() == snapshot_hash(state.snapshot()) == _one_call(state.snapshot())
