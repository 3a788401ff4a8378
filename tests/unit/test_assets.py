"""Asset configuration and exact decimal <-> scaled-integer conversion."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mesh.assets import AssetSpec, UnitError, parse_assets, scale_exact, unscale
from mesh.settings import DEFAULT_ASSETS


def test_default_assets_match_the_contract() -> None:
    assert parse_assets(DEFAULT_ASSETS) == {
        "BTC_USDC": AssetSpec("BTC_USDC", 4, 1_000),
        "ETH_USDC": AssetSpec("ETH_USDC", 4, 10_000),
        "SOL_USDC": AssetSpec("SOL_USDC", 4, 1_000_000),
    }


@pytest.mark.parametrize("text", ["", "BTC_USDC", "BTC_USDC:x:1", "BTC_USDC:4:0", "A:4:1,A:4:1", "A:13:1"])
def test_bad_asset_configuration_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_assets(text)


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [("118234.5", 4, 1_182_345_000), (0.01, 8, 1_000_000), (3, 2, 300), ("0.00000001", 8, 1), ("-1.5", 1, -15)],
)
def test_scale_exact(value: object, decimals: int, expected: int) -> None:
    assert scale_exact(value, decimals) == expected
    assert unscale(expected, decimals) == Decimal(str(value))


@pytest.mark.parametrize("value", ["0.123456789", "nan", "inf", "abc", True, None, [1]])
def test_scale_exact_refuses_inexact_or_non_numbers(value: object) -> None:
    with pytest.raises(UnitError):
        scale_exact(value, 8)


@pytest.mark.parametrize(
    "value",
    [
        # beyond Decimal's 28-digit context: must be refused, not rounded to 0.1 / 120000
        "0.100000000000000000000000000001",
        "120000.00000000000000000000000001",
        # tiny and huge exponents: refused at once, never expanded (seconds of CPU otherwise)
        "1e-1000000000",
        Decimal("1e-1000030"),
        "1e500000",
        Decimal("1e999999"),
        "9" * 30,
        "0." + "1" * 60,
    ],
)
def test_scale_exact_refuses_precision_and_magnitude_it_cannot_hold_exactly(value: object) -> None:
    with pytest.raises(UnitError):
        scale_exact(value, 8)
