"""Stream entries -> ticks: the bids of a `Command{price_update}` entry, dated by the entry id's millisecond
part (the log's clock, the one the engine's rules see too). Every other command is skipped; a malformed
entry raises `CodecError` for the builder to count and step over."""

from __future__ import annotations

from dataclasses import dataclass, field

from candles.aggregation import Tick
from mesh.stream_codec import EntryFields, decode_entry
from mesh.units import AssetSpec

# the id before every entry: where a builder without a cursor starts
STREAM_START = "0-0"


def parse_id(entry_id: str) -> tuple[int, int]:
    """`"1700000000000-3"` -> (1700000000000, 3); raises ValueError for anything else."""
    ms, sep, seq = entry_id.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit():
        raise ValueError(f"not a stream entry id: {entry_id[:40]!r}")
    return int(ms), int(seq)


@dataclass(slots=True)
class Skipped:
    """Quotes left out of the candles, by reason (for metrics and logs)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1


def ticks_of(entry_id: str, fields: EntryFields, specs: dict[str, AssetSpec], skipped: Skipped) -> list[Tick]:
    """The bids an entry publishes for the configured assets. A quote of an unknown asset, with another
    price scale than the asset's, or with a bid that is not positive is left out (counted in `skipped`);
    an entry quoting one asset twice gives nothing."""
    command = decode_entry(fields)
    if command.WhichOneof("body") != "price_update":
        return []
    time_ms = parse_id(entry_id)[0]
    quotes = command.price_update.quotes
    if len({quote.asset for quote in quotes}) != len(quotes):
        # the engine refuses such an entry whole (one quote per asset per entry): so do the candles, or a
        # chart would show a price the engine never traded at
        skipped.add("duplicate_asset")
        return []
    ticks = []
    for quote in quotes:
        spec = specs.get(quote.asset)
        if spec is None:
            skipped.add("unknown_asset")
        elif quote.decimal != spec.decimal:
            skipped.add("scale")
        elif quote.sell_price <= 0:
            skipped.add("price")
        else:
            ticks.append(Tick(quote.asset, quote.sell_price, time_ms))
    return ticks
