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
        # 10x on the seed quote: $119.42 of margin over 0.01 BTC = $11,942 of room
        (Side.LONG, 1_194_168_450, 1_000_000, 11_942, 0, 1_074_748_450),
        (Side.SHORT, 1_182_345_000, 1_000_000, 11_824, 0, 1_300_585_000),
        # 3 units at $100.0001, 10x: margin $30.01, room $10.00333.. = 100,033.33 price units,
        # rounded towards the entry (exact levels 899,967.67 and 1,100,034.33)
        (Side.LONG, 1_000_001, 300_000_000, 3_001, 0, 899_968),
        (Side.SHORT, 1_000_001, 300_000_000, 3_001, 0, 1_100_034),
        # maintenance eats into the room: (1000 - 100) cents over 1 unit = 9.0000
        (Side.LONG, 1_000_000, 100_000_000, 1_000, 100, 910_000),
        (Side.SHORT, 1_000_000, 100_000_000, 1_000, 100, 1_090_000),
        # leverage 1: the whole price is covered, the LONG cannot be liquidated (0 = no level)
        (Side.LONG, 1_000_000, 100_000_000, 10_000, 0, 0),
        (Side.LONG, 1_194_168_450, 1_000_000, 119_417, 0, 0),
        (Side.SHORT, 1_000_000, 100_000_000, 10_000, 0, 2_000_000),
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (money.format_scaled(1_182_345_000, 4), "118234.5000"),
        (money.format_scaled(-5, 2), "-0.05"),
        (money.format_scaled(7, 0), "7"),
        (money.format_cents(98_805_832), "$988,058.32"),
        (money.format_cents(-1_182), "-$11.82"),
        (money.format_cents(0), "$0.00"),
        (money.format_quantity(1_000), "0.00001"),
        (money.format_quantity(100_000_000), "1"),
        (money.format_quantity(150_000_000), "1.5"),
        (money.format_bps(102), "1.02%"),
    ],
)
def test_formatting_for_messages(text: str, expected: str) -> None:
    assert text == expected


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
