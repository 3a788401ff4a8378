"""The one units module: asset configuration and its bounds, exact decimal <-> scaled-integer conversion,
and the texts people read; shared by the domain core and every service."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

import engine.domain
from mesh.settings import DEFAULT_ASSETS
from mesh.units import (
    MAX_ASSET_DECIMAL,
    AssetSpec,
    UnitError,
    format_bps,
    format_cents,
    format_quantity,
    format_scaled,
    parse_assets,
    scale_exact,
    unscale,
)


def test_default_assets_match_the_contract() -> None:
    assert parse_assets(DEFAULT_ASSETS) == {
        "BTC_USDC": AssetSpec("BTC_USDC", 4, 1_000),
        "ETH_USDC": AssetSpec("ETH_USDC", 4, 10_000),
        "SOL_USDC": AssetSpec("SOL_USDC", 4, 1_000_000),
    }


def test_the_domain_and_the_services_share_one_asset_type() -> None:
    assert engine.domain.AssetSpec is AssetSpec
    assert parse_assets("X:12:1")["X"].decimal == MAX_ASSET_DECIMAL == 12


@pytest.mark.parametrize(
    "build",
    [
        lambda: AssetSpec("", 4, 1),
        lambda: AssetSpec("X", 13, 1),
        lambda: AssetSpec("X", -1, 1),
        lambda: AssetSpec("X", 4, 0),
    ],
)
def test_an_asset_outside_the_bounds_cannot_be_built(build: Callable[[], AssetSpec]) -> None:
    with pytest.raises(ValueError):
        build()


@pytest.mark.parametrize(
    "text", ["", "BTC_USDC", "BTC_USDC:x:1", "BTC_USDC:4:0", "A:4:1,A:4:1", "A:13:1", ":4:1", "A:-1:1", "A:4:1e-9"]
)
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (format_scaled(1_182_345_000, 4), "118234.5000"),
        (format_scaled(-5, 2), "-0.05"),
        (format_scaled(7, 0), "7"),
        (format_cents(98_805_832), "$988,058.32"),
        (format_cents(985_865), "$9,858.65"),
        (format_cents(5), "$0.05"),
        (format_cents(-150), "-$1.50"),
        (format_cents(-1_182), "-$11.82"),
        (format_cents(0), "$0.00"),
        (format_cents(100_000_000_00), "$100,000,000.00"),
        (format_quantity(1_000), "0.00001"),
        (format_quantity(1_000_000), "0.01"),
        (format_quantity(100_000_000), "1"),
        (format_quantity(200_000_000), "2"),
        (format_quantity(150_000_000), "1.5"),
        (format_quantity(1), "0.00000001"),
        (format_quantity(0), "0"),
        (format_bps(102), "1.02%"),
    ],
)
def test_texts_for_people(text: str, expected: str) -> None:
    assert text == expected
