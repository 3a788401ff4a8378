"""Fencing tokens against the real servers: each lease acquisition takes a higher epoch (also when Redis has
lost the epoch key), and every place a leader's side effect lands refuses an older epoch once a newer
leader has acquired: stream acknowledgement and dead letters, the group cursor after replay, trims,
closed-trade commits in PostgreSQL and snapshot manifests in the MongoDB-protocol server."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
import redis.asyncio as aioredis

from engine.domain import TradingState, default_rules
from engine.fencing import StaleEpoch
from engine.lease import Lease
from engine.snapshots import SnapshotStore
from engine.stream import DeadLetter, StreamLog
from engine.trades import TradeStore, upgrade_schema
from mesh.stream_codec import encode_command
from tests.integration.engine.support import create_account


async def _two_leaders(redis_client: aioredis.Redis, key_prefix: str) -> tuple[Lease, Lease]:
    key = f"{key_prefix}stream:lease"
    old = Lease(redis_client, key, "old", ttl_ms=60_000)
    new = Lease(redis_client, key, "new", ttl_ms=60_000)
    assert await old.try_acquire()
    await redis_client.delete(key)  # the old leader's lease lapsed (paused past its TTL)
    assert await new.try_acquire()
    assert new.epoch > old.epoch > 0
    return old, new


async def test_epochs_grow_with_every_acquisition(redis_client: aioredis.Redis, key_prefix: str) -> None:
    lease = Lease(redis_client, f"{key_prefix}stream:lease", "a", ttl_ms=60_000)
    assert await lease.try_acquire()
    first = lease.epoch
    assert await lease.try_acquire()  # its own token again: a new session, a new epoch
    second = lease.epoch
    assert second > first
    await redis_client.delete(lease.epoch_key)  # Redis lost the epoch key: the next one still grows
    assert await lease.try_acquire()
    assert lease.epoch > second


async def test_stream_writes_of_a_stale_epoch_are_refused(redis_client: aioredis.Redis, key_prefix: str) -> None:
    old, new = await _two_leaders(redis_client, key_prefix)
    stream_key = f"{key_prefix}stream"
    log = StreamLog(redis_client, stream_key, "engine", "e0", f"{key_prefix}dead", old.epoch_key)
    await log.ensure_group()
    ids = [(await redis_client.xadd(stream_key, encode_command(create_account(f"u{i}", f"u{i}@x.io")))).decode()
           for i in range(3)]  # fmt: skip
    assert len(await log.read_new(10, 0)) == 3
    dead = [DeadLetter(ids[0], {b"payload": b"\x00"}, "garbage")]
    with pytest.raises(StaleEpoch):
        await log.ack(ids, dead, old.epoch)
    with pytest.raises(StaleEpoch):
        await log.trim_below(ids[2], old.epoch)
    with pytest.raises(StaleEpoch):
        await log.finish_replay([], ids[2], old.epoch)
    with pytest.raises(StaleEpoch):
        await log.check_epoch(old.epoch, "replies")
    with pytest.raises(StaleEpoch):
        await log.append(encode_command(create_account("late", "late@x.io")), old.epoch)
    assert len(await log.pending_ids()) == 3 and await redis_client.xlen(f"{key_prefix}dead") == 0
    assert await redis_client.xlen(stream_key) == 3
    # the current leader's writes go through
    await log.ack(ids, dead, new.epoch)
    await log.check_epoch(new.epoch, "replies")
    assert await log.pending_ids() == set() and await redis_client.xlen(f"{key_prefix}dead") == 1
    assert await log.trim_below(ids[2], new.epoch) == 2
    appended = await log.append(encode_command(create_account("new", "new@x.io")), new.epoch)
    assert [entry_id for entry_id, _ in await log.range_after(ids[2], 10)] == [appended]


async def test_closed_trade_commits_of_a_stale_epoch_are_refused(postgres_url: str) -> None:
    await asyncio.to_thread(upgrade_schema, postgres_url)
    store = TradeStore(postgres_url, f"fence-test-{uuid.uuid4().hex[:8]}")
    row = _trade_row(f"trade-{uuid.uuid4().hex[:8]}")
    try:
        await store.claim_epoch(7)
        with pytest.raises(StaleEpoch):
            await store.insert([row], epoch=6)
        with pytest.raises(StaleEpoch):
            await store.quarantine([(row, "refused")], epoch=6)
        assert await _count(postgres_url, "closed_trades", row["id"]) == 0
        assert await _count(postgres_url, "closed_trades_quarantine", row["id"]) == 0
        await store.insert([row], epoch=7)
        await store.claim_epoch(8)  # a newer leader: the one at 7 is now refused too
        with pytest.raises(StaleEpoch):
            await store.insert([{**row, "id": row["id"] + "-b"}], epoch=7)
        assert await _count(postgres_url, "closed_trades", row["id"]) == 1
    finally:
        await store.close()


def test_snapshot_manifests_of_a_stale_epoch_are_refused(mongodb_url: str, mongo_database: str) -> None:
    store = SnapshotStore(mongodb_url, mongo_database, "fence:stream", keep=5)
    state = TradingState(default_rules())
    body = {"last_applied_id": "5-0", "state": state.snapshot(), "pending_trades": []}
    try:
        store.write(body, last_applied_id="5-0", accounts=0, epoch=3)
        with pytest.raises(StaleEpoch):
            store.write({**body, "last_applied_id": "6-0"}, last_applied_id="6-0", accounts=0, epoch=2)
        assert [info.last_applied_id for info in store.list()] == ["5-0"]
        store.write({**body, "last_applied_id": "7-0"}, last_applied_id="7-0", accounts=0, epoch=4)
        assert [info.last_applied_id for info in store.list()] == ["7-0", "5-0"]
    finally:
        store.close()


def _trade_row(trade_id: str) -> dict[str, object]:
    numbers = ("quantity", "leverage", "entry_price", "close_price", "margin_cents", "pnl_cents", "credited_cents",
               "opened_at_ms", "closed_at_ms", "stop_loss", "take_profit", "liquidation_price")  # fmt: skip
    return {"id": trade_id, "user_id": "fence-user", "asset": "BTC_USDC", "side": "LONG", "reason": "MANUAL",
            "decimal": 4, **dict.fromkeys(numbers, 1)}  # fmt: skip


async def _count(url: str, table: str, row_id: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table} WHERE id = $1", row_id))
    finally:
        await conn.close()
