"""Changing an open position: partial closes (hand-computed cents) and stop-loss/take-profit amendments.

The seed's BTC quote throughout: buy 119416.8450, sell 118234.5000 (scale 4). A LONG of 0.01 BTC at 10x
opens at 119416.8450: notional 119416.845 cents, margin ceil(11941.6845) = 11942 cents, maintenance 0
(the default rate), so the free balance is 1,000,000 - 11,942 = 988,058 cents."""

from __future__ import annotations

import json
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain import (
    AmendPosition,
    ClosePosition,
    CloseReason,
    Position,
    PositionAmended,
    PositionClosed,
    PositionOpened,
    RejectReason,
    Rules,
    Side,
    TradingState,
    default_rules,
    money,
    records,
)
from engine.domain.checks import remainder_liquidated
from tests.unit.engine.domain.helpers import BTC_BUY, BTC_SELL, SOL, rejection, seeded
from tests.unit.engine.domain.test_liquidation import _condition, _index_fires

DOLLAR = 10_000  # one dollar at price scale 4


def _partial(driver, position_id: str, quantity: int, **kwargs) -> PositionClosed:  # type: ignore[no-untyped-def]
    reply = driver.close(position_id, quantity=quantity, **kwargs).reply
    assert isinstance(reply, PositionClosed), reply
    return reply


# ------------------------------------------------------------------------------------ partial close


def test_a_partial_close_is_a_trade_of_its_own_and_the_rest_keeps_entry_and_levels() -> None:
    driver = seeded()
    position = driver.opened(stop_loss=BTC_SELL - 1_000 * DOLLAR, take_profit=BTC_SELL + 1_000 * DOLLAR)
    assert (position.margin_cents, driver.balance()) == (11_942, 988_058)

    reply = _partial(driver, position.id, 400_000)  # 0.004 of 0.01 BTC

    trade, rest = reply.trade, reply.remaining
    assert rest is not None
    # the closed part: its id names the position and the entry that closed it
    assert trade.id == f"{position.id}:{driver.time_ms}-{driver.entries}"
    assert (trade.quantity, trade.entry_price, trade.close_price) == (400_000, BTC_BUY, BTC_SELL)
    # released margin floor(11942 * 0.4) = floor(4776.8) = 4776; the rest keeps ceil(11942 * 0.6) = 7166
    assert (trade.margin_cents, rest.margin_cents) == (4_776, 7_166)
    # PnL (118234.5 - 119416.845) * 0.004 = -472.938 -> -473 cents; credited 4776 - 473 = 4303
    assert (trade.pnl_cents, trade.credited_cents, trade.reason) == (-473, 4_303, CloseReason.MANUAL)
    assert reply.balance_cents == driver.balance() == 988_058 + 4_303
    # loss room of the rest floor(11942 * 0.6) = 7165, so its maintenance is 7166 - 7165 = 1 cent
    assert (rest.quantity, rest.maintenance_cents) == (600_000, 1)
    # level: entry + floor((-7165 * 10^10 + 5 * 10^9 - 1) / 600000) = 119416.8450 - 11940.8334; before:
    # entry + (-11942 * 10^10 + 5 * 10^9) / 10^6 = 119416.8450 - 11941.5000 (the rest's is higher: safer)
    assert (rest.liquidation_price, position.liquidation_price) == (1_074_760_116, 1_074_753_450)
    assert rest == position._replace(
        quantity=600_000, margin_cents=7_166, maintenance_cents=1, liquidation_price=1_074_760_116
    )
    assert driver.state.positions_of("alice") == (rest,)
    assert driver.state.account_summary("alice").used_margin_cents == 7_166  # type: ignore[union-attr]
    # the trade carries the levels the position had when it was closed
    assert (trade.stop_loss, trade.take_profit, trade.liquidation_price) == (
        position.stop_loss, position.take_profit, position.liquidation_price,
    )  # fmt: skip


