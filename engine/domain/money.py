"""Exact integer arithmetic for money, prices and quantities: every rounding rule of docs/contract.md §2,
written once.

Units: money is int cents; a price is int `price * 10**decimal`; a quantity is int in 10^-8 of the base
asset. The notional of `price` x `quantity` is therefore `price * quantity / 10**(decimal + 6)` cents
(10^decimal for the price scale, 10^8 for the quantity scale, 10^-2 for dollars to cents), an exact
rational that is rounded only where a rule says so:

* margin rounds **up** to the cent (the platform never locks less than notional / leverage);
* maintenance rounds **up** to the cent, for the same reason: it is a requirement, like margin;
* PnL rounds **half-to-even** to the cent (no systematic drift in either party's favour);
* the liquidation price rounds **towards the entry price** (see `liquidation_price`);
* a buy price rescaled to a coarser price scale rounds up, a sell price rounds down, so the platform's
  spread never narrows through rounding.
"""

from __future__ import annotations

from fractions import Fraction

from engine.domain.model import Side
from engine.domain.rules import MAX_DECIMAL

QUANTITY_DECIMALS = 8
BPS_PER_UNIT = 10_000

# Powers of ten for every scale a price, quantity or rescale can need, computed once: they sit on the
# hot path of every open, close and tick.
_POWERS_OF_TEN: tuple[int, ...] = tuple(10**exponent for exponent in range(MAX_DECIMAL + QUANTITY_DECIMALS + 1))


def notional_denominator(decimal: int) -> int:
    """`price * quantity / notional_denominator(decimal)` is the notional in cents."""
    return _POWERS_OF_TEN[decimal + QUANTITY_DECIMALS - 2]


def ceil_div(numerator: int, denominator: int) -> int:
    """Exact ceiling of numerator / denominator, for a positive denominator."""
    return -(-numerator // denominator)


def half_even_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-to-even, for a positive denominator."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        return quotient + 1
    return quotient


def margin_cents(entry_price: int, quantity: int, leverage: int, decimal: int) -> int:
    """Margin locked at open: ceil(notional / leverage) cents."""
    return ceil_div(entry_price * quantity, notional_denominator(decimal) * leverage)


def maintenance_cents(entry_price: int, quantity: int, rate: Fraction, decimal: int) -> int:
    """Maintenance requirement fixed at open: ceil(notional * rate) cents."""
    return ceil_div(entry_price * quantity * rate.numerator, notional_denominator(decimal) * rate.denominator)


def pnl_cents(side: Side, entry_price: int, closing_price: int, quantity: int, decimal: int) -> int:
    """Profit or loss of closing at `closing_price` (the closing-side market price), half-to-even cents.

    Leverage does not appear: it only sets the margin (docs/contract.md §4.2)."""
    move = closing_price - entry_price if side is Side.LONG else entry_price - closing_price
    return half_even_div(move * quantity, notional_denominator(decimal))


def close_credit_cents(margin: int, pnl: int) -> int:
    """What the balance receives on close: a user never loses more than the position's margin."""
    return max(0, margin + pnl)


def liquidation_price(side: Side, entry_price: int, quantity: int, margin: int, maintenance: int, decimal: int) -> int:
    """The closing-side price at which margin + PnL falls to the maintenance requirement.

    Exactly: LONG entry - (margin - maintenance) / quantity, SHORT entry + (margin - maintenance) / quantity,
    converted to the price scale. Rounded towards the entry price, so the position is liquidated at or
    before the exact level and is never left open below its maintenance requirement because of
    rounding; the user gives up less than one price unit of room. A LONG whose level would be at or
    below zero (leverage 1 with no maintenance) can never be liquidated: 0 means "no level"."""
    cushion = (margin - maintenance) * notional_denominator(decimal) // quantity
    if side is Side.LONG:
        return max(0, entry_price - cushion)
    return entry_price + cushion


def slippage_exceeded(fill_price: int, expected_price: int, slippage_bps: int) -> bool:
    """|fill - expected| / expected > slippage, compared exactly (0 bps: the fill must equal expected)."""
    return abs(fill_price - expected_price) * BPS_PER_UNIT > slippage_bps * expected_price


def deviation_bps_ceil(fill_price: int, expected_price: int) -> int:
    """|fill - expected| / expected in basis points, rounded up so a message never understates it."""
    return ceil_div(abs(fill_price - expected_price) * BPS_PER_UNIT, expected_price)


def rescale_buy_price(price: int, from_decimal: int, to_decimal: int) -> int:
    """A buy price moved to another price scale; rounds up when precision is lost."""
    if to_decimal >= from_decimal:
        return price * _POWERS_OF_TEN[to_decimal - from_decimal]
    return ceil_div(price, _POWERS_OF_TEN[from_decimal - to_decimal])


def rescale_sell_price(price: int, from_decimal: int, to_decimal: int) -> int:
    """A sell price moved to another price scale; rounds down when precision is lost."""
    if to_decimal >= from_decimal:
        return price * _POWERS_OF_TEN[to_decimal - from_decimal]
    return price // _POWERS_OF_TEN[from_decimal - to_decimal]


def format_scaled(value: int, decimals: int) -> str:
    """An exact decimal string of a scaled integer, e.g. (1182345000, 4) -> "118234.5000"."""
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), _POWERS_OF_TEN[decimals])
    if decimals == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{decimals}d}"


def format_quantity(quantity: int) -> str:
    """A quantity in 10^-8 units without trailing zeros, e.g. 1000 -> "0.00001"."""
    text = format_scaled(quantity, QUANTITY_DECIMALS)
    return text.rstrip("0").rstrip(".")


def format_cents(cents: int) -> str:
    """Cents as dollars for people, e.g. 98805832 -> "$988,058.32"."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def format_bps(bps: int) -> str:
    """Basis points as a percentage, e.g. 102 -> "1.02%"."""
    return f"{format_scaled(bps, 2)}%"
