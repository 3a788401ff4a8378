"""The liquidation level is exactly where the liquidation condition starts to hold.

The condition is `margin + pnl <= maintenance` with the PnL rounded half-to-even to the cent, as a close
rounds it. Its level is fixed at open and is what both the trigger index (on every tick) and the
immediate-liquidation check (at open) compare prices with, so the two must agree with the condition at
every price: the properties below check that over random price scales, prices, quantities, leverages and
maintenance rates, on both sides, through the real trigger index and through `TradingState`."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain import (
    AssetSpec,
    CloseReason,
    Position,
    PositionOpened,
    RejectReason,
    Rules,
    Side,
    money,
)
from engine.domain.triggers import AssetTriggers
from mesh.units import MAX_DECIMAL
from tests.unit.engine.domain.helpers import SOL, Driver, rejection

SOL_RULES = Rules(assets={SOL: AssetSpec(SOL, 4, 1_000_000), "BTC_USDC": AssetSpec("BTC_USDC", 4, 1_000)})

decimals = st.integers(0, MAX_DECIMAL)
entries = st.integers(1, 10**15)
# 10^-8 units up to 10^7 units of the base asset
quantities = st.integers(1, 10**15)
leverages = st.integers(1, 1_000)
rates = st.fractions(min_value=0, max_value=Fraction(999, 1_000)) | st.sampled_from((Fraction(0), Fraction(1, 200)))


def _condition(side: Side, entry: int, price: int, quantity: int, margin: int, maintenance: int, decimal: int) -> bool:
    """The contract's liquidation condition at a closing-side price, straight from its definition."""
    return margin + money.pnl_cents(side, entry, price, quantity, decimal) <= maintenance


def _index_fires(position: Position, price: int) -> bool:
    """Whether the real trigger index closes the position for liquidation at this closing-side price."""
    triggers = AssetTriggers()
    triggers.add(position)
    # the other side's price is set so it can trigger nothing
    buy, sell = (10**40, price) if position.side is Side.LONG else (price, 1)
    return [reason for _, reason in triggers.crossed(buy, sell)] == [CloseReason.LIQUIDATION]


def _position(
    side: Side, entry: int, quantity: int, margin: int, maintenance: int, level: int, decimal: int
) -> Position:
    return Position("p", "u", "A", side, quantity, 1, entry, margin, maintenance, level, 0, 0, decimal, 0, 1)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(Side), decimals, entries, quantities, leverages, rates, st.integers(1, 10**16), st.data())
def test_the_index_fires_exactly_where_the_condition_holds(
    side: Side,
    decimal: int,
    entry: int,
    quantity: int,
    leverage: int,
    rate: Fraction,
    price: int,
    data: st.DataObject,
) -> None:
    margin = money.margin_cents(entry, quantity, leverage, decimal)
    maintenance = money.maintenance_cents(entry, quantity, rate, decimal)
    level = money.liquidation_price(side, entry, quantity, margin, maintenance, decimal)
    position = _position(side, entry, quantity, margin, maintenance, level, decimal)
    # a random price, the prices around the level, and prices near the entry (where a small position's
    # level usually sits far away and a large one's close by)
    near = data.draw(st.integers(-3, 3))
    for candidate in {price, level - 1, level, level + 1, entry + near, max(1, level * 2), 1}:
        if candidate >= 1:
            assert _index_fires(position, candidate) is _condition(
                side, entry, candidate, quantity, margin, maintenance, decimal
            ), (candidate, level)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(Side), decimals, entries, quantities, leverages, rates)
