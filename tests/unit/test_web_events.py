"""The terminal's toasts for account events (web/src/events.js `describe`): a liquidation, a stop-out, a
take-profit and a pending order's fill, expiry or refusal read as sentences; the trader's own close and
balance lines need none."""

from __future__ import annotations

from typing import Any

from tests.unit.test_web_money import run_js

TRADE = {"side": "LONG", "quantity": "0.01", "asset": "BTC_USDC"}
ORDER = {"type": "LIMIT", "side": "SHORT", "quantity": "0.5", "asset": "ETH_USDC"}


def describe(event: dict[str, Any]) -> str | None:
    result: str | None = run_js([("describe", [event])], module="events")[0]
    return result


def test_closes_by_the_market_are_told() -> None:
    closed = {"type": "POSITION_CLOSED", "seq": 7, "ts": 1}
    assert (
        describe({**closed, "trade": {**TRADE, "reason": "LIQUIDATION"}})
        == "Position LONG 0.01 BTC_USDC was liquidated"
    )
    assert (
        describe({**closed, "trade": {**TRADE, "reason": "STOP_LOSS"}}) == "Position LONG 0.01 BTC_USDC was stopped out"
    )
    assert (
        describe({**closed, "trade": {**TRADE, "reason": "TAKE_PROFIT"}}) == "Position LONG 0.01 BTC_USDC took profit"
    )
    assert describe({**closed, "trade": {**TRADE, "reason": "MANUAL"}}) is None


def test_pending_orders_are_told() -> None:
    assert describe({"type": "ORDER_FILLED", "seq": 2, "order": ORDER}) == "Limit order SHORT 0.5 ETH_USDC filled"
    assert describe({"type": "ORDER_EXPIRED", "seq": 3, "order": {**ORDER, "type": "STOP"}}) == (
        "Stop order SHORT 0.5 ETH_USDC expired"
    )
    rejected = {"type": "ORDER_REJECTED", "seq": 4, "order": {**ORDER, "reason": "INSUFFICIENT_BALANCE"}}
    assert describe(rejected) == "Limit order SHORT 0.5 ETH_USDC could not fill: insufficient balance"


def test_other_events_need_no_toast() -> None:
    for event in (
        {"type": "BALANCE", "seq": 1, "cause": "DEPOSIT", "amount": 1_000_000},
        {"type": "POSITION_OPENED", "seq": 2, "position": TRADE},
        {"type": "POSITION_UPDATED", "seq": 3, "change": "LEVELS", "position": TRADE},
    ):
        assert describe(event) is None, event