def test_partial_closes_down_to_nothing_conserve_money_exactly() -> None:
    driver = seeded()
    position = driver.opened(quantity=1_000, leverage=3)  # 0.00001 BTC: margin ceil(119.416845 / 3) = 40
    assert position.margin_cents == 40
    driver.signup("bob")
    big = driver.opened(user="bob", quantity=7_000, side=Side.SHORT)  # 7 steps of 0.00001
    margins = [big.margin_cents]
    credited = []
    for _ in range(6):
        reply = _partial(driver, big.id, 1_000, user="bob")
        assert reply.remaining is not None
        credited.append(reply.trade)
        margins.append(reply.remaining.margin_cents)
    final = driver.closed(big.id, user="bob")
    assert final.remaining is None and final.trade.id == big.id  # the final close keeps the position id
    released = [t.margin_cents for t in credited] + [final.trade.margin_cents]
    assert sum(released) == big.margin_cents
    assert driver.balance("bob") == 1_000_000 + sum(t.credited_cents - t.margin_cents for t in [*credited, final.trade])
    assert driver.state.positions_of("bob") == ()
    assert driver.state.positions_of("alice") == (position,)


def test_closing_the_whole_quantity_is_a_full_close() -> None:
    driver = seeded()
    position = driver.opened()
    reply = _partial(driver, position.id, position.quantity)
    assert reply.remaining is None and reply.trade.id == position.id
    assert reply.trade.margin_cents == 11_942 and driver.state.positions_of("alice") == ()


def test_a_bad_partial_quantity_is_refused_and_changes_nothing() -> None:
    driver = seeded()
    driver.signup("bob")
    position = driver.opened()
    before = driver.state.state_hash()
    for quantity in (position.quantity + 1_000, 1_500, -1_000):
        assert rejection(driver.close(position.id, quantity=quantity)).reason is RejectReason.INVALID_QUANTITY
    assert "holds 0.01" in rejection(driver.close(position.id, quantity=2_000_000)).message
    assert rejection(driver.close("pos-nope", quantity=1_000)).reason is RejectReason.POSITION_NOT_FOUND
    assert rejection(driver.close(position.id, "bob", quantity=1_000)).reason is RejectReason.POSITION_NOT_FOUND
    assert rejection(driver.close(position.id, quantity=1_000, advance_ms=6_000)).reason is RejectReason.PRICE_STALE
    assert driver.state.state_hash() == before
    assert driver.state.positions_of("alice") == (position,)


def test_the_rest_is_liquidated_at_its_recomputed_level_through_the_index() -> None:
    driver = seeded()
    position = driver.opened(leverage=100)  # margin ceil(1194.16845) = 1195 cents
    rest = _partial(driver, position.id, 300_000).remaining
    assert rest is not None
    level = rest.liquidation_price
    assert level >= position.liquidation_price
    assert driver.tick(buy=level + 10 * DOLLAR, sell=level + 1).closed_trades == ()
    (trade,) = driver.tick(buy=level + 10 * DOLLAR, sell=level).closed_trades
    assert (trade.id, trade.reason, trade.quantity) == (position.id, CloseReason.LIQUIDATION, 700_000)
    assert trade.credited_cents == max(0, rest.margin_cents + trade.pnl_cents)


def test_a_partial_close_that_would_leave_the_rest_liquidatable_is_refused() -> None:
    rest = Position("p", "u", "BTC_USDC", Side.LONG, 1_000, 10, BTC_BUY, 100, 10, BTC_SELL, 0, 0, 4, 0, 1)
    refused = remainder_liquidated(rest, BTC_SELL)
    assert refused is not None and refused.reason is RejectReason.IMMEDIATE_LIQUIDATION
    assert remainder_liquidated(rest, BTC_SELL + 1) is None
    short = rest._replace(side=Side.SHORT, liquidation_price=BTC_BUY)
    assert remainder_liquidated(short, BTC_BUY - 1) is None
    assert remainder_liquidated(short, BTC_BUY) is not None


def test_an_idempotent_partial_close_retry_closes_once() -> None:
    driver = seeded()
    position = driver.opened()
    first = _partial(driver, position.id, 500_000, key="half")
    again = _partial(driver, position.id, 500_000, key="half")
    assert again == first and driver.balance() == first.balance_cents
    assert rejection(driver.close(position.id, quantity=200_000, key="half")).reason is (
        RejectReason.IDEMPOTENCY_KEY_REUSED
    )
    restored = TradingState.restore(driver.rules, json.loads(json.dumps(driver.state.snapshot())))
    assert restored.state_hash() == driver.state.state_hash()


