"""Snapshots in a real MongoDB-protocol server (SecantusDB in tests): 100,000 accounts with positions
round-trip (several chunks: the JSON is far beyond the 16 MB document limit), a corrupt newest snapshot
falls back to the previous one, an interrupted write is invisible, and only the newest K are kept."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from engine.domain import CreateAccount, OpenPosition, PriceUpdate, Quote, Side, TradingState, default_rules
from engine.snapshots import NoUsableSnapshot, SnapshotStore

ACCOUNTS = 100_000


def _big_state() -> TradingState:
    state = TradingState(default_rules())
    user_ids = [str(uuid.UUID(int=i + 1)) for i in range(ACCOUNTS)]
    for i, user_id in enumerate(user_ids):
        state.apply(CreateAccount(user_id, f"trader.number.{i}@example.com", 1_000_000 + i), entry_id=f"1-{i}",
                    time_ms=1)  # fmt: skip
    state.apply(PriceUpdate((Quote("BTC_USDC", 600_500_000, 600_000_000, 4),)), entry_id="2-0", time_ms=2)
    for i, user_id in enumerate(user_ids):
        side = Side.LONG if i % 2 else Side.SHORT
        stop_loss = 550_000_000 if side is Side.LONG else 0
        state.apply(OpenPosition(user_id, "BTC_USDC", side, 100_000 + 1_000 * (i % 50), 1 + i % 100, 100, stop_loss,
                                 0, 0), entry_id=f"3-{i}", time_ms=3)  # fmt: skip
    return state


def _body(state: TradingState, last_applied_id: str) -> dict[str, object]:
    return {"last_applied_id": last_applied_id, "state": state.snapshot(), "pending_trades": [{"id": "t1"}]}


def _restore(body: dict[str, object]) -> TradingState:
    return TradingState.restore(default_rules(), body["state"])  # type: ignore[arg-type]


@pytest.fixture
def store(mongodb_url: str, mongo_database: str) -> Iterator[SnapshotStore]:
    snapshot_store = SnapshotStore(mongodb_url, mongo_database, "test:stream", keep=2)
    yield snapshot_store
    snapshot_store.close()


def test_100k_accounts_round_trip(store: SnapshotStore) -> None:
    state = _big_state()
    assert state.account_count == ACCOUNTS and state.open_position_count == ACCOUNTS
    body = _body(state, "3-99999")
    # as one document this would not fit: the limit is 16 MB
    assert len(json.dumps(body)) > 16 * 1024 * 1024
    info = store.write(body, last_applied_id="3-99999", accounts=state.account_count)
    assert info.state_hash == state.state_hash()
    manifest = store.manifests.find_one({"snapshot_id": info.snapshot_id})
    assert manifest is not None and manifest["chunks"] > 1
    loaded = store.load_newest(_restore)
    assert loaded is not None
    loaded_info, restored = loaded
    assert loaded_info == info
    assert restored.state_hash() == state.state_hash()


def test_corrupt_newest_falls_back_and_interrupted_write_is_invisible(store: SnapshotStore) -> None:
    state = TradingState(default_rules())
    state.apply(CreateAccount("u1", "u1@example.com", 1_000), entry_id="5-0", time_ms=5)
    older = store.write(_body(state, "5-0"), last_applied_id="5-0", accounts=1)
    state.apply(CreateAccount("u2", "u2@example.com", 1_000), entry_id="6-0", time_ms=6)
    newer = store.write(_body(state, "6-0"), last_applied_id="6-0", accounts=2)
    # bit rot in the newest snapshot's chunk: its checksum fails, the older one is used
    store.chunks.update_one({"snapshot_id": newer.snapshot_id, "seq": 0}, {"$set": {"data": b"garbage"}})
    loaded = store.load_newest(_restore)
    assert loaded is not None and loaded[0] == older and loaded[1].account_count == 1
    # chunks of a write that died before its manifest: not a snapshot
    store.chunks.insert_one({"_id": "orphan", "stream_key": "test:stream", "snapshot_id": "7-0@1", "seq": 0,
                             "data": b"x"})  # fmt: skip
    assert store.load_newest(_restore)[0] == older  # type: ignore[index]


def test_prune_keeps_the_newest_k(store: SnapshotStore, mongodb_url: str, mongo_database: str) -> None:
    state = TradingState(default_rules())
    infos = [store.write(_body(state, f"{i}-0"), last_applied_id=f"{i}-0", accounts=0) for i in (10, 9, 11, 12)]
    store.chunks.insert_one({"_id": "orphan", "stream_key": "test:stream", "snapshot_id": "x", "seq": 0, "data": b""})
    oldest_kept = store.prune()
    assert [i.last_applied_id for i in store.list()] == ["12-0", "11-0"]
    assert oldest_kept == infos[2]
    remaining = {c["snapshot_id"] for c in store.chunks.find({})}
    assert remaining == {infos[2].snapshot_id, infos[3].snapshot_id}
    # another stream's snapshots in the same database are not touched
    other = SnapshotStore(mongodb_url, mongo_database, "other:stream", keep=1)
    try:
        other.write(_body(state, "1-0"), last_applied_id="1-0", accounts=0)
        store.prune()
        assert len(other.list()) == 1
    finally:
        other.close()


def test_snapshots_that_exist_but_cannot_be_restored_are_not_no_snapshot(store: SnapshotStore) -> None:
    assert store.load_newest(_restore) is None
    state = TradingState(default_rules())
    state.apply(CreateAccount("u1", "u1@example.com", 1_000), entry_id="5-0", time_ms=5)
    older = store.write(_body(state, "5-0"), last_applied_id="5-0", accounts=1)
    newer = store.write(_body(state, "6-0"), last_applied_id="6-0", accounts=1)

    def refuse(body: dict[str, object]) -> TradingState:
        raise ValueError(f"asset decimal changed ({body['last_applied_id']})")

    with pytest.raises(NoUsableSnapshot) as refused:
        store.load_newest(refuse)
    assert refused.value.failures == [
        (newer.snapshot_id, "ValueError: asset decimal changed (6-0)"),
        (older.snapshot_id, "ValueError: asset decimal changed (5-0)"),
    ]