def test_the_level_is_the_first_price_of_the_condition(
    side: Side, decimal: int, entry: int, quantity: int, leverage: int, rate: Fraction
) -> None:
    """LONG: the highest price that liquidates (0 when none does); SHORT: the lowest (1 when all do)."""
    margin = money.margin_cents(entry, quantity, leverage, decimal)
    maintenance = money.maintenance_cents(entry, quantity, rate, decimal)
    level = money.liquidation_price(side, entry, quantity, margin, maintenance, decimal)

    def holds(price: int) -> bool:
        return _condition(side, entry, price, quantity, margin, maintenance, decimal)

    if side is Side.LONG:
        assert level >= 0
        assert not holds(level + 1)
        assert level == 0 or holds(level)
    else:
        assert level >= 1
        assert holds(level)
        assert level == 1 or not holds(level - 1)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(Side),
    st.integers(0, 8),
    st.integers(1, 10**9),
    st.integers(0, 500),
    st.integers(1, 10_000),
    st.integers(1, 100),
    rates,
)
def test_an_order_opens_exactly_when_the_condition_does_not_hold_at_its_fill(
    side: Side, decimal: int, sell: int, spread: int, units: int, leverage: int, rate: Fraction
) -> None:
    """The immediate-liquidation check at open and the condition agree, whatever the spread."""
    buy = sell + spread
    rules = Rules(assets={"X": AssetSpec("X", decimal, 1)}, maintenance_margin_rate=rate)
    driver = Driver(rules)
    driver.signup(balance=10**30)
    driver.tick(asset="X", buy=buy, sell=sell, decimal=decimal)
    entry, closing = (buy, sell) if side is Side.LONG else (sell, buy)
    margin = money.margin_cents(entry, units, leverage, decimal)
    maintenance = money.maintenance_cents(entry, units, rate, decimal)
    outcome = driver.open(asset="X", side=side, quantity=units, leverage=leverage, slippage_bps=0)
    if _condition(side, entry, closing, units, margin, maintenance, decimal):
        assert rejection(outcome).reason is RejectReason.IMMEDIATE_LIQUIDATION
    else:
        assert isinstance(outcome.reply, PositionOpened), outcome.reply


def test_issue_example_sol_long_100x_survives_at_its_old_level() -> None:
    """5,000 SOL LONG 100x from buy 150.0090: notional $750,045.00, margin $7,500.45. At sell 148.5090 the
    loss is 0.0150 x 5,000 = $7,500.00: 45 cents of margin are left and the position must stay open (the
    old level, rounded towards the entry, liquidated it there). At 148.5089 the loss is $7,500.50."""
    driver = Driver(SOL_RULES)
    driver.signup(balance=1_000_000)
    driver.tick(asset=SOL, buy=1_500_090, sell=1_485_100)
    position = driver.opened(asset=SOL, quantity=500_000_000_000, leverage=100)
    assert (position.margin_cents, position.liquidation_price) == (750_045, 1_485_089)
    assert driver.tick(asset=SOL, buy=1_500_090, sell=1_485_090).closed_trades == ()
    (trade,) = driver.tick(asset=SOL, buy=1_500_090, sell=1_485_089).closed_trades
    assert (trade.reason, trade.pnl_cents, trade.credited_cents) == (CloseReason.LIQUIDATION, -750_050, 0)


def test_issue_example_sol_short_mirrored() -> None:
    """The mirror: 5,000 SOL SHORT 100x from sell 150.0090, margin $7,500.45. Buying back at 151.5090 loses
    $7,500.00 (45 cents left, stays open); at 151.5091 it loses $7,500.50 (liquidated)."""
    driver = Driver(SOL_RULES)
    driver.signup(balance=1_000_000)
    driver.tick(asset=SOL, buy=1_500_190, sell=1_500_090)
    position = driver.opened(asset=SOL, side=Side.SHORT, quantity=500_000_000_000, leverage=100)
    assert (position.margin_cents, position.liquidation_price) == (750_045, 1_515_091)
    assert driver.tick(asset=SOL, buy=1_515_090, sell=1_500_090).closed_trades == ()
    (trade,) = driver.tick(asset=SOL, buy=1_515_091, sell=1_500_090).closed_trades
    assert (trade.reason, trade.pnl_cents, trade.credited_cents) == (CloseReason.LIQUIDATION, -750_050, 0)


def test_issue_example_tiny_btc_long_100x_is_refused_at_open() -> None:
    """0.00001 BTC LONG 100x, buy 70,700 / sell 70,000: margin ceil(0.707 cents) = 1 cent; closing at once
    loses 0.7 cents, which rounds to 1 cent, so margin + pnl = 0 at the fill: liquidated as it opens."""
    driver = Driver(SOL_RULES)
    driver.signup()
    driver.tick(buy=707_000_000, sell=700_000_000)
    refused = rejection(driver.open(quantity=1_000, leverage=100))
    assert refused.reason is RejectReason.IMMEDIATE_LIQUIDATION
    assert "liquidation price 70199.9999" in refused.message
    assert driver.balance() == 1_000_000
