"""pooler.pricepath: the seeded random price path."""

from __future__ import annotations

from decimal import Decimal

from pooler.pricepath import KNOWN_MARKETS, RandomWalk, market_for


def test_random_walk_is_seeded_padded_and_never_crossed() -> None:
    markets = list(KNOWN_MARKETS.values())
    first, second = RandomWalk(markets, seed=7), RandomWalk(markets, seed=7)
    for _ in range(500):
        for market in markets:
            a, b = first.step(market.symbol), second.step(market.symbol)
            assert a == b
            assert a.bid < a.ask and a.bid > 0
            assert a.bid % market.tick == 0 and a.ask % market.tick == 0
            assert a.bid_qty % market.step == 0 and a.bid_qty > 0


def test_random_walk_starts_from_given_prices() -> None:
    walk = RandomWalk([market_for("BTC_USDC")], seed=1, start={"BTC_USDC": Decimal("50000.0")})
    assert abs(walk.step("BTC_USDC").bid - Decimal("50000.0")) <= Decimal("0.3")
