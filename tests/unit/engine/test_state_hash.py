"""A snapshot's body encodes the state in its canonical form once, and the state hash is taken of that
same text: the hash is `TradingState.state_hash()`, and the body decodes to what was captured."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.canonical import snapshot_hash
from engine.snapshots import decode_body, encode_body
from tests.unit.engine.domain.helpers import busy_driver

_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


def test_the_snapshot_hash_is_the_state_hash() -> None:
    state = busy_driver().state
    body = {"last_applied_id": "9-9", "state": state.snapshot(), "pending_trades": [{"id": "t", "n": 1}]}
    blob, state_hash = encode_body(body)
    assert state_hash == state.state_hash() == snapshot_hash(state.snapshot())
    assert decode_body(blob) == body


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _values, max_size=4), st.dictionaries(st.text(max_size=6), _values,
                                                                                 max_size=3))  # fmt: skip
def test_any_body_round_trips_with_the_hash_of_its_state(state: dict[str, Any], others: dict[str, Any]) -> None:
    body = {**{key: value for key, value in others.items() if key != "state"}, "state": state}
    blob, state_hash = encode_body(body)
    assert decode_body(blob) == body
    assert state_hash == snapshot_hash(state)
