"""Exact integer arithmetic for money, prices and quantities: every rounding rule of docs/contract.md §2,
written once.

Units (mesh.units): money is int cents; a price is int `price * 10**decimal`; a quantity is int in 10^-8 of the base
asset. The notional of `price` x `quantity` is therefore `price * quantity / 10**(decimal + 6)` cents
(10^decimal for the price scale, 10^8 for the quantity scale, 10^-2 for dollars to cents), an exact
rational that is rounded only where a rule says so:

* margin rounds **up** to the cent (the platform never locks less than notional / leverage);
* maintenance rounds **up** to the cent, for the same reason: it is a requirement, like margin;
* PnL rounds **half-to-even** to the cent (no systematic drift in either party's favour);
* the liquidation price is not rounded at all: it is the first price on the asset's price grid at which
  the liquidation condition holds under the PnL rounding above (see `liquidation_price`);
* a buy price rescaled to a coarser price scale rounds up, a sell price rounds down, so the platform's
  spread never narrows through rounding;
* a partial close leaves the rest its share of the margin rounded **up** and its share of the loss room
  rounded **down** (`split_for_partial_close`): what stays is never less safe than the whole was.
"""

from __future__ import annotations

from fractions import Fraction

from engine.domain.model import Side
from mesh.units import POWERS_OF_TEN as _POWERS_OF_TEN
from mesh.units import QUANTITY_DECIMALS

BPS_PER_UNIT = 10_000


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


def max_numerator_rounding_to(cents: int, denominator: int) -> int:
    """The largest n with `half_even_div(n, denominator) <= cents`: the exact inverse of the PnL rounding.

    n / denominator rounds to at most `cents` while it is below cents + 1/2; at exactly cents + 1/2 it
    rounds to the even neighbour, which is `cents` itself only when `cents` is even."""
    half, odd = divmod(denominator, 2)
    if odd:
        # no exact half exists: cents * d + (d - 1) / 2 is the last numerator that rounds down
        return cents * denominator + half
    return cents * denominator + half - (cents % 2)


def liquidation_price(side: Side, entry_price: int, quantity: int, margin: int, maintenance: int, decimal: int) -> int:
    """The liquidation level: the first closing-side price on the price grid (integers in the asset's scale)
    at which `margin + pnl_cents(price) <= maintenance`, with the PnL rounded exactly as a close rounds it.

    The condition is `pnl <= maintenance - margin`, i.e. `move * quantity <= n` for the largest numerator n
    that still rounds to that many cents, so the level is exact: LONG `entry + floor(n / quantity)` (the
    highest price that liquidates; the index fires at or below it), SHORT `entry - floor(n / quantity)` (the
    lowest; fires at or above it). The contract's `entry -/+ (margin - maintenance) / quantity` is the same
    level before the PnL's cent rounding, which can move it by up to half a cent's worth of price either way.

    A LONG whose level is at or below zero can never be liquidated at a positive price: 0 means "no level".
    A SHORT whose level is at or below one liquidates at every positive price: its level is 1."""
    room = max_numerator_rounding_to(maintenance - margin, notional_denominator(decimal)) // quantity
    if side is Side.LONG:
        return max(0, entry_price + room)
    return max(1, entry_price - room)


def partial_close_pnl_cents(side: Side, entry_price: int, closing_price: int, quantity: int, decimal: int) -> int:
    """PnL of the part a partial close takes, rounded **down** to the cent (against the trader).

    Half-to-even per part would let a trader farm the rounding: a part of one quantity step loses less than
    half a cent, rounds to 0, and releases a margin share that also rounds to 0, so closing a losing position
    in thousands of tiny parts would never charge its loss. Rounded down, no sequence of parts ever realises
    more than the exact PnL of what it closes: splitting a close can only cost the trader (under a cent a part)."""
    move = closing_price - entry_price if side is Side.LONG else entry_price - closing_price
    return (move * quantity) // notional_denominator(decimal)


def split_for_partial_close(margin: int, maintenance: int, closed_quantity: int, quantity: int) -> tuple[int, int]:
    """(margin, maintenance) of what stays open when `closed_quantity` of a position's `quantity` is closed:
    the one rounding rule of a partial close, written once. The part closed releases `margin` minus the
    first value (= floor(margin * closed / quantity)).

    The rule: every share of what stays is rounded the way that keeps the rest at least as safe as the
    whole was. Its margin (what backs it) is its proportional share rounded **up**; its loss room
    `margin - maintenance` (what it may lose before liquidation) is its proportional share rounded
    **down**; its maintenance is the difference. So the rest has, exactly:

    * margin >= margin * rest / quantity >= notional(rest) / leverage, so >= `margin_cents` of its own size
      at its entry: the margin rule still holds, and the part closed never takes more than its share;
    * maintenance = margin - room >= maintenance * rest / quantity, so >= `maintenance_cents` of its size;
    * `liquidation_price` recomputed from these is at least as protective as before (a LONG's level never
      falls, a SHORT's never rises): room(rest) / rest <= room / quantity, so any price at which the whole
      met `margin + pnl <= maintenance` makes the rest meet its own, with PnL rounded as a close rounds it.

    The maintenance of the rest can exceed the whole's by a cent (at a maintenance rate of 0, margin rounded
    up and room rounded down leave one cent between them); it is a requirement, not money, so nothing is
    created or lost: the closed part is credited its released margin + its PnL (`partial_close_pnl_cents`),
    and a part whose loss exceeds the margin it releases is refused rather than floored at 0, since the
    difference would be a loss nobody is charged."""
    rest = quantity - closed_quantity
    remaining_margin = ceil_div(margin * rest, quantity)
    remaining_room = (margin - maintenance) * rest // quantity
    return remaining_margin, remaining_margin - remaining_room


def slippage_exceeded(fill_price: int, expected_price: int, slippage_bps: int) -> bool:
    """|fill - expected| / expected > slippage, compared exactly (0 bps: the fill must equal expected)."""
    return abs(fill_price - expected_price) * BPS_PER_UNIT > slippage_bps * expected_price


def deviation_bps_ceil(fill_price: int, expected_price: int) -> int:
    """|fill - expected| / expected in basis points, rounded up so a message never understates it."""
    return ceil_div(abs(fill_price - expected_price) * BPS_PER_UNIT, expected_price)


def rescale_exact(price: int, from_decimal: int, to_decimal: int) -> int | None:
    """A level moved to another price scale without rounding; None when it has more decimals than
    `to_decimal` holds (a stop-loss is where the user put it, or refused: never rounded)."""
    if to_decimal >= from_decimal:
        return price * _POWERS_OF_TEN[to_decimal - from_decimal]
    quotient, remainder = divmod(price, _POWERS_OF_TEN[from_decimal - to_decimal])
    return None if remainder else quotient


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
