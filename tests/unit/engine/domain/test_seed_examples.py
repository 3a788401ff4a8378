"""The seed's worked examples (docs/contract.md §8), recomputed with the contract's
rules: integer cents, buy = ask x 1.01 rounded up, sell = bid, PnL without the seed's extra leverage
factor, liquidation on the closing side. Every expected number is worked out by hand in the comments.

Quotes at price scale 4. The seed only reads the ask, so the bid is taken equal to it (a locked book),
which is what the seed's own sellPrice amounts to:
  BTC ask/bid "118234.5" -> sell 1_182_345_000, buy 1_182_345_000 x 1.01 = 1_194_168_450
  ETH ask/bid "3456.78"  -> sell    34_567_800, buy    34_567_800 x 1.01 =    34_913_478
  SOL ask/bid "187.23"   -> sell     1_872_300, buy     1_872_300 x 1.01 =     1_891_023
"""

from __future__ import annotations

from engine.domain import CloseReason, PositionOpened, Side

from .helpers import BTC, BTC_BUY, BTC_SELL, ETH, SOL, seeded

ETH_BUY, ETH_SELL = 34_913_478, 34_567_800
SOL_BUY, SOL_SELL = 1_891_023, 1_872_300


def test_long_btc_10x_round_trip() -> None:
    driver = seeded()
    opened = driver.open(quantity=1_000_000, leverage=10).reply  # 0.01 BTC
    assert isinstance(opened, PositionOpened)
    position = opened.position
    # notional 0.01 x $119,416.8450 = $1,194.16845; margin / 10 = $119.416845 -> $119.42
    assert (position.entry_price, position.margin_cents) == (BTC_BUY, 11_942)
    # $10,000.00 - $119.42 (the seed: 9880.5832 float dollars)
    assert opened.balance_cents == 988_058
    # the contract's room $119.42 / 0.01 BTC = $11,942 below the entry gives 107,474.8450, but a cent of PnL
    # is $1 of price here and a loss of $119.415 already rounds half-to-even to $119.42, the whole margin:
    # the first price that liquidates is 119,416.8450 - 11,941.5 = 107,475.3450
    assert position.liquidation_price == 1_074_753_450

    closed = driver.closed(position.id)
    # (118,234.5 - 119,416.845) x 0.01 = -$11.82345 -> -$11.82 (the seed: -118.23, leverage applied twice)
    assert (closed.trade.close_price, closed.trade.pnl_cents) == (BTC_SELL, -1_182)
    # $119.42 - $11.82 = $107.60 back; balance $9,988.18 (the seed: Math.round to whole dollars, $9,882)
    assert closed.trade.credited_cents == 10_760
    assert closed.balance_cents == 998_818


def test_short_btc_10x_round_trip() -> None:
    driver = seeded()
    position = driver.opened(side=Side.SHORT, quantity=1_000_000, leverage=10)
    # opens at the sell price; notional $1,182.345, margin $118.2345 -> $118.24
    assert (position.entry_price, position.margin_cents) == (BTC_SELL, 11_824)
    # room $11,824 above the entry, less the half cent's worth of price that rounding (-$118.235 -> -$118.24,
    # even) gives away: 118,234.5 + 11,823.5 = 130,058.0
    assert position.liquidation_price == 1_300_580_000
    closed = driver.closed(position.id)
    # closes at the buy price: (118,234.5 - 119,416.845) x 0.01 = -$11.82345 -> -$11.82
    assert (closed.trade.close_price, closed.trade.pnl_cents) == (BTC_BUY, -1_182)
    # $118.24 - $11.82 = $106.42; $10,000 - $118.24 + $106.42 = $9,988.18
    assert (closed.trade.credited_cents, closed.balance_cents) == (10_642, 998_818)


def test_long_liquidation_is_about_one_over_leverage_on_the_sell_side() -> None:
    """The seed liquidated at a 1/L^2 move of the *buy* price (1% at 10x). The contract's level is a
    1/L move of the closing-side price, fixed at open."""
    driver = seeded()
    position = driver.opened(leverage=10)
    # one price unit above the level: nothing happens
    assert driver.tick(buy=1_085_495_937, sell=1_074_753_451).closed_trades == ()
    (trade,) = driver.tick(buy=1_085_495_936, sell=1_074_753_450).closed_trades
    # (107,475.345 - 119,416.845) x 0.01 = -$119.415 -> -$119.42 (even): exactly the margin, nothing comes back
    assert (trade.id, trade.reason, trade.close_price) == (position.id, CloseReason.LIQUIDATION, 1_074_753_450)
    assert (trade.pnl_cents, trade.credited_cents) == (-11_942, 0)
    assert driver.balance() == 988_058


