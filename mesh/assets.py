"""The traded assets: symbol, price scale (`decimal`) and quantity step, parsed from configuration,
plus exact conversions between decimal text and the contract's scaled integers (docs/contract.md §1).

Nothing here rounds silently: a value with more precision than its scale is refused, because a
trader's number must reach the engine exactly as typed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

QUANTITY_DECIMALS = 8
QUANTITY_SCALE = 10**QUANTITY_DECIMALS
# Bounds checked before any arithmetic: a JSON number like 1e999999 or a 10,000-digit string would
# otherwise cost seconds of CPU (or overflow) inside the request, freezing everyone else's.
MAX_INTEGER_DIGITS = 24
MAX_SIGNIFICANT_DIGITS = 48


@dataclass(frozen=True, slots=True)
class AssetSpec:
    symbol: str
    # prices are integers `price * 10**decimal`
    decimal: int
    # quantity step in 10^-8 units of the base asset
    step: int


class UnitError(ValueError):
    """A number that cannot be represented exactly on the contract's integer scale."""


def to_decimal(value: object) -> Decimal:
    """Parse a JSON number or string as an exact Decimal; bools, floats' binary noise and NaN are refused
    (JSON numbers must reach here as text or int, never through float)."""
    if isinstance(value, bool) or value is None:
        raise UnitError(f"expected a number, got {value!r}")
    if isinstance(value, float):
        # repr gives the shortest text that round-trips, i.e. what the client typed
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise UnitError(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise UnitError(f"not a finite number: {str(value)[:40]!r}")
    if number and number.adjusted() >= MAX_INTEGER_DIGITS:
        raise UnitError(f"number too large (more than {MAX_INTEGER_DIGITS} integer digits)")
    if len(number.as_tuple().digits) > MAX_SIGNIFICANT_DIGITS:
        raise UnitError(f"number has more than {MAX_SIGNIFICANT_DIGITS} significant digits")
    return number


def scale_exact(value: object, decimals: int, what: str = "value") -> int:
    """`value * 10**decimals` as an int; refuses values with more fractional digits than `decimals`."""
    number = to_decimal(value)
    if number and number.adjusted() < -decimals:
        # also catches 1e-1000000000 before any 10**n is built for it
        raise UnitError(f"{what} {str(value)[:40]} has more than {decimals} fractional digits")
    # exact rational arithmetic: Decimal.scaleb would round to the context's 28 digits first
    scaled = Fraction(number) * 10**decimals
    if scaled.denominator != 1:
        raise UnitError(f"{what} {str(value)[:40]} has more than {decimals} fractional digits")
    numerator: int = scaled.numerator
    return numerator


def unscale(value: int, decimals: int) -> Decimal:
    """The Decimal whose scaled form is `value` (exact)."""
    return Decimal(value).scaleb(-decimals)


def parse_assets(text: str) -> dict[str, AssetSpec]:
    """Parse `SYMBOL:DECIMAL:STEP,...`, e.g. `BTC_USDC:4:0.00001`."""
    specs: dict[str, AssetSpec] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            symbol, decimal_text, step_text = (p.strip() for p in item.split(":"))
            decimal = int(decimal_text)
            step = scale_exact(step_text, QUANTITY_DECIMALS, "step")
        except (ValueError, UnitError) as exc:
            raise ValueError(f"bad asset {item!r}: expected SYMBOL:DECIMAL:STEP ({exc})") from None
        if not symbol or not 0 <= decimal <= 12 or step <= 0 or symbol in specs:
            raise ValueError(f"bad asset {item!r}: empty or duplicate symbol, decimal outside 0..12 or step <= 0")
        specs[symbol] = AssetSpec(symbol, decimal, step)
    if not specs:
        raise ValueError("no assets configured")
    return specs
