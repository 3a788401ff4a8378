"""Account events (engine.domain.events): which events each command causes, in which order, with which
figures; none for refusals and remembered replies; the counter survives a snapshot."""

from __future__ import annotations

import json

from engine.domain import (
    CancelOrder,
    ClosedTrade,
    CloseReason,
    OrderPlaced,
    OrderType,
    PlaceOrder,
    PositionClosed,
    Side,
    TradingState,
)
from engine.domain.events import AccountEvent, BalanceCause, BalanceChange, EventKind, PositionUpdate, UpdateKind
from tests.unit.engine.domain.helpers import BTC, BTC_BUY, BTC_SELL, TEN_THOUSAND_DOLLARS, Driver, busy_driver, seeded


def _kinds(events: tuple[AccountEvent, ...]) -> list[tuple[str, int, EventKind]]:
    return [(e.user_id, e.seq, e.kind) for e in events]


def _balance(event: AccountEvent) -> BalanceChange:
    assert event.kind is EventKind.BALANCE and isinstance(event.body, BalanceChange)
    return event.body


def test_a_signup_is_a_deposit_numbered_one_and_a_repeated_signup_changes_nothing() -> None:
    driver = Driver()
    outcome = driver.signup()
    assert _kinds(outcome.events) == [("alice", 1, EventKind.BALANCE)]
    assert outcome.events[0].time_ms == driver.time_ms
    deposit = _balance(outcome.events[0])
    assert deposit == BalanceChange(BalanceCause.DEPOSIT, TEN_THOUSAND_DOLLARS, TEN_THOUSAND_DOLLARS, 0, 0, "", "")
    assert driver.signup().events == ()


def test_an_open_then_a_manual_close() -> None:
    driver = seeded()
    opened = driver.open()
    position = driver.state.positions_of("alice")[0]
    assert _kinds(opened.events) == [("alice", 2, EventKind.POSITION_OPENED), ("alice", 3, EventKind.BALANCE)]
    assert opened.events[0].body == position
    lock = _balance(opened.events[1])
    assert lock.cause is BalanceCause.MARGIN_LOCKED and lock.amount_cents == -position.margin_cents
    assert (lock.balance_cents, lock.used_margin_cents) == (driver.balance(), position.margin_cents)
    assert lock.position_id == position.id

    closed = driver.close(position.id)
    assert _kinds(closed.events) == [("alice", 4, EventKind.POSITION_CLOSED), ("alice", 5, EventKind.BALANCE)]
    trade = closed.events[0].body
    assert isinstance(trade, ClosedTrade) and trade.reason is CloseReason.MANUAL
    credit = _balance(closed.events[1])
    assert credit.cause is BalanceCause.POSITION_CLOSED and credit.amount_cents == trade.credited_cents
    assert (credit.balance_cents, credit.used_margin_cents) == (driver.balance(), 0)


def test_a_partial_close_and_new_levels_update_the_position() -> None:
    driver = seeded()
    position = driver.opened(quantity=2_000_000)
    part = driver.close(position.id, quantity=1_000_000)
    assert isinstance(part.reply, PositionClosed) and part.reply.remaining is not None
    assert [e.kind for e in part.events] == [EventKind.POSITION_UPDATED, EventKind.BALANCE]
    assert part.events[0].body == PositionUpdate(UpdateKind.PARTIAL_CLOSE, part.reply.remaining, part.reply.trade)
    credit = _balance(part.events[1])
    assert credit.cause is BalanceCause.PARTIAL_CLOSE and credit.amount_cents == part.reply.trade.credited_cents
    assert credit.used_margin_cents == part.reply.remaining.margin_cents

    amended = driver.amend(position.id, stop_loss=BTC_SELL - 100_000)
    assert [(e.seq, e.kind) for e in amended.events] == [(6, EventKind.POSITION_UPDATED)]
    update = amended.events[0].body
    assert isinstance(update, PositionUpdate) and update.change is UpdateKind.LEVELS
    assert update.position.stop_loss == BTC_SELL - 100_000 and update.closed_part is None


def test_refusals_and_remembered_replies_cause_no_event() -> None:
    driver = seeded()
    assert driver.open(leverage=10_000).events == ()
    first = driver.open(key="k")
    assert len(first.events) == 2
    assert driver.open(key="k").events == ()
    assert driver.state.account("alice") is not None
    assert driver.tick().events == ()  # a tick that closes nothing


