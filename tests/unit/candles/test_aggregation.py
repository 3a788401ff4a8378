"""The pure candle arithmetic (candles.aggregation): UTC bucket boundaries of every interval, OHLC and tick
counts, and the properties the exactly-once builder rests on: any split of the quotes into batches,
merged in order, gives the candles of all of them at once."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given
from hypothesis import strategies as st

from candles.aggregation import INTERVAL_MS, INTERVALS, BucketKey, Candle, Tick, aggregate, bucket_start, merge_into


def ms(text: str) -> int:
    """'2026-12-01 13:47:05.250' (UTC) -> ms since the epoch."""
    when = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def test_bucket_starts_of_every_interval_in_utc() -> None:
    at = ms("2026-12-01 13:47:05.250")
    assert bucket_start(at, "1m") == ms("2026-12-01 13:47:00.000")
    assert bucket_start(at, "5m") == ms("2026-12-01 13:45:00.000")
    assert bucket_start(at, "15m") == ms("2026-12-01 13:45:00.000")
    assert bucket_start(at, "1h") == ms("2026-12-01 13:00:00.000")
    assert bucket_start(at, "4h") == ms("2026-12-01 12:00:00.000")
    assert bucket_start(at, "1d") == ms("2026-12-01 00:00:00.000")


def test_a_bucket_holds_its_start_and_not_its_end() -> None:
    for interval, width in INTERVAL_MS.items():
        start = ms("2026-12-01 00:00:00.000")
        assert bucket_start(start, interval) == start
        assert bucket_start(start + width - 1, interval) == start
        assert bucket_start(start + width, interval) == start + width
        assert bucket_start(start - 1, interval) == start - width


def test_the_day_turns_at_midnight_utc() -> None:
    before, after = ms("2026-12-31 23:59:59.999"), ms("2027-01-01 00:00:00.000")
    assert bucket_start(before, "1d") == ms("2026-12-31 00:00:00.000")
    assert bucket_start(after, "1d") == after
    assert bucket_start(before, "4h") == ms("2026-12-31 20:00:00.000")


def test_ohlc_and_ticks_of_one_bucket() -> None:
    base = ms("2026-12-01 10:00:00.000")
    ticks = [Tick("BTC_USDC", price, base + i * 1000) for i, price in enumerate([105, 103, 110, 101, 104])]
    candles = aggregate(ticks, ["1m"])
    assert candles == {("BTC_USDC", "1m", base): Candle(open=105, high=110, low=101, close=104, ticks=5)}


def test_quotes_across_a_boundary_split_into_two_buckets_per_interval() -> None:
    boundary = ms("2026-12-01 12:00:00.000")  # a 1m, 5m, 15m, 1h and 4h boundary, not a day's
    ticks = [Tick("ETH_USDC", 20, boundary - 1), Tick("ETH_USDC", 30, boundary), Tick("ETH_USDC", 25, boundary + 1)]
    candles = aggregate(ticks)
    for interval in ("1m", "5m", "15m", "1h", "4h"):
        width = INTERVAL_MS[interval]
        assert candles[("ETH_USDC", interval, boundary - width)] == Candle(20, 20, 20, 20, 1)
        assert candles[("ETH_USDC", interval, boundary)] == Candle(30, 30, 25, 25, 2)
    assert candles[("ETH_USDC", "1d", ms("2026-12-01 00:00:00.000"))] == Candle(20, 30, 20, 25, 3)
    assert len(candles) == 2 * 5 + 1


def test_assets_never_mix() -> None:
    at = ms("2026-12-01 10:00:00.000")
    candles = aggregate([Tick("BTC_USDC", 100, at), Tick("SOL_USDC", 7, at + 1)], ["1m"])
    assert candles == {("BTC_USDC", "1m", at): Candle.of(100), ("SOL_USDC", "1m", at): Candle.of(7)}


# ---- properties -----------------------------------------------------------------------------------------

DAY = INTERVAL_MS["1d"]
START = ms("2026-11-30 22:00:00.000")

# ticks in stream order: times never go backwards (entry ids only grow)
tick_lists = st.lists(
    st.tuples(st.sampled_from(["BTC_USDC", "ETH_USDC"]), st.integers(1, 10**12), st.integers(0, 90_000)),
    max_size=60,
).map(
    lambda steps: [
        Tick(asset, price, START + sum(step for _, _, step in steps[: i + 1]) * 37)
        for i, (asset, price, _) in enumerate(steps)
    ]
)


@given(tick_lists, st.lists(st.integers(0, 60), max_size=8))
def test_any_split_into_batches_gives_the_same_candles(ticks: list[Tick], cuts: list[int]) -> None:
    bounds = sorted({0, len(ticks), *(min(cut, len(ticks)) for cut in cuts)})
    folded: dict[BucketKey, Candle] = {}
    for lo, hi in itertools.pairwise(bounds):
        merge_into(folded, aggregate(ticks[lo:hi]))
    assert folded == aggregate(ticks)


@given(tick_lists)
def test_candles_are_consistent(ticks: list[Tick]) -> None:
    candles = aggregate(ticks)
    for (asset, interval, start), candle in candles.items():
        inside = [t.price for t in ticks if t.asset == asset and bucket_start(t.time_ms, interval) == start]
        assert candle == Candle(inside[0], max(inside), min(inside), inside[-1], len(inside))
        assert start % INTERVAL_MS[interval] == 0
    # every interval counts every tick once
    for interval in INTERVALS:
        assert sum(c.ticks for (_, i, _), c in candles.items() if i == interval) == len(ticks)


@given(st.integers(-(10**15), 10**15), st.sampled_from(INTERVALS))
def test_bucket_start_is_the_greatest_multiple_not_after(time_ms: int, interval: str) -> None:
    start, width = bucket_start(time_ms, interval), INTERVAL_MS[interval]
    assert start % width == 0 and start <= time_ms < start + width
    assert DAY % width == 0
