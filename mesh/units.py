"""The platform's units, written once for every service and the domain core: what a traded asset is
(symbol, price scale, quantity step), the bounds on price scales, exact conversion between decimal text
and the scaled integers everything stores (a price is `price * 10**decimal`, a quantity is in 10^-8 of
the base asset, money is in cents), and how those integers read for people.

Standard library only, no I/O: `engine.domain` imports it, so it must stay as pure as the domain.
Nothing here rounds silently: a value with more precision than its scale is refused, because a
trader's number must reach the engine exactly as typed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

# A quantity is an integer number of 10^-8 units of the base asset.
QUANTITY_DECIMALS = 8
# The widest price scale a quote may carry: wider than any venue uses; the bound keeps 10**decimal
# arithmetic small and turns garbage into a refusal.
MAX_DECIMAL = 18
# The widest price scale a traded asset may be configured with: prices cross the wire as int64, and
# 10**12 leaves room for prices up to about 9 million dollars.
MAX_ASSET_DECIMAL = 12
# Bounds checked before any arithmetic: a JSON number like 1e999999 or a 10,000-digit string would
# otherwise cost seconds of CPU (or overflow) inside the request, freezing everyone else's.
MAX_INTEGER_DIGITS = 24
MAX_SIGNIFICANT_DIGITS = 48
# The most significant digits an IEEE double states exactly: a price level (stop-loss, take-profit, a
# pending order's price) has at most this many, so every API can state it back, the compatibility layer's
# JSON numbers included.
EXACT_DOUBLE_DIGITS = 15

# Every power of ten a price, quantity or rescale can need, computed once (hot path of open, close, tick).
POWERS_OF_TEN: tuple[int, ...] = tuple(10**exponent for exponent in range(MAX_DECIMAL + QUANTITY_DECIMALS + 1))


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """A traded asset. Validated on construction, so no code path can hold an asset outside the bounds."""

    symbol: str
    # prices are integers `price * 10**decimal`
    decimal: int
    # quantity step in 10^-8 units of the base asset
    step: int

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("asset symbol is empty")
        if type(self.decimal) is not int or not 0 <= self.decimal <= MAX_ASSET_DECIMAL:
            raise ValueError(f"{self.symbol}: decimal {self.decimal} outside 0..{MAX_ASSET_DECIMAL}")
        if type(self.step) is not int or self.step <= 0:
            raise ValueError(f"{self.symbol}: step {self.step} must be positive")


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


def significant_digits(value: Decimal) -> int:
    """The digits `value` needs, without leading or trailing zeros (exact: no context precision rounds first)."""
    return len("".join(map(str, value.as_tuple().digits)).strip("0"))


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


def scale_round_up(value: Fraction | Decimal, decimals: int) -> int:
    """`value * 10**decimals`, rounded towards +infinity (exact: no context precision rounds first)."""
    scaled = Fraction(value) * 10**decimals
    rounded: int = -(-scaled.numerator // scaled.denominator)
    return rounded


def scale_round_down(value: Fraction | Decimal, decimals: int) -> int:
    """`value * 10**decimals`, rounded towards -infinity: the rule of the bid (the platform's sell price)."""
    scaled = Fraction(value) * 10**decimals
    rounded: int = scaled.numerator // scaled.denominator
    return rounded


def unscale(value: int, decimals: int) -> Decimal:
    """The Decimal whose scaled form is `value` (exact)."""
    return Decimal(value).scaleb(-decimals)


def parse_assets(text: str) -> dict[str, AssetSpec]:
    """Parse `SYMBOL:DECIMAL:STEP,...`, e.g. `BTC_USDC:4:0.00001`."""
    specs: dict[str, AssetSpec] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            symbol, decimal_text, step_text = (p.strip() for p in item.split(":"))
            spec = AssetSpec(symbol, int(decimal_text), scale_exact(step_text, QUANTITY_DECIMALS, "step"))
        except ValueError as exc:  # UnitError included
            raise ValueError(f"bad asset {item!r}: expected SYMBOL:DECIMAL:STEP ({exc})") from None
        if symbol in specs:
            raise ValueError(f"bad asset {item!r}: {symbol} appears twice")
        specs[symbol] = spec
    if not specs:
        raise ValueError("no assets configured")
    return specs


def format_scaled(value: int, decimals: int) -> str:
    """An exact decimal string of a scaled integer, e.g. (1182345000, 4) -> "118234.5000"."""
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), POWERS_OF_TEN[decimals])
    if decimals == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{decimals}d}"


def format_quantity(quantity: int) -> str:
    """A quantity in 10^-8 units without trailing zeros, e.g. 1000 -> "0.00001", 200000000 -> "2"."""
    text = format_scaled(quantity, QUANTITY_DECIMALS)
    return text.rstrip("0").rstrip(".")


def format_cents(cents: int) -> str:
    """Cents as dollars for people, e.g. 98805832 -> "$988,058.32", -150 -> "-$1.50"."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def format_bps(bps: int) -> str:
    """Basis points as a percentage, e.g. 102 -> "1.02%"."""
    return f"{format_scaled(bps, 2)}%"
