"""Candle arithmetic, pure: which bucket a quote falls in (UTC, per interval), a bucket's OHLC and tick
count, and how two partial candles of one bucket combine. No I/O, no clock: a quote's time is its stream
entry's millisecond part, so the same entries always give the same candles, in any batching
(`merge` is associative, with the earlier partial on the left).

The store (`candles.store`) applies `merge` in SQL with the same rule; the property tests hold both to it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MINUTE_MS = 60_000

# API name -> bucket width in ms. Every width divides a day, and the epoch began at 00:00 UTC, so
# buckets start at multiples of their width: a day is 00:00-24:00 UTC, 4h buckets start at 00, 04, ... UTC.
INTERVAL_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "1d": 1440 * MINUTE_MS,
}
INTERVALS: tuple[str, ...] = tuple(INTERVAL_MS)


def bucket_start(time_ms: int, interval: str) -> int:
    """The start (ms since the epoch, UTC) of the `interval` bucket holding `time_ms`."""
    width = INTERVAL_MS[interval]
    return time_ms - time_ms % width


@dataclass(frozen=True, slots=True)
class Tick:
    """One published bid of one asset at its stream entry's time."""

    asset: str
    price: int
    time_ms: int


@dataclass(frozen=True, slots=True)
class Candle:
    open: int
    high: int
    low: int
    close: int
    ticks: int

    @classmethod
    def of(cls, price: int) -> Candle:
        return cls(price, price, price, price, 1)

    def merge(self, later: Candle) -> Candle:
        """This bucket's candle followed by `later`, a candle of the same bucket built from later quotes."""
        return Candle(
            self.open, max(self.high, later.high), min(self.low, later.low), later.close, self.ticks + later.ticks
        )


# (asset, interval, bucket start ms)
BucketKey = tuple[str, str, int]


def aggregate(ticks: Iterable[Tick], intervals: Iterable[str] = INTERVALS) -> dict[BucketKey, Candle]:
    """The candles of `ticks` (in stream order) for every interval, keyed by bucket; insertion order is
    the order each bucket was first touched."""
    widths = [(interval, INTERVAL_MS[interval]) for interval in intervals]
    candles: dict[BucketKey, Candle] = {}
    for tick in ticks:
        for interval, width in widths:
            key = (tick.asset, interval, tick.time_ms - tick.time_ms % width)
            known = candles.get(key)
            candles[key] = Candle.of(tick.price) if known is None else known.merge(Candle.of(tick.price))
    return candles


def merge_into(candles: dict[BucketKey, Candle], later: dict[BucketKey, Candle]) -> None:
    """Fold a later batch's candles into `candles` (what one more committed batch does to the table)."""
    for key, candle in later.items():
        known = candles.get(key)
        candles[key] = candle if known is None else known.merge(candle)