def test_short_liquidation_on_the_buy_side() -> None:
    driver = seeded()
    position = driver.opened(side=Side.SHORT, leverage=10)
    assert driver.tick(buy=1_300_579_999, sell=1_287_707_920).closed_trades == ()
    (trade,) = driver.tick(buy=1_300_580_000, sell=1_287_707_921).closed_trades
    # (118,234.5 - 130,058.0) x 0.01 = -$118.235 -> -$118.24 (even)
    assert (trade.id, trade.reason, trade.pnl_cents, trade.credited_cents) == (
        position.id,
        CloseReason.LIQUIDATION,
        -11_824,
        0,
    )


def test_eth_long_5x_round_trip() -> None:
    driver = seeded()
    driver.tick(asset=ETH, buy=ETH_BUY, sell=ETH_SELL)
    position = driver.opened(asset=ETH, quantity=100_000_000, leverage=5)  # 1 ETH
    # notional $3,491.3478; / 5 = $698.26956 -> $698.27
    assert (position.entry_price, position.margin_cents) == (ETH_BUY, 69_827)
    closed = driver.closed(position.id)
    # (3,456.78 - 3,491.3478) x 1 = -$34.5678 -> -$34.57
    assert (closed.trade.pnl_cents, closed.trade.credited_cents) == (-3_457, 66_370)
    # $10,000 - $698.27 + $663.70
    assert closed.balance_cents == 996_543


def test_sol_short_20x_round_trip() -> None:
    driver = seeded()
    driver.tick(asset=SOL, buy=SOL_BUY, sell=SOL_SELL)
    position = driver.opened(asset=SOL, side=Side.SHORT, quantity=1_000_000_000, leverage=20)  # 10 SOL
    # notional 10 x $187.23 = $1,872.30; / 20 = $93.615 -> $93.62
    assert (position.entry_price, position.margin_cents) == (SOL_SELL, 9_362)
    closed = driver.closed(position.id)
    # (187.23 - 189.1023) x 10 = -$18.723 -> -$18.72
    assert (closed.trade.pnl_cents, closed.trade.credited_cents) == (-1_872, 7_490)
    # $10,000 - $93.62 + $74.90
    assert closed.balance_cents == 998_128


def test_long_btc_profit_is_not_multiplied_by_leverage() -> None:
    driver = seeded()
    position = driver.opened(leverage=10)
    # the market rises: ask/bid 121,000.0 -> buy 122,210.0, sell 121,000.0
    driver.tick(buy=1_222_100_000, sell=1_210_000_000)
    closed = driver.closed(position.id)
    # (121,000 - 119,416.845) x 0.01 = $15.83155 -> $15.83 (the seed would pay $158.32 at 10x)
    assert (closed.trade.pnl_cents, closed.trade.credited_cents) == (1_583, 13_525)
    # $9,880.58 + $135.25
    assert closed.balance_cents == 1_001_583


def test_100x_on_the_seed_quote_survives_the_spread_but_only_just() -> None:
    """At 100x the margin is 1% of the buy-side notional; the 1% spread costs 0.99% of it."""
    driver = seeded()
    position = driver.opened(leverage=100)
    # $11.9416845 -> $11.95 of margin; a loss of $11.945001 rounds to $11.95 (one of $11.945 to $11.94, even):
    # 119,416.845 - 1,194.5001 = 118,222.3449
    assert (position.margin_cents, position.liquidation_price) == (1_195, 1_182_223_449)
    # marked to the bid: -$11.82, equity $10,000 - $11.95 + $0.13
    summary = driver.state.account_summary("alice")
    assert summary is not None
    assert (summary.unrealized_pnl_cents, summary.equity_cents) == (-1_182, 998_818)
    assert driver.state.valuation(position) == (BTC_SELL, -1_182)
    assert position.asset == BTC
