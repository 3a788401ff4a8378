"""Pending orders through the Engine in this process, against real Redis, MongoDB and PostgreSQL: entries
place, fill (on a price entry), cancel and expire orders as the reference state does; the reads serve the
pending orders and the reserve; the ended orders reach the order history in PostgreSQL once each, newest
first, through the same group commit as the closed trades; a snapshot keeps the pending orders."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import NoReturn

import asyncpg
import grpc
import pytest
import redis.asyncio as aioredis
from exness.engine.v1 import engine_service_pb2, orders_pb2

from engine.config import EngineSettings
from engine.domain import TradingState, default_rules
from engine.lifecycle import Engine
from engine.servicers import EngineServicer
from engine.snapshots import SnapshotStore
from harness.polling import apoll_until
from mesh.stream_codec import encode_command
from tests.integration.engine.in_process import running_engine
from tests.integration.engine.support import (
    Producer,
    cancel_order,
    close_position,
    create_account,
    place_order,
    price_update,
)

BTC = (600_500_000, 600_000_000)  # buy 60,050.0000 / sell 60,000.0000
FORMAT_4 = Path(__file__).resolve().parents[2] / "fixtures" / "snapshots" / "format4.json"


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, details)
        self.code = code


class FakeContext:
    async def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        raise Aborted(code, details)


async def _applied_and_committed(engine: Engine, entry_id: str) -> None:
    await apoll_until(
        lambda: engine.last_applied_id == entry_id and not engine.writer.pending,
        f"the engine to apply {entry_id} and commit its rows",
        60,
    )


@pytest.fixture
def quiet_settings(engine_settings: EngineSettings) -> EngineSettings:
    return engine_settings.model_copy(update={"snapshot_interval_seconds": 3600.0})


async def test_orders_place_fill_cancel_and_expire_into_the_order_history(
    quiet_settings: EngineSettings, redis_client: aioredis.Redis, postgres_url: str, key_prefix: str
) -> None:
    user = f"{key_prefix}trader"
    producer = Producer(redis_client, quiet_settings.stream_key, quiet_settings)
    async with running_engine(quiet_settings) as engine:
        servicer = EngineServicer(engine)
        await producer.send(create_account(user, f"{user}@example.com", 100_000))
        await producer.send(price_update({"BTC_USDC": BTC}))
        # 0.001 BTC at 10x: LIMIT LONG at 59,000 reserves $5.90; LIMIT SHORT at 61,000 $6.10; STOP LONG at
        # 62,000 $6.20, expiring 1 s of stream time from now
        limit_id = "ord-" + await producer.send(
            place_order(user, "BTC_USDC", "LONG", "LIMIT", 590_000_000, 100_000, 10)
        )
        short_id = "ord-" + await producer.send(
            place_order(user, "BTC_USDC", "SHORT", "LIMIT", 610_000_000, 100_000, 10)
        )
        expiry = int(time.time() * 1000) + 1000
        stop_id = "ord-" + await producer.send(
            place_order(user, "BTC_USDC", "LONG", "STOP", 620_000_000, 100_000, 10, expires_at_ms=expiry)
        )
        await _applied_and_committed(engine, producer.last_id)

        listed = await servicer.ListOrders(engine_service_pb2.ListOrdersRequest(user_id=user), FakeContext())
        assert [o.id for o in listed.orders] == [limit_id, short_id, stop_id]
        assert [o.reserved_cents for o in listed.orders] == [590, 610, 620]
        account = await servicer.GetAccount(engine_service_pb2.GetAccountRequest(user_id=user), FakeContext())
        assert (account.account.balance_cents, account.reserved_margin_cents, account.pending_orders) == (
            100_000 - 1_820, 1_820, 3,
        )  # fmt: skip
        assert account.equity_cents == 100_000

        # buy 58,900 fills the limit long at 58,900 (margin $5.89)
        await producer.send(price_update({"BTC_USDC": (589_000_000, 588_000_000)}))
        await producer.send(cancel_order(user, short_id))
        await apoll_until(lambda: time.time() * 1000 > expiry + 5, "the stop's expiry to pass", 10)
        await producer.send(price_update({"BTC_USDC": (589_100_000, 588_100_000)}))  # expires the stop
        await producer.send(cancel_order(user, short_id))  # no longer pending: ORDER_NOT_FOUND
        await _applied_and_committed(engine, producer.last_id)

        assert engine.state is not None and engine.state.state_hash() == producer.reference.state_hash()
        listed = await servicer.ListOrders(engine_service_pb2.ListOrdersRequest(user_id=user), FakeContext())
        assert list(listed.orders) == []
        history = await servicer.ListOrderHistory(
            engine_service_pb2.ListOrderHistoryRequest(user_id=user, page_size=2), FakeContext()
        )
        # newest end first: on a loaded machine the stop can already expire with the fill's price update
        # (its 1 s may pass before that entry is written), so the order comes from the ends' stream times
        ended = {stop_id: orders_pb2.ORDER_STATUS_EXPIRED, short_id: orders_pb2.ORDER_STATUS_CANCELLED,
                 limit_id: orders_pb2.ORDER_STATUS_FILLED}  # fmt: skip
        newest_first = sorted(ended, key=lambda i: (producer.order_rows[i]["finished_at_ms"], i), reverse=True)
        assert [(o.order.id, o.status) for o in history.orders] == [(i, ended[i]) for i in newest_first[:2]]
        rest = await servicer.ListOrderHistory(
            engine_service_pb2.ListOrderHistoryRequest(user_id=user, page_size=2, page_token=history.next_page_token),
            FakeContext(),
        )
        assert [(o.order.id, o.status) for o in rest.orders] == [(newest_first[2], ended[newest_first[2]])]
        filled = next(o for o in (*history.orders, *rest.orders) if o.order.id == limit_id)
        assert (filled.position_id, filled.fill_price) == ("pos-" + limit_id.removeprefix("ord-"), 589_000_000)
        assert engine.state.position(filled.position_id) is not None
        assert rest.next_page_token == ""
        for who, order_id, found in ((user, limit_id, [limit_id]), (user, "ord-unknown", []), ("other", limit_id, [])):
            one = await servicer.ListOrderHistory(
                engine_service_pb2.ListOrderHistoryRequest(user_id=who, order_id=order_id), FakeContext()
            )
            assert [o.order.id for o in one.orders] == found

        with pytest.raises(Aborted) as refused:
            await servicer.ListOrders(engine_service_pb2.ListOrdersRequest(user_id="nobody"), FakeContext())
        assert refused.value.code is grpc.StatusCode.NOT_FOUND

    connection = await asyncpg.connect(postgres_url)
    try:
        rows = await connection.fetch("SELECT * FROM order_history WHERE user_id = $1", user)
    finally:
        await connection.close()
    assert {row["id"]: dict(row) for row in rows} == producer.order_rows


async def test_pending_orders_survive_a_snapshot_and_a_restart(
    quiet_settings: EngineSettings, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    user = f"{key_prefix}keeper"
    producer = Producer(redis_client, quiet_settings.stream_key, quiet_settings)
    async with running_engine(quiet_settings) as engine:
        await producer.send(create_account(user, f"{user}@example.com", 100_000))
        await producer.send(price_update({"BTC_USDC": BTC}))
        await producer.send(place_order(user, "BTC_USDC", "SHORT", "STOP", 590_000_000, 100_000, 10))
        await _applied_and_committed(engine, producer.last_id)
        info = await engine.take_snapshot()
        assert info.state_hash == producer.reference.state_hash()
    async with running_engine(quiet_settings) as engine:
        # sell 58,000 fills the stop short, restored from the snapshot, at 58,000
        await producer.send(price_update({"BTC_USDC": (581_000_000, 580_000_000)}))
        await _applied_and_committed(engine, producer.last_id)
        assert engine.state is not None and engine.state.state_hash() == producer.reference.state_hash()
        assert engine.state.pending_order_count == 0 and len(engine.state.positions_of(user)) == 1
    assert [row["status"] for row in producer.order_rows.values()] == ["FILLED"]


async def test_a_format_4_snapshot_of_the_previous_release_restores_and_the_stream_after_it_replays(
    engine_settings: EngineSettings, redis_client: aioredis.Redis, postgres_url: str
) -> None:
    """The upgrade in place: the stream and the newest snapshot are those of the previous release (the
    committed format-4 fixture, whose last entry is still in the stream); the new engine restores it,
    applies the entries written after it, pending orders included, and reaches the reference state."""
    fixture = json.loads(FORMAT_4.read_text())
    body, last_id = fixture["body"], fixture["body"]["last_applied_id"]
    settings = engine_settings.model_copy(update={"snapshot_interval_seconds": 3600.0, "maintenance_margin_rate": "0"})
    assert settings.rules() == default_rules()  # the rules the fixture recorded: no rules entry is written
    await redis_client.xadd(settings.stream_key, encode_command(price_update({"BTC_USDC": BTC})), id=last_id)
    store = SnapshotStore(settings.mongodb_url, settings.mongodb_database, settings.stream_key, settings.snapshot_keep)
    try:
        await asyncio.to_thread(store.write, body, last_applied_id=last_id, accounts=2)
    finally:
        store.close()
    producer = Producer(redis_client, settings.stream_key, settings)
    producer.reference = TradingState.restore(default_rules(), body["state"])
    # the hash is the format-5 one (an empty orders table), the fixture's the format-4 one
    assert producer.reference.state_hash() != fixture["state_hash"]
    async with running_engine(settings) as engine:
        assert engine.state is not None and engine.state.state_hash() == producer.reference.state_hash()
        assert (engine.state.account_count, engine.state.open_position_count) == (2, 3)
        await producer.send(price_update({"BTC_USDC": BTC}))
        limit_id = "ord-" + await producer.send(
            place_order("alice", "BTC_USDC", "LONG", "LIMIT", 590_000_000, 1_000, 10)
        )
        await producer.send(close_position("bob", engine.state.positions_of("bob")[0].id))
        await producer.send(price_update({"BTC_USDC": (589_000_000, 588_000_000)}))
        await _applied_and_committed(engine, producer.last_id)
        assert engine.state.state_hash() == producer.reference.state_hash()
        assert engine.state.pending_order_count == 0
        assert engine.state.position("pos-" + limit_id.removeprefix("ord-")) is not None
        assert (await engine.take_snapshot()).state_hash == producer.reference.state_hash()
    connection = await asyncpg.connect(postgres_url)
    try:
        rows = await connection.fetch("SELECT * FROM order_history WHERE id = $1", limit_id)
    finally:
        await connection.close()
    assert [dict(row) for row in rows] == [producer.order_rows[limit_id]]
