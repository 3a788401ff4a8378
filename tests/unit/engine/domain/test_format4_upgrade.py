"""Upgrading in place: a snapshot written by the format-4 engine (tests/fixtures/snapshots/format4.json, the
state tests.unit.engine.domain.helpers.busy_driver() built before pending orders existed) restores into
the format-5 state, and replaying the stream after it, pending orders included, gives the state a
from-scratch replay gives."""

from __future__ import annotations

import json
from pathlib import Path

from engine.domain import (
    CancelOrder,
    OrderPlaced,
    OrderStatus,
    OrderType,
    PlaceOrder,
    Side,
    TradingState,
    default_rules,
)
from engine.domain.capture import SNAPSHOT_FORMAT

from .helpers import BTC, Driver, busy_driver

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "snapshots" / "format4.json"


def _stream_after(driver: Driver) -> None:
    """Entries a gateway of either release writes after the snapshot: market orders, closes, orders, ticks."""
    driver.opened(quantity=2_000)
    placed = driver.apply(PlaceOrder("alice", BTC, Side.LONG, OrderType.LIMIT, 1_100_000_000, 1_000, 10, 0, 0))
    assert isinstance(placed.reply, OrderPlaced)
    stop = driver.apply(PlaceOrder("bob", BTC, Side.SHORT, OrderType.STOP, 1_000_000_000, 1_000, 5, 0, 0, 0))
    assert isinstance(stop.reply, OrderPlaced)
    filled = driver.tick(buy=1_099_000_000, sell=1_098_000_000)
    assert [f.status for f in filled.finished_orders] == [OrderStatus.FILLED]
    driver.apply(CancelOrder("bob", stop.reply.order.id))
    driver.tick(buy=1_120_000_000, sell=1_110_000_000)


def _without_event_counters(state: TradingState) -> dict[str, object]:
    """The snapshot without the accounts' event counters: a snapshot older than format 6 has none, so its
    restore counts events from 0 where a full replay has counted them since each sign-up."""
    data = state.snapshot()
    return {**data, "accounts": [row[:4] for row in data["accounts"]]}


def test_a_format_4_snapshot_restores_and_replays_to_the_state_a_full_replay_gives() -> None:
    fixture = json.loads(FIXTURE.read_text())
    data = fixture["body"]["state"]
    assert data["format"] == 4 and "orders" not in data
    restored = TradingState.restore(default_rules(), data)
    assert (restored.account_count, restored.open_position_count, restored.pending_order_count) == (2, 3, 0)

    from_scratch = busy_driver()
    assert _without_event_counters(restored) == _without_event_counters(from_scratch.state)
    assert (from_scratch.time_ms, from_scratch.entries) == (fixture["clock"]["time_ms"], fixture["clock"]["entries"])
    upgraded = Driver(restored.rules)
    upgraded.state, upgraded.time_ms, upgraded.entries = restored, from_scratch.time_ms, from_scratch.entries
    for driver in (from_scratch, upgraded):
        _stream_after(driver)
    assert _without_event_counters(upgraded.state) == _without_event_counters(from_scratch.state)
    rewritten = upgraded.state.snapshot()
    assert rewritten["format"] == SNAPSHOT_FORMAT
    assert TradingState.restore(default_rules(), json.loads(json.dumps(rewritten))).state_hash() == (
        upgraded.state.state_hash()
    )
