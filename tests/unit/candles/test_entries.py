"""candles.entries.ticks_of: the bids a price entry gives the candles, under the engine's own rules."""

from __future__ import annotations

from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2

from candles.aggregation import Tick
from candles.entries import Skipped, ticks_of
from mesh.stream_codec import encode_command
from mesh.units import AssetSpec

SPECS = {"BTC_USDC": AssetSpec("BTC_USDC", 4, 1), "SOL_USDC": AssetSpec("SOL_USDC", 4, 1)}


def _entry(*quotes: tuple[str, int]) -> dict[str, bytes]:
    update = market_pb2.PriceUpdate(
        quotes=[market_pb2.Quote(asset=a, buy_price=bid + 10, sell_price=bid, decimal=4) for a, bid in quotes]
    )
    return encode_command(commands_pb2.Command(price_update=update))


def test_each_quoted_asset_gives_a_tick_at_the_entry_time() -> None:
    skipped = Skipped()
    ticks = ticks_of("1700000000123-0", _entry(("BTC_USDC", 600_000_000), ("SOL_USDC", 1_500_000)), SPECS, skipped)
    assert ticks == [Tick("BTC_USDC", 600_000_000, 1700000000123), Tick("SOL_USDC", 1_500_000, 1700000000123)]
    assert skipped.counts == {}


def test_an_entry_quoting_one_asset_twice_gives_no_tick() -> None:
    # the engine refuses such an entry whole: a chart must not show a price it never traded at
    skipped = Skipped()
    entry = _entry(("BTC_USDC", 600_000_000), ("SOL_USDC", 1_500_000), ("BTC_USDC", 590_000_000))
    assert ticks_of("1700000000123-0", entry, SPECS, skipped) == []
    assert skipped.counts == {"duplicate_asset": 1}
