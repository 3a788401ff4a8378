"""Opening and closing positions: what the state records, what the replies say, and the reads the engine
serves from memory (positions, valuations, account summaries, counts)."""

from __future__ import annotations

from fractions import Fraction

from engine.domain import (
    Account,
    AccountSummary,
    ClosedTrade,
    CloseReason,
    LatestQuote,
    Position,
    PositionClosed,
    PositionOpened,
    RejectReason,
    Rules,
    Side,
    Valuation,
    default_rules,
)

from .helpers import BTC, BTC_BUY, BTC_SELL, START_MS, Driver, rejection, seeded


def test_open_records_everything_fixed_at_open() -> None:
    driver = seeded()
    outcome = driver.open(quantity=1_000_000, leverage=10, stop_loss=1_100_000_000, take_profit=1_300_000_000)
    entry_id = f"{driver.time_ms}-{driver.entries}"
    expected = Position(
        id=f"pos-{entry_id}",
        user_id="alice",
        asset=BTC,
        side=Side.LONG,
        quantity=1_000_000,
        leverage=10,
        entry_price=BTC_BUY,
        margin_cents=11_942,
        maintenance_cents=0,
        liquidation_price=1_074_753_450,
        stop_loss=1_100_000_000,
        take_profit=1_300_000_000,
        decimal=4,
        opened_at_ms=driver.time_ms,
        sequence=1,
    )
    # marked to the closing side (the sell price) of the quote it opened on: the spread is the loss
    assert outcome.reply == PositionOpened(expected, balance_cents=988_058, valuation=Valuation(BTC_SELL, -1_182))
    assert outcome.closed_trades == ()
    assert driver.state.position(expected.id) == expected
    assert driver.state.positions_of("alice") == (expected,)
    assert (driver.state.account_count, driver.state.open_position_count) == (1, 1)


def test_manual_close_reports_the_trade_in_reply_and_outcome() -> None:
    driver = seeded()
    position = driver.opened(stop_loss=1_100_000_000)
    outcome = driver.close(position.id)
    trade = ClosedTrade(
        id=position.id,
        user_id="alice",
        asset=BTC,
        side=Side.LONG,
        quantity=1_000_000,
        leverage=10,
        entry_price=BTC_BUY,
        close_price=BTC_SELL,
        margin_cents=11_942,
        pnl_cents=-1_182,
        credited_cents=10_760,
        reason=CloseReason.MANUAL,
        decimal=4,
        opened_at_ms=position.opened_at_ms,
        closed_at_ms=driver.time_ms,
        stop_loss=1_100_000_000,
        take_profit=0,
        liquidation_price=1_074_753_450,
    )
    assert outcome.reply == PositionClosed(trade, balance_cents=998_818)
    assert outcome.closed_trades == (trade,)
    assert driver.state.position(position.id) is None
    assert driver.state.positions_of("alice") == ()
    # the closed position no longer triggers anything
    assert driver.tick(sell=1_000_000_000).closed_trades == ()


def test_positions_are_listed_oldest_first_and_per_user() -> None:
    driver = seeded()
    driver.signup("bob")
    first = driver.opened()
    bobs = driver.opened(user="bob")
    second = driver.opened(side=Side.SHORT)
    third = driver.opened(leverage=2)
    driver.closed(second.id)
    assert driver.state.positions_of("alice") == (first, third)
    assert driver.state.positions_of("bob") == (bobs,)
    assert driver.state.positions_of("nobody") == ()
    assert [p.sequence for p in (first, bobs, second, third)] == [1, 2, 3, 4]


def test_account_summary_equity_is_what_closing_everything_would_leave() -> None:
    driver = seeded()
    winner = driver.opened(side=Side.SHORT, leverage=10)  # margin $118.24
    loser = driver.opened(leverage=1)  # margin $1,194.17, never liquidated
    driver.tick(buy=600_000_000, sell=590_000_000)  # BTC halves
    # (118,234.5 - 60,000) x 0.01 = $582.345 -> $582.34 (half-to-even)
    assert driver.state.valuation(winner) == (600_000_000, 58_234)
    # (59,000 - 119,416.845) x 0.01 = -$604.16845 -> -$604.17
    assert driver.state.valuation(loser) == (590_000_000, -60_417)
    balance = 1_000_000 - 11_824 - 119_417
    summary = driver.state.account_summary("alice")
    assert summary == AccountSummary(
        balance_cents=balance,
        used_margin_cents=11_824 + 119_417,
        unrealized_pnl_cents=58_234 - 60_417,
        equity_cents=balance + (11_824 + 58_234) + (119_417 - 60_417),
        open_positions=2,
    )
    driver.closed(winner.id)
    assert driver.closed(loser.id).balance_cents == summary.equity_cents
    assert driver.state.account_summary("nobody") is None


