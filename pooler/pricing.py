"""The platform's quote prices from a venue's best ask and bid (docs/contract.md §2-3), on the integer price
scale. Each rounding rule lives here once: the buy price (what a LONG pays) rounds UP, the sell price
(what a LONG receives) rounds DOWN, so rounding never favours the trader against the platform.

Arithmetic is exact (`Fraction` of the venue's `Decimal`), so no context precision can round silently."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from mesh.units import scale_round_down, scale_round_up

BPS_DENOMINATOR = 10_000


def buy_price(ask: Decimal, spread_bps: int, decimals: int) -> int:
    """ask x (1 + spread), rounded up to the price scale."""
    return scale_round_up(Fraction(ask) * (BPS_DENOMINATOR + spread_bps) / BPS_DENOMINATOR, decimals)


def sell_price(bid: Decimal, decimals: int) -> int:
    """The bid, rounded down to the price scale."""
    return scale_round_down(bid, decimals)
