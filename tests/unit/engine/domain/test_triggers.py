"""Price ticks: stop-loss, take-profit and liquidation trigger on the closing-side price and fill at the
market; reasons and close order are deterministic; malformed quotes are skipped, an update quoting one
asset twice is refused whole; quotes are rescaled."""

from __future__ import annotations

import pytest

from engine.domain import CloseReason, LatestQuote, PriceUpdate, Quote, RejectReason, Side

from .helpers import BTC, BTC_BUY, BTC_SELL, ETH, rejection, seeded

LONG_SL, LONG_TP = BTC_SELL - 10_000, BTC_SELL + 10_000
SHORT_SL, SHORT_TP = BTC_BUY + 10_000, BTC_BUY - 10_000

# (label, side, tick buy, tick sell, expected reason or None); every position carries both a stop-loss
# and a take-profit 1.0000 away from the closing-side price, at leverage 10.
TRIGGERS: list[tuple[str, Side, int, int, CloseReason | None]] = [
    ("LONG SL: sell at the level", Side.LONG, BTC_BUY, LONG_SL, CloseReason.STOP_LOSS),
    ("LONG SL: sell gaps through it", Side.LONG, BTC_BUY, LONG_SL - 5_000_000, CloseReason.STOP_LOSS),
    ("LONG SL: sell one unit above", Side.LONG, BTC_BUY, LONG_SL + 1, None),
    ("LONG TP: sell at the level", Side.LONG, LONG_TP + 5_000, LONG_TP, CloseReason.TAKE_PROFIT),
    ("LONG TP: sell gaps through it", Side.LONG, LONG_TP + 99_999, LONG_TP + 12_345, CloseReason.TAKE_PROFIT),
    ("LONG TP: the buy price alone is not enough", Side.LONG, LONG_TP + 99_999, LONG_TP - 1, None),
    ("SHORT SL: buy at the level", Side.SHORT, SHORT_SL, BTC_SELL, CloseReason.STOP_LOSS),
    ("SHORT SL: buy gaps through it", Side.SHORT, SHORT_SL + 7_777_777, BTC_SELL, CloseReason.STOP_LOSS),
    ("SHORT SL: buy one unit below", Side.SHORT, SHORT_SL - 1, BTC_SELL, None),
    ("SHORT SL: the sell price alone is not enough", Side.SHORT, SHORT_SL - 1, SHORT_SL - 1, None),
    ("SHORT TP: buy at the level", Side.SHORT, SHORT_TP, SHORT_TP - 5_000, CloseReason.TAKE_PROFIT),
    ("SHORT TP: buy one unit above", Side.SHORT, SHORT_TP + 1, SHORT_TP - 5_000, None),
    # leverage 10: the LONG's liquidation level is 107,475.3450, the SHORT's 130,058.0000
    ("LONG below both SL and liquidation", Side.LONG, 1_074_753_451, 1_074_753_450, CloseReason.LIQUIDATION),
    ("SHORT above both SL and liquidation", Side.SHORT, 1_300_580_000, 1_300_000_000, CloseReason.LIQUIDATION),
]


@pytest.mark.parametrize(
    ("side", "buy", "sell", "reason"), [case[1:] for case in TRIGGERS], ids=[case[0] for case in TRIGGERS]
)
def test_triggers_fire_on_the_closing_side_and_fill_at_market(
    side: Side, buy: int, sell: int, reason: CloseReason | None
) -> None:
    driver = seeded()
    levels = (LONG_SL, LONG_TP) if side is Side.LONG else (SHORT_SL, SHORT_TP)
    position = driver.opened(side=side, stop_loss=levels[0], take_profit=levels[1])
    balance = driver.balance()
    closed = driver.tick(buy=buy, sell=sell).closed_trades
    if reason is None:
        assert closed == ()
        assert driver.state.position(position.id) == position
        return
    (trade,) = closed
    closing_price = sell if side is Side.LONG else buy
    assert (trade.id, trade.reason, trade.close_price) == (position.id, reason, closing_price)
    assert trade.closed_at_ms == driver.time_ms
    assert driver.balance() == balance + trade.credited_cents
    assert trade.credited_cents == max(0, trade.margin_cents + trade.pnl_cents)
    assert driver.state.open_position_count == 0


def test_stop_loss_below_the_liquidation_level_is_reported_as_liquidation() -> None:
    driver = seeded()
    position = driver.opened(leverage=10, stop_loss=1_000_000_000)  # SL 100,000 < liquidation 107,475.345
    (trade,) = driver.tick(buy=990_000_000, sell=900_000_000).closed_trades
    assert (trade.id, trade.reason, trade.close_price) == (position.id, CloseReason.LIQUIDATION, 900_000_000)
    # a gap far below the level: the loss is capped at the margin
    assert (trade.pnl_cents, trade.credited_cents) == (-29_417, 0)


def test_one_tick_closes_in_open_order_whatever_the_reason() -> None:
    driver = seeded()
    with_stop = driver.opened(leverage=2, stop_loss=1_180_000_000)
    short_with_target = driver.opened(side=Side.SHORT, take_profit=1_170_000_000)
    liquidated = driver.opened(leverage=50)  # margin $23.89: level 119,416.845 - 2,388.5001 = 117,028.3449
    untouched = driver.opened(leverage=2)
    closed = driver.tick(buy=1_160_000_000, sell=1_150_000_000).closed_trades
    assert [(t.id, t.reason) for t in closed] == [
        (with_stop.id, CloseReason.STOP_LOSS),
        (short_with_target.id, CloseReason.TAKE_PROFIT),
        (liquidated.id, CloseReason.LIQUIDATION),
    ]
    assert liquidated.liquidation_price == 1_170_283_449
    assert driver.state.positions_of("alice") == (untouched,)


