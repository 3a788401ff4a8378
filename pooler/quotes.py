"""Venue tops -> platform quotes (integer scale, spread applied by `pooler.pricing`), and the latest quote
per (source, asset) with the time the feed last vouched for it, which is what freshness is judged by.

A top whose prices do not fit the platform's integers (protobuf int64, a sell price that rounds to
zero) is refused with `QuoteRangeError`; the parser has already bounded the venue's numbers, so the
arithmetic before this check is cheap."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.units import AssetSpec
from pooler.backpack import BookTicker
from pooler.events import FeedEvent, Heartbeat, Withdrawn
from pooler.pricing import buy_price, sell_price

# The largest integer a protobuf int64 (Quote.buy_price, sell_price, venue_time_ms) can carry.
INT64_MAX = 2**63 - 1


class QuoteRangeError(ValueError):
    """A venue top that has no platform quote; `reason` is the metrics label ("range")."""

    reason = "range"

    def __init__(self, symbol: str, detail: str) -> None:
        super().__init__(f"{symbol}: {detail}")
        self.symbol = symbol


@dataclass(frozen=True, slots=True)
class PlatformQuote:
    asset: str
    buy_price: int
    sell_price: int
    decimal: int
    venue_time_ms: int
    source: str


def normalise(ticker: BookTicker, spec: AssetSpec, spread_bps: int, source: str) -> PlatformQuote | None:
    """The platform quote for a venue top, or None when a side of the book is empty (nothing to quote)."""
    if ticker.ask is None or ticker.bid is None:
        return None
    buy, sell = buy_price(ticker.ask, spread_bps, spec.decimal), sell_price(ticker.bid, spec.decimal)
    if buy > INT64_MAX:
        raise QuoteRangeError(spec.symbol, f"ask {ticker.ask} is beyond int64 at 10^{spec.decimal}")
    if sell <= 0:
        raise QuoteRangeError(spec.symbol, f"bid {ticker.bid} rounds to 0 at 10^{spec.decimal}")
    return PlatformQuote(
        asset=spec.symbol,
        buy_price=buy,
        sell_price=sell,
        decimal=spec.decimal,
        venue_time_ms=ticker.event_time_us // 1000,
        source=source,
    )


@dataclass(slots=True)
class _Entry:
    quote: PlatformQuote
    session: int
    # time.monotonic() and the wall clock (ms) of the last confirmation, read together at receipt
    confirmed_at: float
    confirmed_at_ms: int


class QuoteBook:
    """Latest quote per source and asset. Each source keeps its own quotes, so switching the published
    source (auto feed) never mixes a simulated price into a live update or waits for a quiet live market."""

    def __init__(self, specs: dict[str, AssetSpec], spread_bps: int, max_age_seconds: float) -> None:
        self._specs = specs
        self._spread_bps = spread_bps
        self._max_age = max_age_seconds
        self._entries: dict[tuple[str, str], _Entry] = {}

    def apply(self, event: FeedEvent) -> PlatformQuote | None:
        """Record a feed event; returns the new quote for a top of a configured asset with both sides.
        Raises QuoteRangeError for a top without a platform quote, after dropping the asset's old one."""
        if isinstance(event, Heartbeat):
            entry = self._entries.get((event.source, event.symbol))
            if entry is not None and entry.session == event.session and event.received_at > entry.confirmed_at:
                entry.confirmed_at, entry.confirmed_at_ms = event.received_at, event.received_at_ms
            return None
        if isinstance(event, Withdrawn):
            # the venue's top moved to something unreadable: the last good one is no longer its top
            self._entries.pop((event.source, event.symbol), None)
            return None
        spec = self._specs.get(event.ticker.symbol)
        if spec is None:
            return None
        try:
            quote = normalise(event.ticker, spec, self._spread_bps, event.source)
        except QuoteRangeError:
            self._entries.pop((event.source, spec.symbol), None)
            raise
        if quote is None:
            # an empty side leaves nothing to quote: the old quote must not be vouched for any longer
            self._entries.pop((event.source, spec.symbol), None)
            return None
        self._entries[(event.source, spec.symbol)] = _Entry(
            quote, event.session, event.received_at, event.received_at_ms
        )
        return quote

    def age(self, source: str, asset: str, now: float) -> float | None:
        entry = self._entries.get((source, asset))
        return None if entry is None else max(0.0, now - entry.confirmed_at)

    def latest(self, source: str, asset: str) -> PlatformQuote | None:
        entry = self._entries.get((source, asset))
        return None if entry is None else entry.quote

    def fresh(self, source: str, now: float) -> list[PlatformQuote]:
        """The source's quotes no older than the maximum age, in configured asset order."""
        return [quote for quote, _ in self.fresh_confirmed(source, now)]

    def fresh_confirmed(self, source: str, now: float) -> list[tuple[PlatformQuote, int]]:
        """`fresh`, each quote with the wall-clock time (ms) the feed last produced or confirmed it."""
        quotes = []
        for asset in self._specs:
            entry = self._entries.get((source, asset))
            if entry is not None and now - entry.confirmed_at <= self._max_age:
                quotes.append((entry.quote, entry.confirmed_at_ms))
        return quotes