# ------------------------------------------------------------------------------------------- amend


def test_amend_sets_keeps_and_removes_levels_and_reindexes() -> None:
    driver = seeded()
    position = driver.opened(stop_loss=BTC_SELL - 100 * DOLLAR)
    reply = driver.amend(position.id, take_profit=BTC_SELL + 100 * DOLLAR).reply
    assert isinstance(reply, PositionAmended)
    assert (reply.position.stop_loss, reply.position.take_profit) == (BTC_SELL - 100 * DOLLAR, BTC_SELL + 100 * DOLLAR)
    assert reply.balance_cents == driver.balance() == 988_058
    moved = driver.amend(position.id, stop_loss=BTC_SELL - 10 * DOLLAR, take_profit=0).reply
    assert isinstance(moved, PositionAmended)
    assert moved.position == position._replace(stop_loss=BTC_SELL - 10 * DOLLAR, take_profit=0)
    assert driver.state.positions_of("alice") == (moved.position,)
    # the old take-profit no longer fires; the new stop-loss does
    assert driver.tick(buy=BTC_BUY + 200 * DOLLAR, sell=BTC_SELL + 200 * DOLLAR).closed_trades == ()
    (trade,) = driver.tick(buy=BTC_BUY, sell=BTC_SELL - 10 * DOLLAR).closed_trades
    assert (trade.reason, trade.stop_loss, trade.take_profit) == (CloseReason.STOP_LOSS, BTC_SELL - 10 * DOLLAR, 0)


def test_amend_checks_the_levels_against_the_market_now() -> None:
    driver = seeded()
    long = driver.opened()
    short = driver.opened(side=Side.SHORT)
    cases = [
        (long, BTC_SELL, None, RejectReason.INVALID_STOP_LOSS),  # a LONG's stop-loss must be below the sell price
        (long, None, BTC_SELL, RejectReason.INVALID_TAKE_PROFIT),
        (short, BTC_BUY, None, RejectReason.INVALID_STOP_LOSS),  # a SHORT's must be above the buy price
        (short, None, BTC_BUY, RejectReason.INVALID_TAKE_PROFIT),
        (long, -1, None, RejectReason.INVALID_STOP_LOSS),
        (long, None, -1, RejectReason.INVALID_TAKE_PROFIT),
    ]
    for position, stop_loss, take_profit, reason in cases:
        assert rejection(driver.amend(position.id, stop_loss, take_profit)).reason is reason
    assert "below the current sell price 118234.5" in rejection(driver.amend(long.id, BTC_SELL)).message
    # after the market moved, the same level is on the right side
    driver.tick(buy=BTC_BUY + 10 * DOLLAR, sell=BTC_SELL + 10 * DOLLAR)
    assert isinstance(driver.amend(long.id, BTC_SELL).reply, PositionAmended)
    assert rejection(driver.amend("pos-x", 0)).reason is RejectReason.POSITION_NOT_FOUND
    driver.signup("bob")
    assert rejection(driver.amend(long.id, 0, user="bob")).reason is RejectReason.POSITION_NOT_FOUND
    assert rejection(driver.amend(long.id, 0, advance_ms=6_000)).reason is RejectReason.PRICE_STALE


def test_an_idempotent_amend_retry_returns_the_first_reply() -> None:
    driver = seeded()
    position = driver.opened()
    first = driver.amend(position.id, take_profit=BTC_SELL + DOLLAR, key="tp").reply
    assert isinstance(first, PositionAmended)
    assert driver.amend(position.id, take_profit=BTC_SELL + DOLLAR, key="tp").reply == first
    assert rejection(driver.amend(position.id, take_profit=0, key="tp")).reason is RejectReason.IDEMPOTENCY_KEY_REUSED
    restored = TradingState.restore(driver.rules, json.loads(json.dumps(driver.state.snapshot())))
    assert restored.state_hash() == driver.state.state_hash()
    assert restored.positions_of("alice") == driver.state.positions_of("alice")


