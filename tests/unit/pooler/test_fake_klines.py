"""The fake Backpack server's klines: candles of the tops it published, in the venue's shape and rules."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from http import HTTPStatus

import pytest

from pooler.fake_backpack import FakeBackpack
from pooler.fake_backpack.klines import MINUTE_RETENTION, KlineBook, bucket_end, bucket_start

# 2026-09-01 16:52:00 UTC, the start of the venue's recorded first candle
T0 = int(dt.datetime(2026, 9, 1, 16, 52, tzinfo=dt.UTC).timestamp())


def _book() -> KlineBook:
    book = KlineBook()
    for offset, price, quantity in [
        (5, "101.05", "0.20"),
        (20, "101.02", "0.24"),
        (61, "101.06", "0.44"),
        (70, "101.10", "1.00"),
        (130, "100.90", "0.10"),
    ]:
        book.record("SOL_USDC", Decimal(price), Decimal(quantity), T0 + offset + 0.25)
    return book


def test_minute_candles_have_the_venues_shape_and_exact_sums() -> None:
    candles = _book().klines("SOL_USDC", "1m", T0 + 31, T0 + 180)
    assert candles[0] == {
        "close": "101.02",
        "end": "2026-09-01 16:53:00",
        "high": "101.05",
        "low": "101.02",
        "open": "101.05",
        "quoteVolume": "44.4548",
        "start": "2026-09-01 16:52:00",
        "trades": "2",
        "volume": "0.44",
    }
    assert [c["start"][11:] for c in candles] == ["16:52:00", "16:53:00", "16:54:00"]
    assert (candles[1]["open"], candles[1]["high"], candles[1]["close"], candles[1]["trades"]) == (
        "101.06",
        "101.10",
        "101.10",
        "2",
    )
    # every value is a string, as on the wire
    assert all(isinstance(value, str) for candle in candles for value in candle.values())


def test_the_candle_in_progress_and_those_before_start_time_are_left_out() -> None:
    book = _book()
    # endTime inside the 16:54 candle: it has not ended, so it is not served
    assert [c["start"][11:] for c in book.klines("SOL_USDC", "1m", T0, T0 + 150)] == ["16:52:00", "16:53:00"]
    # startTime inside 16:53: the candle holding it comes first
    assert [c["start"][11:] for c in book.klines("SOL_USDC", "1m", T0 + 90, T0 + 180)] == ["16:53:00", "16:54:00"]
    assert book.klines("SOL_USDC", "1m", T0 + 180, T0 + 60) == []
    assert book.klines("ETH_USDC", "1m", T0, T0 + 180) == []


def test_wider_intervals_aggregate_the_minutes() -> None:
    [candle] = _book().klines("SOL_USDC", "5m", T0, T0 + 600)
    assert candle == {
        "close": "100.90",
        "end": "2026-09-01 16:55:00",
        "high": "101.10",
        "low": "100.90",
        "open": "101.05",
        "quoteVolume": str(
            Decimal("101.05") * Decimal("0.20")
            + Decimal("101.02") * Decimal("0.24")
            + Decimal("101.06") * Decimal("0.44")
            + Decimal("101.10") * Decimal("1.00")
            + Decimal("100.90") * Decimal("0.10")
        ),
        "start": "2026-09-01 16:50:00",
        "trades": "5",
        "volume": "1.98",
    }
    [second] = _book().klines("SOL_USDC", "1s", T0 + 61, T0 + 63)
    assert (second["start"], second["end"], second["trades"]) == ("2026-09-01 16:53:01", "2026-09-01 16:53:02", "1")


@pytest.mark.parametrize(
    "interval,start,end",
    [
        ("1h", "2026-09-01 16:00:00", "2026-09-01 17:00:00"),
        ("4h", "2026-09-01 16:00:00", "2026-09-01 20:00:00"),
        ("1d", "2026-09-01 00:00:00", "2026-09-02 00:00:00"),
        ("3d", "2026-09-01 00:00:00", "2026-09-04 00:00:00"),  # day 20697 since the epoch, a multiple of 3
        ("1w", "2026-08-31 00:00:00", "2026-09-07 00:00:00"),  # a Monday
        ("1month", "2026-09-01 00:00:00", "2026-10-01 00:00:00"),
    ],
)
def test_bucket_boundaries(interval: str, start: str, end: str) -> None:
    at = T0 + 30
    begins = bucket_start(at, interval)
    when = dt.datetime.fromtimestamp
    assert when(begins, dt.UTC).strftime("%Y-%m-%d %H:%M:%S") == start
    assert when(bucket_end(begins, interval), dt.UTC).strftime("%Y-%m-%d %H:%M:%S") == end


def test_december_rolls_over_to_january() -> None:
    december = int(dt.datetime(2026, 12, 15, tzinfo=dt.UTC).timestamp())
    assert bucket_end(bucket_start(december, "1month"), "1month") == int(
        dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()
    )


def test_memory_is_bounded_by_the_retention() -> None:
    book = KlineBook()
    for minute in range(MINUTE_RETENTION + 50):
        book.record("SOL_USDC", Decimal("100"), Decimal("1"), T0 + minute * 60)
    candles = book.klines("SOL_USDC", "1m", 0, T0 + (MINUTE_RETENTION + 60) * 60)
    assert len(candles) == MINUTE_RETENTION


@pytest.mark.parametrize(
    "query,status,content_type,body",
    [
        ({"interval": "1m", "startTime": "1"}, 400, "text/plain", "missing required parameter `symbol`"),
        ({"symbol": "SOL_USDC", "startTime": "1"}, 400, "text/plain", "missing required parameter `interval`"),
        ({"symbol": "SOL_USDC", "interval": "1m"}, 400, "text/plain", "missing required parameter `startTime`"),
        ({"symbol": "SOL_USDC", "interval": "7m", "startTime": "1"}, 400, "text/plain", "unknown variant `7m`"),
        ({"symbol": "SOL_USDC", "interval": "1m", "startTime": "1e3"}, 400, "text/plain", "`startTime`"),
        (
            {"symbol": "SOL_USDC", "interval": "1m", "startTime": "1", "endTime": "9" * 30},
            400,
            "text/plain",
            "`endTime`",
        ),
        (
            {"symbol": "SOL_USDC", "interval": "1m", "startTime": "1", "priceType": "Bid"},
            400,
            "text/plain",
            "`priceType`",
        ),
        (
            {"symbol": "NOPE_USDC", "interval": "1m", "startTime": "1"},
            400,
            "application/json",
            '{"code": "INVALID_CLIENT_REQUEST", "message": "Invalid market symbol"}',
        ),
    ],
)
def test_bad_requests_are_answered_as_the_venue_does(
    query: dict[str, str], status: int, content_type: str, body: str
) -> None:
    got_status, got_type, got_body = FakeBackpack(symbols=["SOL_USDC"]).rest_klines(query)
    assert (got_status, got_type.split(";")[0]) == (status, content_type)
    assert body in got_body


def test_end_time_defaults_to_now() -> None:
    server = FakeBackpack(symbols=["SOL_USDC"])
    server.klines = _book()
    status, content_type, body = server.rest_klines(
        {"symbol": "SOL_USDC", "interval": "1m", "startTime": str(T0), "priceType": "Mark"}, now=T0 + 125
    )
    assert (status, content_type) == (HTTPStatus.OK, "application/json; charset=utf-8")
    assert [c["start"][11:] for c in json.loads(body)] == ["16:52:00", "16:53:00"]
