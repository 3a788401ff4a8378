"""The web terminal's exact arithmetic (web/src/money.js, run by node) against the engine's own rules
(engine.domain.money) on random values: the pre-trade margin and liquidation estimates, formatting of
cents, prices and quantities, and exact parsing of what a trader types. One node process per example
runs a whole batch of cases."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from engine.domain.model import Side
from engine.domain.money import liquidation_price, margin_cents
from mesh.units import format_cents, format_quantity, format_scaled

HARNESS = Path(__file__).with_name("web_harness.mjs")
# each example costs a node process, so shrinking (hundreds of them) is left out: a failure still
# prints the whole batch, and the assertion names the differing case
BATCH = settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])


def run_js(cases: list[tuple[str, list[Any]]], module: str = "money") -> list[Any]:
    node = shutil.which("node")
    assert node, "node is not on PATH: run scripts/bootstrap.sh"
    triples = [[module, name, args] for name, args in cases]
    done = subprocess.run(
        [node, str(HARNESS)], input=json.dumps(triples), capture_output=True, text=True, check=True, timeout=60
    )
    results: list[Any] = json.loads(done.stdout)
    return results


order = st.tuples(
    st.integers(1, 10**12),  # price, scaled
    st.integers(1, 10**12),  # quantity, 10^-8 units
    st.integers(1, 1000),  # leverage
    st.integers(0, 8),  # price scale
    st.sampled_from([Side.LONG, Side.SHORT]),
)


@BATCH
@given(st.lists(order, min_size=50, max_size=50))
def test_estimates_equal_the_engines_rules(orders: list[tuple[int, int, int, int, Side]]) -> None:
    cases: list[tuple[str, list[Any]]] = []
    expected: list[str] = []
    for price, quantity, leverage, decimal, side in orders:
        margin = margin_cents(price, quantity, leverage, decimal)
        cases.append(("estimateMarginCents", [str(price), str(quantity), str(leverage), decimal]))
        expected.append(str(margin))
        cases.append(("estimateLiquidationPrice", [side.value, str(price), str(quantity), str(margin), decimal]))
        expected.append(str(liquidation_price(side, price, quantity, margin, 0, decimal)))
    assert run_js(cases) == expected


@BATCH
@given(st.lists(st.tuples(st.integers(-(10**15), 10**15), st.integers(0, 12)), min_size=50, max_size=50))
def test_formatting_equals_the_engines(values: list[tuple[int, int]]) -> None:
    cases: list[tuple[str, list[Any]]] = []
    expected: list[str] = []
    for value, decimals in values:
        cases.append(("formatCents", [str(value)]))
        expected.append(format_cents(value))
        cases.append(("formatScaled", [str(value), decimals, {"group": False}]))
        expected.append(format_scaled(value, decimals))
        cases.append(("formatQuantity", [str(abs(value))]))
        expected.append(format_quantity(abs(value)))
    assert run_js(cases) == expected


@BATCH
@given(
    st.lists(
        st.tuples(st.decimals(min_value=0, max_value=10**9, places=8, allow_nan=False), st.integers(0, 8)),
        min_size=50,
        max_size=50,
    )
)
def test_parsing_is_exact_or_refused(values: list[tuple[Decimal, int]]) -> None:
    cases = [("parseScaled", [format(value, "f"), decimals, "Price"]) for value, decimals in values]
    for (value, decimals), result in zip(values, run_js(cases), strict=True):
        scaled = value.scaleb(decimals)
        if scaled == scaled.to_integral_value():
            assert result == str(int(scaled)), (value, decimals, result)
        else:
            want = (
                "Price must be a whole number"
                if decimals == 0
                else f"Price allows at most {decimals} decimal{'' if decimals == 1 else 's'}"
            )
            assert result == {"error": want}, (value, decimals, result)


def test_parsing_refuses_what_is_not_a_plain_decimal() -> None:
    bad = ["", " ", ".", "-1", "1e5", "1,5", "0x10", "1.2.3", "abc", "Infinity"]
    results = run_js([("parseScaled", [text, 4, "Stop loss"]) for text in bad])
    assert results == [{"error": "Stop loss must be a number like 12.5"}] * len(bad)
    assert run_js(
        [
            ("parseScaled", [" 12.5 ", 4, "x"]),
            ("parseScaled", ["007.", 2, "x"]),
            ("parseScaled", ["1.50", 1, "x"]),
            ("parseScaled", ["1.05", 1, "x"]),
        ]
    ) == ["125000", "700", "15", {"error": "x allows at most 1 decimal"}]


def test_margin_level_never_overstates() -> None:
    results = run_js(
        [
            ("marginLevelText", ["999999", "1000000"]),
            ("marginLevelText", ["150", "100"]),
            ("marginLevelText", ["500", "0"]),
        ]
    )
    assert results == ["99.99%", "150.00%", None]
