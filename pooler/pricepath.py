"""Seeded random-walk top-of-book paths, shared by the in-process simulation feed and the fake Backpack
server so both produce venue-shaped prices: padded to the market's tick and step, never crossed.

Prices are kept as integer tick counts, so every value is exact."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str
    tick: Decimal
    step: Decimal
    start: Decimal


# Tick and step from the venue's /markets capture (docs/backpack-protocol.md §10); start prices from recorded frames.
KNOWN_MARKETS = {
    "BTC_USDC": Market("BTC_USDC", Decimal("0.1"), Decimal("0.00001"), Decimal("68983.0")),
    "ETH_USDC": Market("ETH_USDC", Decimal("0.01"), Decimal("0.0001"), Decimal("3667.50")),
    "SOL_USDC": Market("SOL_USDC", Decimal("0.01"), Decimal("0.01"), Decimal("98.97")),
}


def market_for(symbol: str) -> Market:
    return KNOWN_MARKETS.get(symbol) or Market(symbol, Decimal("0.01"), Decimal("0.01"), Decimal("100.00"))


@dataclass(frozen=True, slots=True)
class Top:
    symbol: str
    bid: Decimal
    ask: Decimal
    bid_qty: Decimal
    ask_qty: Decimal


class RandomWalk:
    """Each `step(symbol)` moves that market's bid by a few ticks and redraws the spread and sizes."""

    def __init__(self, markets: list[Market], seed: int | None = None, start: dict[str, Decimal] | None = None):
        self._rng = random.Random(seed)
        self._markets = {market.symbol: market for market in markets}
        self._bid_ticks: dict[str, int] = {}
        for market in markets:
            price = (start or {}).get(market.symbol, market.start)
            self._bid_ticks[market.symbol] = max(int(price / market.tick), 100)

    @property
    def symbols(self) -> list[str]:
        return list(self._markets)

    def step(self, symbol: str) -> Top:
        market = self._markets[symbol]
        rng = self._rng
        # stay well above zero: a walk must never produce a non-positive price
        bid_ticks = max(self._bid_ticks[symbol] + rng.randint(-3, 3), 100)
        self._bid_ticks[symbol] = bid_ticks
        spread_ticks = rng.choice((1, 1, 1, 2, 3))
        return Top(
            symbol=symbol,
            bid=market.tick * bid_ticks,
            ask=market.tick * (bid_ticks + spread_ticks),
            bid_qty=market.step * rng.randint(1, 50_000),
            ask_qty=market.step * rng.randint(1, 50_000),
        )
