"""Venue klines -> our candles (candles.backfill.parse_klines), checked against what the fake Backpack
server answers (its shape is the venue's): whole buckets before the cut-off only, prices rounded down to the
scale like the bid, ticks 0; anything that does not fit is left out."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from candles.aggregation import Candle
from candles.backfill import KlineError, parse_klines
from pooler.fake_backpack.klines import KlineBook, rest_klines

T0 = int(dt.datetime(2026, 9, 1, 16, 52, tzinfo=dt.UTC).timestamp())


def _venue_answer(interval: str, end: int) -> object:
    book = KlineBook()
    for offset, price in [(5, "101.05"), (20, "101.02"), (61, "101.06"), (70, "101.10"), (130, "100.90")]:
        book.record("SOL_USDC", Decimal(price), Decimal("1"), T0 + offset + 0.25)
    query = {"symbol": "SOL_USDC", "interval": interval, "startTime": str(T0 - 3600), "endTime": str(end)}
    status, _, body = rest_klines(book, {"SOL_USDC"}, query)
    assert status == 200
    return json.loads(body)


def test_fake_venue_minutes_become_our_candles() -> None:
    until_ms = (T0 + 180) * 1000
    candles = parse_klines(_venue_answer("1m", T0 + 180), "SOL_USDC", "1m", 2, until_ms)
    assert candles == {
        ("SOL_USDC", "1m", T0 * 1000): Candle(10105, 10105, 10102, 10102, 0),
        ("SOL_USDC", "1m", (T0 + 60) * 1000): Candle(10106, 10110, 10106, 10110, 0),
        ("SOL_USDC", "1m", (T0 + 120) * 1000): Candle(10090, 10090, 10090, 10090, 0),
    }


def test_prices_round_down_to_the_scale_and_buckets_end_by_the_cut_off() -> None:
    body = [
        {"start": "2026-09-01 16:52:00", "end": "2026-09-01 16:53:00", "open": "1.239", "high": "1.2999",
         "low": "1.2", "close": "1.21", "volume": "1", "quoteVolume": "1", "trades": "1"},
        {"start": "2026-09-01 16:53:00", "end": "2026-09-01 16:54:00", "open": "1", "high": "1", "low": "1",
         "close": "1", "volume": "1", "quoteVolume": "1", "trades": "1"},
    ]  # fmt: skip
    candles = parse_klines(body, "SOL_USDC", "1m", 2, (T0 + 90) * 1000)
    assert candles == {("SOL_USDC", "1m", T0 * 1000): Candle(123, 129, 120, 121, 0)}


@pytest.mark.parametrize(
    "item",
    [
        {"start": "2026-09-01 16:52:00", "open": None, "high": None, "low": None, "close": None},
        {"start": "2026-09-01 16:52:30", "open": "1", "high": "1", "low": "1", "close": "1"},
        {"start": "yesterday", "open": "1", "high": "1", "low": "1", "close": "1"},
        {"start": "2026-09-01 16:52:00", "open": "NaN", "high": "1", "low": "1", "close": "1"},
        {"start": "2026-09-01 16:52:00", "open": "-1", "high": "1", "low": "1", "close": "1"},
        {"start": "2026-09-01 16:52:00", "open": "1e999999", "high": "1", "low": "1", "close": "1"},
        "not an object",
    ],
)
def test_candles_that_do_not_fit_are_left_out(item: object) -> None:
    assert parse_klines([item], "SOL_USDC", "1m", 2, (T0 + 600) * 1000) == {}


def test_an_answer_that_is_not_an_array_is_refused() -> None:
    with pytest.raises(KlineError):
        parse_klines({"code": "INVALID_CLIENT_REQUEST"}, "SOL_USDC", "1m", 2, T0 * 1000)