def test_reads_of_unknown_things_are_empty() -> None:
    driver = Driver()
    assert driver.state.account("alice") is None
    assert driver.state.position("pos-1") is None
    assert driver.state.quote(BTC) is None
    assert (driver.state.account_count, driver.state.open_position_count, driver.state.idempotency_key_count) == (
        0,
        0,
        0,
    )


def test_account_read() -> None:
    driver = Driver()
    driver.signup(balance=123)
    assert driver.state.account("alice") == Account("alice", "alice@example.com", 123, START_MS + 1)


def test_maintenance_rate_moves_the_liquidation_level_and_leaves_the_rest() -> None:
    driver = seeded(Rules(assets=default_rules().assets, maintenance_margin_rate=Fraction(1, 200)))
    position = driver.opened(leverage=10)
    # maintenance $1,194.16845 x 0.5% = $5.97084225 -> $5.98; room $119.42 - $5.98 = $113.44 of loss, and a
    # loss of $113.435 already rounds (half-to-even) to $113.44: 119,416.845 - 11,343.5 = 108,073.345
    assert (position.maintenance_cents, position.liquidation_price) == (598, 1_080_733_450)
    assert driver.tick(buy=1_091_535_735, sell=1_080_733_451).closed_trades == ()
    (trade,) = driver.tick(buy=1_091_535_735, sell=1_080_733_450).closed_trades
    # (108,073.345 - 119,416.845) x 0.01 = -$113.435 -> -$113.44: what is left is the maintenance
    assert (trade.reason, trade.pnl_cents, trade.credited_cents) == (CloseReason.LIQUIDATION, -11_344, 598)


def test_maintenance_that_swallows_the_margin_refuses_the_order() -> None:
    driver = seeded(Rules(assets=default_rules().assets, maintenance_margin_rate=Fraction(1, 100)))
    # 100x: margin $11.95 and maintenance $11.95 (1% of $1,194.16845, rounded up): no room at all
    refused = rejection(driver.open(leverage=100))
    assert refused.reason is RejectReason.IMMEDIATE_LIQUIDATION
    assert driver.opened(leverage=50).maintenance_cents == 1_195


def test_leverage_cap_comes_from_the_rules() -> None:
    driver = seeded(Rules(assets=default_rules().assets, max_leverage=20))
    assert rejection(driver.open(leverage=21)).message == "leverage must be a whole number from 1 to 20; got 21"
    driver.opened(leverage=20)


def test_a_1x_long_is_liquidated_only_where_its_rounded_loss_takes_the_whole_margin() -> None:
    driver = seeded()
    position = driver.opened(leverage=1)
    # margin $1,194.17 (rounded up); at 0.3449 the loss $1,194.165001 rounds to $1,194.17, at 0.3450 it is
    # exactly $1,194.165, which rounds half-to-even to $1,194.16 (a cent is left)
    assert position.liquidation_price == 3_449
    assert driver.tick(buy=3_451, sell=3_450).closed_trades == ()
    (trade,) = driver.tick(buy=3_450, sell=3_449).closed_trades
    assert (trade.reason, trade.pnl_cents, trade.credited_cents) == (CloseReason.LIQUIDATION, -119_417, 0)


def test_a_1x_long_whose_level_would_be_at_or_below_zero_is_never_liquidated() -> None:
    driver = seeded()
    driver.signup("whale", balance=10**12)
    # 50 BTC at 1x: margin exactly $5,970,842.25; a price unit is worth half a cent, so even at 0.0001 the
    # loss $5,970,842.245 rounds (half-to-even) to $5,970,842.24: no positive price takes the whole margin
    position = driver.opened(user="whale", quantity=5_000_000_000, leverage=1)
    assert (position.margin_cents, position.liquidation_price) == (597_084_225, 0)
    assert driver.tick(buy=2, sell=1).closed_trades == ()
    closed = driver.closed(position.id, user="whale")
    assert (closed.trade.pnl_cents, closed.trade.credited_cents) == (-597_084_224, 1)


def test_slippage_within_bounds_fills_at_the_market_not_at_the_expected_price() -> None:
    driver = seeded()
    position = driver.opened(trade_opening_price=BTC_SELL, slippage_bps=100)  # exactly 1.00% away
    assert position.entry_price == BTC_BUY
    exact = driver.opened(trade_opening_price=BTC_BUY, slippage_bps=0)
    assert exact.entry_price == BTC_BUY


def test_quote_read_carries_its_stream_time() -> None:
    driver = seeded()
    assert driver.state.quote(BTC) == LatestQuote(BTC, BTC_BUY, BTC_SELL, 4, START_MS + 2)


def test_balance_may_be_spent_to_the_last_cent() -> None:
    driver = seeded()
    driver.signup("bob", balance=11_942)
    outcome = driver.open(user="bob", leverage=10)
    assert isinstance(outcome.reply, PositionOpened) and outcome.reply.balance_cents == 0
    assert rejection(driver.open(user="bob", quantity=1_000)).reason is RejectReason.INSUFFICIENT_BALANCE
