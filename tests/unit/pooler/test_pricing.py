"""The platform's buy/sell rounding (docs/contract.md §2-3): buy rounds up, sell rounds down, exactly."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from pooler.pricing import buy_price, scale_round_down, scale_round_up, sell_price


def test_examples_from_recorded_frames() -> None:
    # BTC ask 68983.1 at 4 decimals with 1%: 68983.1 * 1.01 = 69672.931 -> 696729310
    assert buy_price(Decimal("68983.1"), 100, 4) == 696729310
    assert sell_price(Decimal("68983.0"), 4) == 689830000
    # SOL ask 98.97 * 1.01 = 99.9597 fits 4 decimals exactly
    assert buy_price(Decimal("98.97"), 100, 4) == 999597
    # ... and rounds UP at 2 decimals: 99.9597 -> 99.96
    assert buy_price(Decimal("98.97"), 100, 2) == 9996
    assert sell_price(Decimal("98.969"), 2) == 9896


def test_zero_spread_and_exact_values_do_not_round() -> None:
    assert buy_price(Decimal("3667.50"), 0, 2) == 366750
    assert scale_round_up(Decimal("1.2300"), 2) == 123
    assert scale_round_down(Decimal("1.2300"), 2) == 123


def test_rounding_directions_on_the_smallest_excess() -> None:
    assert scale_round_up(Decimal("1.00001"), 4) == 10001
    assert scale_round_down(Decimal("1.00009"), 4) == 10000


prices = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("10000000"), places=8)


@given(prices, st.integers(0, 10_000), st.integers(0, 8))
def test_buy_is_the_smallest_scaled_price_at_or_above_ask_plus_spread(ask: Decimal, bps: int, decimals: int) -> None:
    exact = Fraction(ask) * (10_000 + bps) / 10_000 * 10**decimals
    buy = buy_price(ask, bps, decimals)
    assert buy >= exact > buy - 1


@given(prices, st.integers(0, 8))
def test_sell_is_the_largest_scaled_price_at_or_below_bid(bid: Decimal, decimals: int) -> None:
    exact = Fraction(bid) * 10**decimals
    sell = sell_price(bid, decimals)
    assert sell <= exact < sell + 1


@given(prices, st.integers(0, 10_000), st.integers(0, 8))
def test_buy_never_below_sell_for_the_same_price(price: Decimal, bps: int, decimals: int) -> None:
    assert buy_price(price, bps, decimals) >= sell_price(price, decimals)
