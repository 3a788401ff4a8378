"""Every rounding rule of docs/contract.md §2, one table each; expected values worked out by hand."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.domain import AssetSpec, Rules, Side, default_rules, money


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(7, 2, 4), (-7, 2, -3), (6, 3, 2), (0, 5, 0), (1, 10**12, 1)],
)
def test_ceil_div(numerator: int, denominator: int, expected: int) -> None:
    assert money.ceil_div(numerator, denominator) == expected


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (5, 2, 2),  # 2.5 -> even below
        (7, 2, 4),  # 3.5 -> even above
        (-5, 2, -2),
        (-7, 2, -4),
        (2, 3, 1),
        (1, 3, 0),
        (-1_182_345, 1000, -1182),  # -1182.345
        (1_182_500, 1000, 1182),
        (1_183_500, 1000, 1184),
    ],
)
def test_half_even_div(numerator: int, denominator: int, expected: int) -> None:
    assert money.half_even_div(numerator, denominator) == expected


@pytest.mark.parametrize(
    ("entry", "quantity", "leverage", "decimal", "expected"),
    [
        # 0.01 BTC at $119,416.8450 = $1,194.16845; / 10 = $119.416845 -> up to $119.42
        (1_194_168_450, 1_000_000, 10, 4, 11_942),
        # at 1x the margin is the notional, still rounded up: $1,194.17
        (1_194_168_450, 1_000_000, 1, 4, 119_417),
        # 1 unit at $100.0000: $100 / 3 = $33.3333 -> $33.34
        (1_000_000, 100_000_000, 3, 4, 3_334),
        (1_000_000, 100_000_000, 4, 4, 2_500),
        # price scale 2: 1 unit at $100.00
        (10_000, 100_000_000, 1, 2, 10_000),
        # 0.01 SOL at $187.23 = $1.8723; / 100 = 1.8723 cents -> 2 cents
        (1_872_300, 1_000_000, 100, 4, 2),
    ],
)
def test_margin_rounds_up_to_the_cent(entry: int, quantity: int, leverage: int, decimal: int, expected: int) -> None:
    assert money.margin_cents(entry, quantity, leverage, decimal) == expected


@pytest.mark.parametrize(
    ("entry", "quantity", "rate", "expected"),
    [
        (1_194_168_450, 1_000_000, Fraction(0), 0),
        # $1,194.16845 * 0.5% = $5.97084225 -> $5.98
        (1_194_168_450, 1_000_000, Fraction(1, 200), 598),
        (1_000_000, 100_000_000, Fraction(1, 100), 100),
    ],
)
def test_maintenance_rounds_up_to_the_cent(entry: int, quantity: int, rate: Fraction, expected: int) -> None:
    assert money.maintenance_cents(entry, quantity, rate, 4) == expected


@pytest.mark.parametrize(
    ("side", "entry", "closing", "quantity", "expected"),
    [
        # the seed's round trip: 0.01 BTC bought at 119416.8450, sold at 118234.5 -> -$11.82345
        (Side.LONG, 1_194_168_450, 1_182_345_000, 1_000_000, -1_182),
        (Side.SHORT, 1_182_345_000, 1_194_168_450, 1_000_000, -1_182),
        # 1 unit, a move of 0.0050 = 0.5 cent: half-to-even
        (Side.LONG, 1_000_000, 1_000_050, 100_000_000, 0),
        (Side.LONG, 1_000_000, 1_000_150, 100_000_000, 2),
        (Side.SHORT, 1_000_150, 1_000_000, 100_000_000, 2),
        (Side.LONG, 1_000_000, 999_950, 100_000_000, 0),
        (Side.LONG, 1_000_000, 999_850, 100_000_000, -2),
        (Side.SHORT, 1_000_000, 1_000_000, 100_000_000, 0),
    ],
)
def test_pnl_rounds_half_to_even_and_ignores_leverage(
    side: Side, entry: int, closing: int, quantity: int, expected: int
) -> None:
    assert money.pnl_cents(side, entry, closing, quantity, 4) == expected


@pytest.mark.parametrize(("margin", "pnl", "expected"), [(11_942, -1_182, 10_760), (100, -100, 0), (100, -250, 0)])
def test_close_credit_never_goes_below_zero(margin: int, pnl: int, expected: int) -> None:
    assert money.close_credit_cents(margin, pnl) == expected


@pytest.mark.parametrize(
    ("side", "entry", "quantity", "margin", "maintenance", "expected"),
    [
        # 10x on the seed quote: $119.42 of margin over 0.01 BTC. A cent of PnL is $1 of price here, and
        # -$119.415 rounds half-to-even to -$119.42, so the LONG is already gone $0.50 above the contract's
        # unrounded 107,474.8450: 119,416.8450 - 11,941.5000 = 107,475.3450
        (Side.LONG, 1_194_168_450, 1_000_000, 11_942, 0, 1_074_753_450),
        # SHORT: -$118.235 rounds to -$118.24 (even): 118,234.5 + 11,823.5 = 130,058.0
        (Side.SHORT, 1_182_345_000, 1_000_000, 11_824, 0, 1_300_580_000),
        # 3 units at $100.0001, 10x: margin $30.01. A move of 10.0017 costs $30.0051 -> $30.01 (liquidates);
        # 10.0016 costs $30.0048 -> $30.00 (does not)
        (Side.LONG, 1_000_001, 300_000_000, 3_001, 0, 899_984),
        (Side.SHORT, 1_000_001, 300_000_000, 3_001, 0, 1_100_018),
        # maintenance eats into the room: $9.00 of room over 1 unit; a move of 8.9950 costs $8.995 -> $9.00
        (Side.LONG, 1_000_000, 100_000_000, 1_000, 100, 910_050),
        (Side.SHORT, 1_000_000, 100_000_000, 1_000, 100, 1_089_950),
        # leverage 1, 1 unit at $100: at $0.0050 the loss $99.995 rounds to $100.00, the whole margin
        (Side.LONG, 1_000_000, 100_000_000, 10_000, 0, 50),
        # leverage 1, 1,000 units: a price unit is worth 10 cents, so only a price of 0 would take the
        # whole margin; no positive price liquidates (0 = no level)
        (Side.LONG, 1_000_000, 100_000_000_000, 10_000_000, 0, 0),
        (Side.SHORT, 1_000_000, 100_000_000, 10_000, 0, 1_999_950),
        # maintenance above the margin: every positive price liquidates a SHORT (level 1, never 0)
        (Side.SHORT, 1_000_000, 100_000_000, 100, 20_000, 1),
        # issue 11's examples. 5,000 SOL LONG 100x from 150.0090: margin $7,500.45; at 148.5090 the loss is
        # $7,500.00 (45 cents left), at 148.5089 it is $7,500.50 (-5 cents): the level is 148.5089
        (Side.LONG, 1_500_090, 500_000_000_000, 750_045, 0, 1_485_089),
        # 0.00001 BTC LONG 100x from 70,700: margin 1 cent; a loss of 0.5000001 cents rounds to 1 cent, one of
        # exactly 0.5 cents to 0 (even): 70,700 - 500.0001 = 70,199.9999
        (Side.LONG, 707_000_000, 1_000, 1, 0, 701_999_999),
    ],
)
def test_liquidation_price(side: Side, entry: int, quantity: int, margin: int, maintenance: int, expected: int) -> None:
    assert money.liquidation_price(side, entry, quantity, margin, maintenance, 4) == expected


@pytest.mark.parametrize(
    ("fill", "expected_price", "bps", "exceeded"),
    [
        (1_194_168_450, 1_182_345_000, 100, False),  # exactly 1.00% away
        (1_194_168_450, 1_182_345_000, 99, True),
        (100, 100, 0, False),
        (101, 100, 0, True),
        (99, 100, 0, True),
        (1_000_100, 1_000_000, 1, False),
        (1_000_101, 1_000_000, 1, True),
        (2_000_000, 1_000_000, 10_000, False),
    ],
)
def test_slippage_exceeded(fill: int, expected_price: int, bps: int, exceeded: bool) -> None:
    assert money.slippage_exceeded(fill, expected_price, bps) is exceeded


@pytest.mark.parametrize(
    ("fill", "expected_price", "bps"), [(1_000_101, 1_000_000, 2), (1_194_168_450, 1_182_345_000, 100), (5, 5, 0)]
)
def test_deviation_is_rounded_up_for_messages(fill: int, expected_price: int, bps: int) -> None:
    assert money.deviation_bps_ceil(fill, expected_price) == bps


@pytest.mark.parametrize(
    ("price", "from_decimal", "to_decimal", "buy", "sell"),
    [
        (118_234_567, 3, 2, 11_823_457, 11_823_456),  # precision lost: buy up, sell down
        (11_823_450, 3, 2, 1_182_345, 1_182_345),  # exact
        (1_182_345, 1, 4, 1_182_345_000, 1_182_345_000),  # finer scale: exact
        (42, 4, 4, 42, 42),
    ],
)
def test_rescaling_widens_the_spread_only(price: int, from_decimal: int, to_decimal: int, buy: int, sell: int) -> None:
    assert money.rescale_buy_price(price, from_decimal, to_decimal) == buy
    assert money.rescale_sell_price(price, from_decimal, to_decimal) == sell


def test_default_rules_follow_the_contract() -> None:
    rules = default_rules()
    assert dict(rules.assets) == {
        "BTC_USDC": AssetSpec("BTC_USDC", 4, 1_000),
        "ETH_USDC": AssetSpec("ETH_USDC", 4, 10_000),
        "SOL_USDC": AssetSpec("SOL_USDC", 4, 1_000_000),
    }
    assert (rules.max_leverage, rules.maintenance_margin_rate, rules.price_stale_after_ms) == (100, 0, 5000)
    assert (rules.idempotency_keys_per_user, rules.idempotency_window_ms) == (1_000, 86_400_000)
    with pytest.raises(TypeError):
        rules.assets["DOGE_USDC"] = AssetSpec("DOGE_USDC", 4, 1)  # type: ignore[index]


BTC_SPEC = {"BTC_USDC": AssetSpec("BTC_USDC", 4, 1_000)}


@pytest.mark.parametrize(
    "build",
    [
        lambda: Rules(assets={}),
        lambda: Rules(assets={"BTC": AssetSpec("BTC_USDC", 4, 1_000)}),
        lambda: Rules(assets=BTC_SPEC, max_leverage=0),
        lambda: Rules(assets=BTC_SPEC, maintenance_margin_rate=Fraction(1)),
        lambda: Rules(assets=BTC_SPEC, maintenance_margin_rate=Fraction(-1, 100)),
        lambda: Rules(assets=BTC_SPEC, price_stale_after_ms=-1),
        lambda: Rules(assets=BTC_SPEC, idempotency_keys_per_user=-1),
        lambda: Rules(assets=BTC_SPEC, idempotency_window_ms=-1),
        lambda: AssetSpec("", 4, 1),
        lambda: AssetSpec("X", 19, 1),
        lambda: AssetSpec("X", -1, 1),
        lambda: AssetSpec("X", 4, 0),
    ],
)
def test_bad_rules_are_refused(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]
