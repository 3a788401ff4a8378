"""Pending LIMIT and STOP orders, rule by rule, with the cents worked out by hand (docs/contract.md, pending
orders). The seeded market is BTC buy 119416.8450 / sell 118234.5000; 0.01 BTC is quantity 1_000_000, so a
price P (scaled by 10^4) at 10x reserves ceil(P * 0.01 / 10) dollars = P / 100_000 cents, rounded up."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.domain import (
    CancelOrder,
    FinishedOrder,
    OrderCancelled,
    OrderPlaced,
    OrderStatus,
    OrderType,
    PendingOrder,
    PlaceOrder,
    Rejection,
    RejectReason,
    Rules,
    Side,
    TradingState,
    default_rules,
)

from .helpers import BTC, BTC_BUY, BTC_SELL, TEN_THOUSAND_DOLLARS, Driver, rejection, seeded

LIMIT, STOP = OrderType.LIMIT, OrderType.STOP
LONG, SHORT = Side.LONG, Side.SHORT


def place(
    driver: Driver,
    order_type: OrderType,
    side: Side,
    price: int,
    *,
    user: str = "alice",
    quantity: int = 1_000_000,
    leverage: int = 10,
    stop_loss: int = 0,
    take_profit: int = 0,
    expires_at_ms: int = 0,
    key: str = "",
) -> Any:
    command = PlaceOrder(user, BTC, side, order_type, price, quantity, leverage, stop_loss, take_profit, expires_at_ms)
    return driver.apply(command, key=key)


def placed(driver: Driver, *args: Any, **kwargs: Any) -> PendingOrder:
    reply = place(driver, *args, **kwargs).reply
    assert isinstance(reply, OrderPlaced), reply
    return reply.order


def only_finished(outcome: Any) -> FinishedOrder:
    assert len(outcome.finished_orders) == 1, outcome.finished_orders
    finished: FinishedOrder = outcome.finished_orders[0]
    return finished


# (type, side, price, tick buy, tick sell, reserve, fill price, margin at the fill)
FILLS = [
    # LIMIT LONG at 110000: buy 110000 <= price fills at 110000, margin = reserve = $110.00
    (LIMIT, LONG, 1_100_000_000, 1_100_000_000, 1_090_000_000, 11_000, 1_100_000_000, 11_000),
    # ... and at 109900 (better): margin $109.90, the $0.10 difference back to the balance
    (LIMIT, LONG, 1_100_000_000, 1_099_000_000, 1_090_000_000, 11_000, 1_099_000_000, 10_990),
    # LIMIT SHORT at 120000: sell 120050 >= price fills at 120050, margin $120.05 (5 cents more than reserved)
    (LIMIT, SHORT, 1_200_000_000, 1_212_000_000, 1_200_500_000, 12_000, 1_200_500_000, 12_005),
    # STOP LONG at 120000: buy 121000 >= price, slipped: margin $121.00
    (STOP, LONG, 1_200_000_000, 1_210_000_000, 1_200_000_000, 12_000, 1_210_000_000, 12_100),
    # STOP SHORT at 115000: sell 114000 <= price, margin $114.00
    (STOP, SHORT, 1_150_000_000, 1_150_000_000, 1_140_000_000, 11_500, 1_140_000_000, 11_400),
    # a reserve that rounds up: 119999.9999 x 0.01 / 10 = $119.999999 -> $120.00
    (STOP, LONG, 1_199_999_999, 1_199_999_999, 1_190_000_000, 12_000, 1_199_999_999, 12_000),
]


@pytest.mark.parametrize(("order_type", "side", "price", "buy", "sell", "reserve", "fill", "margin"), FILLS)
def test_an_order_reserves_at_its_price_and_fills_at_the_market_of_the_tick_that_meets_it(
    order_type: OrderType, side: Side, price: int, buy: int, sell: int, reserve: int, fill: int, margin: int
) -> None:
    driver = seeded()
    order = placed(driver, order_type, side, price)
    assert order.reserved_cents == reserve and order.price == price
    assert driver.balance() == TEN_THOUSAND_DOLLARS - reserve
    summary = driver.state.account_summary("alice")
    assert summary is not None and summary.reserved_margin_cents == reserve and summary.pending_orders == 1
    assert summary.equity_cents == TEN_THOUSAND_DOLLARS

    outcome = driver.tick(buy=buy, sell=sell)
    finished = only_finished(outcome)
    assert (finished.status, finished.fill_price, finished.position_id) == (
        OrderStatus.FILLED, fill, "pos-" + order.id.removeprefix("ord-"),
    )  # fmt: skip
    position = driver.state.position(finished.position_id)
    assert position is not None and (position.entry_price, position.margin_cents) == (fill, margin)
    assert (position.side, position.quantity, position.leverage, position.opened_at_ms) == (
        side, 1_000_000, 10, driver.time_ms,
    )  # fmt: skip
    assert driver.balance() == TEN_THOUSAND_DOLLARS - margin
    assert driver.state.pending_orders_of("alice") == ()


# (type, side, price): each already met by the seeded market (buy 119416.8450, sell 118234.5000)
WRONG_SIDE = [
    (LIMIT, LONG, BTC_BUY, "below the current buy price 119416.8450"),
    (LIMIT, LONG, 1_200_000_000, "below the current buy price 119416.8450"),
    (LIMIT, SHORT, BTC_SELL, "above the current sell price 118234.5000"),
    (STOP, LONG, BTC_BUY, "above the current buy price 119416.8450"),
    (STOP, LONG, 1_100_000_000, "above the current buy price 119416.8450"),
    (STOP, SHORT, BTC_SELL, "below the current sell price 118234.5000"),
]


@pytest.mark.parametrize(("order_type", "side", "price", "says"), WRONG_SIDE)
def test_an_order_the_market_already_meets_is_on_the_wrong_side(
    order_type: OrderType, side: Side, price: int, says: str
) -> None:
    driver = seeded()
    before = driver.state.state_hash()
    refused = rejection(place(driver, order_type, side, price))
    assert refused.reason is RejectReason.ORDER_WRONG_SIDE
    assert says in refused.message and "would fill at once" in refused.message
    assert driver.state.state_hash() == before


# placement refusals that need no market: (kwargs, reason, message)
PLACEMENT_REJECTIONS: list[tuple[dict[str, Any], RejectReason, str]] = [
    ({"price": 0}, RejectReason.INVALID_ORDER_PRICE, "the price of a LIMIT order must be positive"),
    ({"quantity": 1}, RejectReason.INVALID_QUANTITY,
     "quantity must be a positive multiple of 0.00001 BTC_USDC; got 0.00000001"),
    ({"leverage": 101}, RejectReason.INVALID_LEVERAGE, "leverage must be a whole number from 1 to 100; got 101"),
    ({"expires_at_ms": 1}, RejectReason.INVALID_EXPIRY,
     "the expiry must be in the future (or absent: good till cancelled)"),
    ({"stop_loss": 1_100_000_000}, RejectReason.INVALID_STOP_LOSS,
     "the stop-loss 110000.0000 of a LONG order must be below its price 110000.0000"),
    ({"take_profit": 1_000_000_000}, RejectReason.INVALID_TAKE_PROFIT,
     "the take-profit 100000.0000 of a LONG order must be above its price 110000.0000"),
    ({"stop_loss": -1}, RejectReason.INVALID_STOP_LOSS, "the stop-loss must not be negative"),
    ({"quantity": 100_000_000_000}, RejectReason.INSUFFICIENT_BALANCE,
     "the margin $11,000,000.00 exceeds the free balance $10,000.00"),
    ({"user": "ghost"}, RejectReason.ACCOUNT_NOT_FOUND, "user ghost has no trading account"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "reason", "message"), PLACEMENT_REJECTIONS)
def test_placement_refusals(kwargs: dict[str, Any], reason: RejectReason, message: str) -> None:
    driver = seeded()
    before = driver.state.state_hash()
    refused = rejection(place(driver, LIMIT, LONG, kwargs.pop("price", 1_100_000_000), **kwargs))
    assert (refused.reason, refused.message) == (reason, message)
    assert driver.state.state_hash() == before


def test_pending_orders_are_capped_per_account() -> None:
    driver = seeded(Rules(assets=default_rules().assets, max_pending_orders_per_account=2))
    driver.signup("bob")
    placed(driver, LIMIT, LONG, 1_100_000_000)
    placed(driver, STOP, LONG, 1_200_000_000)
    refused = rejection(place(driver, LIMIT, LONG, 1_000_000_000))
    assert (refused.reason, refused.message) == (
        RejectReason.TOO_MANY_ORDERS,
        "the account already has 2 pending orders, the most allowed; cancel one to place another",
    )
    placed(driver, LIMIT, LONG, 1_000_000_000, user="bob")  # the cap is per account
    assert default_rules().max_pending_orders_per_account == 100


def test_a_stop_that_slips_beyond_the_balance_is_rejected_and_the_reserve_returns() -> None:
    driver = seeded()
    driver.signup("bob", balance=12_000)
    placed(driver, STOP, LONG, 1_200_000_000, user="bob")  # reserves all of bob's $120.00
    assert driver.balance("bob") == 0
    finished = only_finished(driver.tick(buy=1_300_000_000, sell=1_290_000_000))  # fills at 130000: $130.00
    assert (finished.status, finished.reject_reason, finished.position_id) == (
        OrderStatus.REJECTED, RejectReason.INSUFFICIENT_BALANCE, "",
    )  # fmt: skip
    assert finished.message == (
        "the order met its price at 130000.0000 but could not fill: the margin $130.00 exceeds the free balance $120.00"
    )
    assert driver.balance("bob") == 12_000 and driver.state.positions_of("bob") == ()
    assert driver.state.pending_orders_of("bob") == ()


def test_a_fill_whose_stop_loss_the_market_has_crossed_is_rejected() -> None:
    driver = seeded()
    placed(driver, STOP, LONG, 1_200_000_000, stop_loss=1_190_000_000)
    # buy 121000 fills the stop; the LONG would close at sell 118500, below its stop-loss 119000
    finished = only_finished(driver.tick(buy=1_210_000_000, sell=1_185_000_000))
    assert (finished.status, finished.reject_reason) == (OrderStatus.REJECTED, RejectReason.INVALID_STOP_LOSS)
    assert "must be below the current sell price 118500.0000" in finished.message
    assert driver.balance() == TEN_THOUSAND_DOLLARS


def test_a_fill_that_would_be_liquidated_at_once_is_rejected() -> None:
    driver = seeded()
    placed(driver, STOP, LONG, 1_200_000_000, leverage=100)  # reserves ceil($12.00) = 1_200 cents
    assert driver.balance() == TEN_THOUSAND_DOLLARS - 1_200
    # fills at 121200: margin $12.12, and at sell 119000 the PnL is -$22.00: liquidated as it opens
    finished = only_finished(driver.tick(buy=1_212_000_000, sell=1_190_000_000))
    assert (finished.status, finished.reject_reason) == (OrderStatus.REJECTED, RejectReason.IMMEDIATE_LIQUIDATION)
    assert driver.balance() == TEN_THOUSAND_DOLLARS and driver.state.open_position_count == 0


def test_a_fill_beyond_the_position_cap_is_rejected() -> None:
    driver = seeded(Rules(assets=default_rules().assets, max_open_positions_per_account=1))
    placed(driver, LIMIT, LONG, 1_100_000_000)
    driver.opened(quantity=1_000)
    finished = only_finished(driver.tick(buy=1_100_000_000, sell=1_090_000_000))
    assert (finished.status, finished.reject_reason) == (OrderStatus.REJECTED, RejectReason.TOO_MANY_POSITIONS)
    assert len(driver.state.positions_of("alice")) == 1


def test_orders_expire_on_the_first_entry_at_or_after_their_expiry_before_it_applies() -> None:
    driver = seeded()
    expiry = driver.time_ms + 10
    order = placed(driver, LIMIT, LONG, 1_100_000_000, expires_at_ms=expiry)  # at time + 1
    assert driver.signup("bob", balance=0).finished_orders == ()  # time + 2
    # an entry at exactly the expiry that would also fill it: the order expires first
    outcome = driver.tick(buy=1_100_000_000, sell=1_090_000_000, advance_ms=8)
    assert driver.time_ms == expiry
    finished = only_finished(outcome)
    assert (finished.order, finished.status, finished.finished_at_ms) == (order, OrderStatus.EXPIRED, expiry)
    assert driver.balance() == TEN_THOUSAND_DOLLARS and driver.state.open_position_count == 0
    assert driver.state.pending_order_count == 0


def test_any_entry_expires_orders_even_an_idempotent_retry() -> None:
    driver = seeded()
    driver.signup("bob", balance=0)
    placed(driver, LIMIT, LONG, 1_100_000_000, expires_at_ms=driver.time_ms + 5)
    driver.apply(CancelOrder("bob", "ord-none"), key="k")
    outcome = driver.apply(CancelOrder("bob", "ord-none"), key="k", advance_ms=10)
    assert only_finished(outcome).status is OrderStatus.EXPIRED
    # the retry repeats the remembered refusal; the expiry is this entry's own
    assert isinstance(outcome.reply, Rejection) and outcome.reply.reason is RejectReason.ORDER_NOT_FOUND


def test_cancel_releases_the_reserve_and_only_the_owner_can_cancel() -> None:
    driver = seeded()
    driver.signup("bob")
    order = placed(driver, LIMIT, LONG, 1_100_000_000)
    refused = rejection(driver.apply(CancelOrder("bob", order.id)))
    assert (refused.reason, refused.message) == (
        RejectReason.ORDER_NOT_FOUND, f"no pending order {order.id!r} in this account",
    )  # fmt: skip
    outcome = driver.apply(CancelOrder("alice", order.id))
    assert isinstance(outcome.reply, OrderCancelled)
    assert outcome.reply.order == FinishedOrder(order, OrderStatus.CANCELLED, driver.time_ms)
    assert outcome.reply.balance_cents == TEN_THOUSAND_DOLLARS == driver.balance()
    assert outcome.finished_orders == (outcome.reply.order,)
    assert rejection(driver.apply(CancelOrder("alice", order.id))).reason is RejectReason.ORDER_NOT_FOUND
    # a cancelled order never fills
    assert driver.tick(buy=1_000_000_000, sell=990_000_000).finished_orders == ()


def test_orders_filled_by_one_tick_fill_in_placement_order_against_the_balance_left() -> None:
    driver = seeded()
    driver.signup("bob", balance=25_000)
    first = placed(driver, STOP, LONG, 1_200_000_000, user="bob")  # reserves 12_000
    second = placed(driver, LIMIT, SHORT, 1_200_000_000, user="bob")  # reserves 12_000; 1_000 left
    # one tick meets both: the stop fills at buy 130000 (margin 13_000, balance 1_000 + 12_000 - 13_000 = 0);
    # the limit short at sell 129000 needs 12_900 of 0 + 12_000: refused, its reserve back
    outcome = driver.tick(buy=1_300_000_000, sell=1_290_000_000)
    assert [(f.order.id, f.status) for f in outcome.finished_orders] == [
        (first.id, OrderStatus.FILLED), (second.id, OrderStatus.REJECTED),
    ]  # fmt: skip
    assert driver.balance("bob") == 12_000


def test_a_position_triggered_by_the_same_tick_closes_before_orders_fill() -> None:
    driver = seeded()
    driver.signup("bob", balance=12_000)
    position = driver.opened(user="bob", quantity=1_000, stop_loss=1_150_000_000)  # margin ceil(11.94 cents)
    placed(driver, STOP, SHORT, 1_150_000_000, user="bob", quantity=900_000)  # reserves ceil($103.50) = 10_350
    assert driver.balance("bob") == 12_000 - 12 - 10_350
    outcome = driver.tick(buy=1_145_000_000, sell=1_140_000_000)
    assert [t.id for t in outcome.closed_trades] == [position.id]
    assert only_finished(outcome).status is OrderStatus.FILLED


def test_an_idempotent_placement_places_once() -> None:
    driver = seeded()
    first = place(driver, LIMIT, LONG, 1_100_000_000, key="once").reply
    assert place(driver, LIMIT, LONG, 1_100_000_000, key="once").reply == first
    assert driver.state.pending_order_count == 1 and driver.balance() == TEN_THOUSAND_DOLLARS - 11_000


def test_orders_survive_a_snapshot_and_fill_the_same_after_restore() -> None:
    driver = seeded()
    placed(driver, LIMIT, LONG, 1_100_000_000, key="a")
    placed(driver, STOP, SHORT, 1_150_000_000, expires_at_ms=driver.time_ms + 100)
    driver.apply(CancelOrder("alice", placed(driver, STOP, LONG, 1_250_000_000).id), key="c")
    data = json.loads(json.dumps(driver.state.snapshot()))
    assert data["format"] >= 5 and len(data["orders"]) == 2
    restored = Driver(driver.rules)
    restored.state, restored.time_ms, restored.entries = (
        TradingState.restore(driver.rules, data),
        driver.time_ms,
        driver.entries,
    )
    assert restored.state.state_hash() == driver.state.state_hash()
    assert restored.state.account_summary("alice") == driver.state.account_summary("alice")
    for each in (driver, restored):
        each.tick(buy=1_100_000_000, sell=1_090_000_000)
        each.apply(CancelOrder("alice", "ord-x"), advance_ms=200)
    assert restored.state.state_hash() == driver.state.state_hash()
    assert driver.state.pending_order_count == 0 and driver.state.open_position_count == 2  # both filled


def test_a_snapshot_whose_orders_do_not_fit_is_refused() -> None:
    driver = seeded()
    placed(driver, LIMIT, LONG, 1_100_000_000)
    data = json.loads(json.dumps(driver.state.snapshot()))
    for damage in ("twice", "sequence", "owner"):
        broken = json.loads(json.dumps(data))
        if damage == "twice":
            broken["orders"].append(broken["orders"][0])
        elif damage == "sequence":
            broken["next_sequence"] = broken["orders"][0][-1]
        else:
            broken["orders"][0][1] = "nobody"
        with pytest.raises(ValueError):
            TradingState.restore(driver.rules, broken)