# ------------------------------------------------------------------------------ the rounding rule


@settings(max_examples=500, deadline=None)
@given(
    st.integers(0, 8),
    st.integers(1, 10**12),
    st.integers(2, 10**12),
    st.data(),
    st.integers(1, 1_000),
    st.fractions(min_value=0, max_value=Fraction(1, 10)),
    st.sampled_from(Side),
)
def test_the_rest_is_at_least_as_margined_required_and_protected(
    decimal: int, entry: int, quantity: int, data: st.DataObject, leverage: int, rate: Fraction, side: Side
) -> None:
    closed = data.draw(st.integers(1, quantity - 1))
    rest = quantity - closed
    margin = money.margin_cents(entry, quantity, leverage, decimal)
    maintenance = money.maintenance_cents(entry, quantity, rate, decimal)
    kept_margin, kept_maintenance = money.split_for_partial_close(margin, maintenance, closed, quantity)
    assert margin * rest <= kept_margin * quantity and kept_margin <= margin
    assert kept_margin >= money.margin_cents(entry, rest, leverage, decimal)
    assert kept_maintenance * quantity >= maintenance * rest
    assert kept_maintenance >= money.maintenance_cents(entry, rest, rate, decimal)
    before = money.liquidation_price(side, entry, quantity, margin, maintenance, decimal)
    after = money.liquidation_price(side, entry, rest, kept_margin, kept_maintenance, decimal)
    assert after >= before if side is Side.LONG else after <= before
    # and the recomputed level is exact for the rest: the index fires there and not one step before
    position = Position("p", "u", "A", side, rest, 1, entry, kept_margin, kept_maintenance, after, 0, 0, decimal, 0, 1)
    for price in {max(1, after - 1), after, after + 1}:
        assert _index_fires(position, price) == _condition(
            side, entry, price, rest, kept_margin, kept_maintenance, decimal
        ) or (side is Side.LONG and after == 0)


def test_rules_with_a_maintenance_rate_split_by_the_same_rule() -> None:
    rules = Rules(assets=default_rules().assets, maintenance_margin_rate=Fraction(1, 200))
    driver = seeded(rules)
    position = driver.opened()  # maintenance ceil(119416.845 / 200) = ceil(597.084225) = 598
    assert position.maintenance_cents == 598
    rest = _partial(driver, position.id, 250_000).remaining
    assert rest is not None
    # margin ceil(11942 * 0.75) = ceil(8956.5) = 8957; room floor(11344 * 0.75) = 8508; maintenance 449
    assert (rest.margin_cents, rest.maintenance_cents) == (8_957, 449)


def test_amend_levels_in_a_finer_scale_must_be_exact_at_the_positions() -> None:
    driver = seeded()
    position = driver.opened()
    # 118000.1234 stated at scale 8 (the gateway's finest) is 118000.1234 at the position's scale 4
    reply = driver.apply(AmendPosition("alice", position.id, 11_800_012_340_000, None, 8)).reply
    assert isinstance(reply, PositionAmended) and reply.position.stop_loss == 1_180_001_234
    refused = rejection(driver.apply(AmendPosition("alice", position.id, None, 12_000_012_345_000, 8)))
    assert refused.reason is RejectReason.INVALID_TAKE_PROFIT
    assert refused.message == (
        "the take-profit 120000.12345000 has more decimals than the price scale of the position (4)"
    )
    assert rejection(driver.apply(AmendPosition("alice", position.id, 1, None, 19))).reason is (
        RejectReason.INVALID_COMMAND
    )
    # a coarser stated scale is exact too: 120000.00 at scale 2 (scale 0 means "the position's")
    reply = driver.apply(AmendPosition("alice", position.id, None, 12_000_000, 2)).reply
    assert isinstance(reply, PositionAmended) and reply.position.take_profit == 1_200_000_000