def test_one_tick_closing_two_positions_of_one_account_reports_the_figures_after_each() -> None:
    driver = seeded()
    first = driver.opened(stop_loss=BTC_SELL - 50_000)
    second = driver.opened(stop_loss=BTC_SELL - 40_000, quantity=2_000_000)
    keep = driver.opened(quantity=500_000)
    before = driver.balance()
    crash = driver.tick(buy=BTC_BUY - 80_000, sell=BTC_SELL - 70_000)
    assert [e.kind for e in crash.events] == [EventKind.POSITION_CLOSED, EventKind.BALANCE] * 2
    assert [e.seq for e in crash.events] == [8, 9, 10, 11]
    trades = [t for t in crash.closed_trades]
    assert {t.id for t in trades} == {first.id, second.id} and all(t.reason is CloseReason.STOP_LOSS for t in trades)
    after_first, after_second = _balance(crash.events[1]), _balance(crash.events[3])
    assert after_first.balance_cents == before + trades[0].credited_cents
    assert after_second.balance_cents == driver.balance() == after_first.balance_cents + trades[1].credited_cents
    assert after_first.used_margin_cents == keep.margin_cents + trades[1].margin_cents
    assert after_second.used_margin_cents == keep.margin_cents


def test_the_counters_survive_a_snapshot_and_an_older_snapshot_starts_them_at_zero() -> None:
    driver = busy_driver()
    data = json.loads(json.dumps(driver.state.snapshot()))
    restored = TradingState.restore(driver.rules, data)
    assert restored.state_hash() == driver.state.state_hash()
    clock = driver.time_ms, driver.entries
    after = driver.signup("carol").events + driver.open().events
    assert [e.seq for e in after] == [1, 12, 13]  # alice's 11 events in busy_driver, then these
    driver.state, (driver.time_ms, driver.entries) = restored, clock
    assert driver.signup("carol").events + driver.open().events == after

    legacy = {**data, "format": 4, "accounts": [row[:4] for row in data["accounts"]]}
    driver.state = TradingState.restore(driver.rules, legacy)
    assert [e.seq for e in driver.open().events] == [1, 2]


def test_pending_orders_reserve_and_release_and_a_fill_opens_a_position() -> None:
    driver = seeded()
    limit = PlaceOrder("alice", BTC, Side.LONG, OrderType.LIMIT, 1_100_000_000, 1_000, 10, 0, 0)
    placed = driver.apply(limit)
    assert isinstance(placed.reply, OrderPlaced)
    order = placed.reply.order
    assert [e.kind for e in placed.events] == [EventKind.ORDER_ACCEPTED, EventKind.BALANCE]
    reserve = _balance(placed.events[1])
    assert (reserve.cause, reserve.amount_cents, reserve.reserved_cents) == (
        BalanceCause.ORDER_RESERVED, -order.reserved_cents, order.reserved_cents,
    )  # fmt: skip
    assert reserve.order_id == order.id and reserve.balance_cents == driver.balance()

    filled = driver.tick(buy=1_099_000_000, sell=1_098_000_000)
    kinds = [e.kind for e in filled.events]
    assert kinds == [EventKind.ORDER_FILLED, EventKind.BALANCE, EventKind.POSITION_OPENED, EventKind.BALANCE]
    released, locked = _balance(filled.events[1]), _balance(filled.events[3])
    assert released.cause is BalanceCause.ORDER_RELEASED and released.amount_cents == order.reserved_cents
    assert released.reserved_cents == 0 and locked.cause is BalanceCause.MARGIN_LOCKED
    (position,) = driver.state.positions_of("alice")
    assert filled.events[2].body == position and locked.amount_cents == -position.margin_cents
    assert (locked.balance_cents, locked.used_margin_cents) == (driver.balance(), position.margin_cents)
    assert [e.seq for e in filled.events] == [4, 5, 6, 7]


def test_an_expiry_comes_before_the_commands_own_events_and_a_cancel_releases() -> None:
    driver = seeded()
    stop = PlaceOrder("alice", BTC, Side.LONG, OrderType.STOP, 1_250_000_000, 1_000, 10, 0, 0, driver.time_ms + 5)
    assert isinstance(driver.apply(stop).reply, OrderPlaced)
    kept = driver.apply(PlaceOrder("alice", BTC, Side.LONG, OrderType.STOP, 1_260_000_000, 1_000, 10, 0, 0))
    assert isinstance(kept.reply, OrderPlaced)
    later = driver.open(advance_ms=10)
    assert [e.kind for e in later.events] == [
        EventKind.ORDER_EXPIRED, EventKind.BALANCE, EventKind.POSITION_OPENED, EventKind.BALANCE,
    ]  # fmt: skip
    assert _balance(later.events[1]).cause is BalanceCause.ORDER_RELEASED
    cancelled = driver.apply(CancelOrder("alice", kept.reply.order.id))
    assert [e.kind for e in cancelled.events] == [EventKind.ORDER_CANCELLED, EventKind.BALANCE]
    last = _balance(cancelled.events[1])
    assert (last.reserved_cents, last.balance_cents) == (0, driver.balance())