def test_positions_at_the_same_level_all_fire() -> None:
    driver = seeded()
    same = [driver.opened(stop_loss=LONG_SL) for _ in range(5)]
    other = driver.opened(stop_loss=LONG_SL - 1)
    closed = driver.tick(sell=LONG_SL).closed_trades
    assert [t.id for t in closed] == [p.id for p in same]
    assert driver.state.positions_of("alice") == (other,)


def test_one_update_applies_its_quotes_in_order() -> None:
    driver = seeded()
    driver.tick(asset=ETH, buy=34_913_478, sell=34_567_800)
    eth = driver.opened(asset=ETH, quantity=10_000, stop_loss=34_000_000)
    btc = driver.opened(stop_loss=LONG_SL)
    update = PriceUpdate(
        (
            Quote(ETH, 34_000_001, 33_000_000, 4),
            Quote(BTC, BTC_BUY, LONG_SL, 4),
        )
    )
    outcome = driver.apply(update)
    assert outcome.reply is None
    assert [t.id for t in outcome.closed_trades] == [eth.id, btc.id]
    assert driver.state.quote(ETH) == LatestQuote(ETH, 34_000_001, 33_000_000, 4, driver.time_ms)


@pytest.mark.parametrize(
    ("bad_btc", "skipped"),
    [
        (Quote(BTC, 1_000, 1_001, 4), "the sell price is above the buy price"),
        (Quote(BTC, 0, 0, 4), "prices must be positive"),
        (Quote(BTC, -5, -6, 4), "prices must be positive"),
        (Quote(BTC, 1_000, 900, -1), "decimal -1 outside 0..18"),
        (Quote(BTC, 1_000, 900, 19), "decimal 19 outside 0..18"),
        (Quote(BTC, 10**9, 99, 6), "the sell price rounds to 0 at decimal 4"),
    ],
)
def test_malformed_quotes_are_skipped_and_the_rest_applied(bad_btc: Quote, skipped: str) -> None:
    driver = seeded()
    position = driver.opened(stop_loss=LONG_SL)
    update = PriceUpdate((Quote("DOGE_USDC", 2, 1, 4), bad_btc, Quote(ETH, 34_913_478, 34_567_800, 4)))
    outcome = driver.apply(update)
    assert outcome.skipped_quotes == (
        "quote skipped: asset 'DOGE_USDC' is not traded here",
        f"quote of BTC_USDC skipped: {skipped}",
    )
    assert outcome.closed_trades == ()
    assert driver.state.position(position.id) == position
    btc = driver.state.quote(BTC)
    assert btc is not None and (btc.buy_price, btc.sell_price) == (BTC_BUY, BTC_SELL)
    eth = driver.state.quote(ETH)
    assert eth is not None and eth.received_at_ms == driver.time_ms


@pytest.mark.parametrize(
    "repeated",
    [
        # the first would fire the stop-loss, the second puts the price back: which one wins must not
        # depend on their order, so neither does
        (Quote(BTC, BTC_BUY, LONG_SL - 1, 4), Quote(BTC, BTC_BUY, BTC_SELL, 4)),
        (Quote(BTC, BTC_BUY, BTC_SELL, 4), Quote(BTC, BTC_BUY, LONG_SL - 1, 4)),
        # a malformed one counts too: an asset is quoted at most once per update
        (Quote(BTC, 0, 0, 4), Quote(ETH, 34_913_478, 34_567_800, 4), Quote(BTC, BTC_BUY, LONG_SL - 1, 4)),
        (Quote("DOGE_USDC", 2, 1, 4), Quote("DOGE_USDC", 2, 1, 4)),
    ],
)
def test_an_update_quoting_one_asset_twice_is_refused_whole(repeated: tuple[Quote, ...]) -> None:
    with pytest.raises(ValueError, match=r"more than one quote of '(BTC|DOGE)_USDC'"):
        PriceUpdate(repeated)


@pytest.mark.parametrize(
    ("buy", "sell", "decimal", "stored_buy", "stored_sell"),
    [
        # the seed's pooler format: ask "118234.5" -> decimal 1
        (1_194_168, 1_182_345, 1, 1_194_168_000, 1_182_345_000),
        # finer than the asset: buy rounds up, sell rounds down
        (119_416_845_001, 118_234_500_099, 6, 1_194_168_451, 1_182_345_000),
        (BTC_BUY, BTC_SELL, 4, BTC_BUY, BTC_SELL),
    ],
)
def test_quotes_are_rescaled_to_the_asset_scale(
    buy: int, sell: int, decimal: int, stored_buy: int, stored_sell: int
) -> None:
    driver = seeded()
    driver.tick(buy=buy, sell=sell, decimal=decimal)
    assert driver.state.quote(BTC) == LatestQuote(BTC, stored_buy, stored_sell, 4, driver.time_ms)


def test_a_new_quote_makes_the_price_fresh_again() -> None:
    driver = seeded()
    driver.tick(advance_ms=4_000)
    driver.opened(advance_ms=4_000)
    assert rejection(driver.open(advance_ms=1_001)).reason is RejectReason.PRICE_STALE
    driver.tick()
    driver.opened()


def test_a_quiet_tick_changes_only_the_quote() -> None:
    driver = seeded()
    position = driver.opened(stop_loss=LONG_SL, take_profit=LONG_TP)
    outcome = driver.tick(buy=BTC_BUY + 1, sell=BTC_SELL + 1)
    assert (outcome.reply, outcome.closed_trades, outcome.skipped_quotes) == (None, (), ())
    assert driver.state.positions_of("alice") == (position,)