def test_rows_of_a_close_of_all_keep_the_shape_earlier_engines_wrote() -> None:
    """A snapshot's remembered commands and replies: a close of all and its reply are the three-value rows
    of today's format (so nothing already written changes), a partial close and an amendment add theirs."""
    driver = seeded()
    position = driver.opened()
    whole = driver.closed(position.id)
    assert records.encode_command(ClosePosition("alice", position.id)) == ["ClosePosition", "alice", position.id]
    assert records.decode_command(["ClosePosition", "alice", position.id]) == ClosePosition("alice", position.id, 0)
    assert len(records.encode_reply(whole)) == 3
    assert records.decode_reply(json.loads(json.dumps(records.encode_reply(whole)))) == whole
    partial = ClosePosition("alice", position.id, 1_000)
    assert records.decode_command(json.loads(json.dumps(records.encode_command(partial)))) == partial
    amend = AmendPosition("alice", position.id, None, 0, 8)
    assert records.decode_command(json.loads(json.dumps(records.encode_command(amend)))) == amend


def test_a_partial_close_is_refused_when_the_rest_would_be_at_its_tighter_level_now() -> None:
    """SOL LONG 0.02 at $100.0000, 50x: margin ceil(200 / 50) = 4 cents; level entry + floor((-4 * 10^10 +
    5 * 10^9) / 2 * 10^6) = 98.2500. At sell 98.4000 its PnL is -3.2 -> -3 cents: 4 - 3 > 0, it lives.
    Half of it would keep margin 2 and room 2, level entry + floor(-1.5 * 10^10 / 10^6) = 98.5000: at
    98.4000 the rest's PnL -1.6 -> -2 leaves 2 - 2 <= 0, so it would already be liquidatable."""
    driver = seeded()
    driver.tick(asset=SOL, buy=1_000_000, sell=999_000)
    position = driver.opened(asset=SOL, quantity=2_000_000, leverage=50)
    assert (position.margin_cents, position.liquidation_price) == (4, 982_500)
    assert driver.tick(asset=SOL, buy=990_000, sell=984_000).closed_trades == ()
    before = driver.state.state_hash()
    refused = rejection(driver.close(position.id, quantity=1_000_000))
    assert refused.reason is RejectReason.IMMEDIATE_LIQUIDATION
    assert "liquidation level 98.5000 at the current price 98.4000" in refused.message
    assert driver.state.state_hash() == before
    # closing all of it is always possible
    assert driver.closed(position.id).trade.credited_cents == 1


# ------------------------------------------------------------------ closing in parts never pays more


@settings(max_examples=150, deadline=None)
@given(
    side=st.sampled_from([Side.LONG, Side.SHORT]),
    steps=st.integers(2, 400),
    leverage=st.integers(1, 100),
    move=st.integers(-30_000, 30_000),
    parts=st.lists(st.integers(1, 40), min_size=1, max_size=60),
)
def test_closing_in_parts_never_credits_more_than_closing_whole(
    side: Side, steps: int, leverage: int, move: int, parts: list[int]
) -> None:
    """A review farmed the per-part rounding: 0.00001 BTC parts of a losing position each rounded their loss
    and their released margin to 0, so thousands of parts closed a loss for free. At any one price, the parts
    plus the rest closed at the end must credit at most what closing all of it at once credits."""
    step = 1_000  # 0.00001 BTC
    whole, split = seeded(), seeded()
    buy, sell = BTC_BUY + move * 100, BTC_SELL + move * 100
    opened = []
    for driver in (whole, split):
        reply = driver.open(side=side, quantity=steps * step, leverage=leverage).reply
        if not isinstance(reply, PositionOpened):
            return  # e.g. refused as immediately liquidated: nothing to split
        opened.append(reply.position)
        driver.tick(buy=buy, sell=sell)
    if any(not driver.state.positions_of("alice") for driver in (whole, split)):
        return  # liquidated by the tick itself
    start = split.balance()
    whole_credit = whole.closed(opened[0].id).trade.credited_cents
    position_id, left = opened[1].id, steps * step
    for part in parts:
        quantity = part * step
        if quantity >= left:
            break
        reply = split.close(position_id, quantity=quantity).reply
        if isinstance(reply, PositionClosed):
            assert reply.trade.credited_cents >= 0
            left -= quantity
    split.closed(position_id)
    assert split.balance() - start <= whole_credit
