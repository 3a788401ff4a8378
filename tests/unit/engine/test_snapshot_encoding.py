"""The snapshot writer encodes the state in pieces of a few hundred rows and cuts the compressed bytes into
chunks as they come, so that no single call of its thread holds the GIL for long. What it stores must still
be exactly the single-shot encoding: the bytes are `zlib.compress` of the whole text, that text holds the
canonical JSON of the state, and the state hash is that text's SHA-256."""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any

import pytest

from engine import jsonslices
from engine.domain import Side, TradingState
from engine.domain.canonical import canonical_json
from engine.domain.capture import ROWS_PER_PIECE
from engine.domain.slicing import empty_in_slices, sorted_in_chunks
from engine.snapshots import encode_body, encode_chunks
from tests.unit.engine.domain.helpers import ETH, Driver, busy_driver

PENDING = [{"id": "t-1", "user_id": "alice", "pnl_cents": -12}, {"id": "t-2", "user_id": "bob", "pnl_cents": 7}]


def _many_rows() -> Driver:
    """busy_driver's variety (two assets, levels, closed trades, a remembered rejection) and enough rows
    that every table spans several pieces: 3 pieces of accounts, 5 of positions and of remembered replies."""
    driver = busy_driver()
    users = [f"user-{n}" for n in range(2 * ROWS_PER_PIECE + 100)]
    for user in users:
        driver.signup(user, balance=5_000_000)
    for n in range(4 * ROWS_PER_PIECE + 100):
        user = users[n % len(users)]
        side = Side.LONG if n % 2 else Side.SHORT
        asset = ETH if n % 3 == 0 else "BTC_USDC"
        quantity, leverage = 10_000 * (1 + n % 7), 1 + n % 20
        driver.opened(user=user, asset=asset, side=side, quantity=quantity, leverage=leverage, key=f"k-{n}")
    return driver


def _stored_text(state_json: str) -> bytes:
    others = json.dumps({"last_applied_id": "9-99", "pending_trades": PENDING}, separators=(",", ":"))
    return f'{others[:-1]},"state":{state_json}}}'.encode()


def _body(state: Any) -> dict[str, Any]:
    return {"last_applied_id": "9-99", "state": state, "pending_trades": PENDING}


@pytest.fixture(scope="module")
def driver() -> Driver:
    return _many_rows()


def test_the_chunked_encoding_is_the_single_shot_encoding_byte_for_byte(driver: Driver) -> None:
    state = driver.state
    snapshot = state.snapshot()
    assert min(len(snapshot[table]) for table in ("accounts", "positions", "idempotency")) > 2 * ROWS_PER_PIECE
    canonical = canonical_json(snapshot)
    text = _stored_text(canonical)
    single_shot = zlib.compress(text, 1)

    for state_member in (state.capture(), snapshot):  # what the engine encodes, and snapshot()'s dict
        chunks, state_hash = encode_chunks(_body(state_member), chunk_bytes=4096)
        assert len(chunks) > 3
        assert all(len(chunk) == 4096 for chunk in chunks[:-1]) and 0 < len(chunks[-1]) <= 4096
        blob = b"".join(chunks)
        assert blob == single_shot  # the stored bytes: one zlib.compress over the whole text
        assert zlib.decompress(blob) == text
        assert state_hash == hashlib.sha256(canonical.encode("ascii")).hexdigest() == state.state_hash()

    blob, state_hash = encode_body(_body(state.capture()))  # the store's chunk size: the same bytes
    assert (blob, state_hash) == (single_shot, state.state_hash())


def test_every_piece_of_a_capture_holds_at_most_rows_per_piece_rows(driver: Driver) -> None:
    pieces = list(driver.state.capture().json_pieces())
    row_pieces = [json.loads(f"[{piece.removeprefix(',')}]") for piece in pieces if piece.startswith(("[", ",["))]
    assert len(row_pieces) >= 13  # accounts 3, idempotency 5, positions 5
    assert max(len(rows) for rows in row_pieces) == ROWS_PER_PIECE
    assert "".join(pieces) == canonical_json(driver.state.snapshot())


def test_a_capture_is_released_once_encoded_and_cannot_be_encoded_again(driver: Driver) -> None:
    capture = driver.state.capture()
    encode_chunks(_body(capture))
    with pytest.raises(RuntimeError, match="released"):
        capture.encode()
    with pytest.raises(RuntimeError, match="released"):
        next(iter(capture.json_pieces()))
    # the live state is untouched: a new capture encodes it whole
    assert TradingState.restore(driver.rules, driver.state.capture().encode()).state_hash() == (
        driver.state.state_hash()
    )


def test_big_lists_in_the_body_are_encoded_in_pieces_too() -> None:
    rows = [{"id": f"t-{n}", "n": n} for n in range(3 * jsonslices.ROWS_PER_PIECE + 7)]
    pieces = list(jsonslices.pieces({"pending_trades": rows, "b": [1, 2]}))
    assert "".join(pieces) == json.dumps({"pending_trades": rows, "b": [1, 2]}, separators=(",", ":"))
    assert max(len(piece) for piece in pieces) < len(json.dumps(rows)) // 3


def test_sorting_in_chunks_and_emptying_in_slices() -> None:
    keys = [(n * 7919) % 101 for n in range(1_000)]
    assert list(sorted_in_chunks(range(1_000), key=keys.__getitem__, chunk=64)) == sorted(
        range(1_000), key=keys.__getitem__
    )
    items = list(range(1_000))
    empty_in_slices(items, per_slice=64)
    assert items == []
