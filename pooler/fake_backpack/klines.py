"""The fake Backpack server's klines: candles of its own price path, served as the venue's
`GET /api/v1/klines?symbol=&interval=&startTime=[&endTime=][&priceType=]` answers them.

What the fake trades: it has no trades, so every top it publishes counts as one trade at the top's bid
for the bid's quantity (the bid is what the platform's own candles chart). The shape is the venue's:
an array ascending by `start`, every value a string, `start`/`end` as naive-UTC `"YYYY-MM-DD HH:MM:SS"`,
`end = start + interval`; `startTime`/`endTime` are UTC seconds, `endTime` defaulting to now. A candle
is included when it ends after `startTime` (so the one holding `startTime` comes first, as on the wire)
and no later than `endTime` (the candle still in progress is left out, as a capture suggests). Buckets
in which the fake published nothing are left out rather than sent with null prices. Weeks start on
Monday, 3-day buckets count from the epoch, months are calendar months (the venue documents none of
these).

Memory is bounded: 1-second buckets for the last SECOND_RETENTION seconds (the `1s` interval), 1-minute
buckets for the last MINUTE_RETENTION minutes (every other interval is built from them)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus

# interval -> seconds; "1month" is calendar-based and handled apart
INTERVAL_SECONDS = {
    "1s": 1,
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14_400,
    "6h": 21_600,
    "8h": 28_800,
    "12h": 43_200,
    "1d": 86_400,
    "3d": 259_200,
    "1w": 604_800,
}
INTERVALS = (*INTERVAL_SECONDS, "1month")
PRICE_TYPES = ("Last", "Index", "Mark")
SECOND_RETENTION = 2 * 3600
MINUTE_RETENTION = 31 * 24 * 60
# 1970-01-01 was a Thursday: weeks (Monday 00:00 UTC) are offset by four days from the epoch
_WEEK_OFFSET = 4 * 86_400


@dataclass(slots=True)
class _Candle:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int

    def add(self, price: Decimal, quantity: Decimal) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += quantity
        self.quote_volume += price * quantity
        self.trades += 1

    def merge(self, later: _Candle) -> None:
        self.high = max(self.high, later.high)
        self.low = min(self.low, later.low)
        self.close = later.close
        self.volume += later.volume
        self.quote_volume += later.quote_volume
        self.trades += later.trades


def _new(price: Decimal, quantity: Decimal) -> _Candle:
    return _Candle(price, price, price, price, quantity, price * quantity, 1)


class _Buckets:
    """Candles of one bucket width, in time order, the oldest dropped beyond the retention."""

    def __init__(self, width: int, retention: int) -> None:
        self.width = width
        self.retention = retention
        self.candles: dict[int, _Candle] = {}

    def add(self, at: int, price: Decimal, quantity: Decimal) -> None:
        start = at - at % self.width
        candle = self.candles.get(start)
        if candle is not None:
            candle.add(price, quantity)
            return
        self.candles[start] = _new(price, quantity)
        # insertion order is time order (the clock of the fake only moves on): the oldest come first
        horizon = start - self.retention * self.width
        while self.candles:
            oldest = next(iter(self.candles))
            if oldest > horizon:
                break
            del self.candles[oldest]


def bucket_start(at: int, interval: str) -> int:
    """The start (UTC seconds) of the `interval` bucket holding `at`."""
    if interval == "1month":
        day = dt.datetime.fromtimestamp(at, dt.UTC)
        return int(dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC).timestamp())
    width = INTERVAL_SECONDS[interval]
    offset = _WEEK_OFFSET if interval == "1w" else 0
    return at - (at - offset) % width


def bucket_end(start: int, interval: str) -> int:
    if interval == "1month":
        day = dt.datetime.fromtimestamp(start, dt.UTC)
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        return int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp())
    return start + INTERVAL_SECONDS[interval]


def _when(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


class KlineBook:
    """Every market's candles, fed by the tops the fake publishes."""

    def __init__(self) -> None:
        self._seconds: dict[str, _Buckets] = {}
        self._minutes: dict[str, _Buckets] = {}

    def record(self, symbol: str, price: Decimal, quantity: Decimal, at: float) -> None:
        """One trade of `quantity` at `price`, at `at` (UTC seconds)."""
        second = int(at)
        self._seconds.setdefault(symbol, _Buckets(1, SECOND_RETENTION)).add(second, price, quantity)
        self._minutes.setdefault(symbol, _Buckets(60, MINUTE_RETENTION)).add(second, price, quantity)

    def klines(self, symbol: str, interval: str, start_time: int, end_time: int) -> list[dict[str, str]]:
        """The venue's answer for the candles of `symbol` that end in (start_time, end_time]."""
        source = (self._seconds if interval == "1s" else self._minutes).get(symbol)
        if source is None or end_time <= start_time:
            return []
        merged: dict[int, _Candle] = {}
        first = bucket_start(start_time, interval)
        for at, candle in source.candles.items():
            if at < first:
                continue
            start = bucket_start(at, interval)
            if bucket_end(start, interval) > end_time:
                break  # time order: every later candle ends later still
            into = merged.get(start)
            if into is None:
                merged[start] = _Candle(
                    candle.open,
                    candle.high,
                    candle.low,
                    candle.close,
                    candle.volume,
                    candle.quote_volume,
                    candle.trades,
                )
            else:
                into.merge(candle)
        return [
            {
                "close": str(c.close),
                "end": _when(bucket_end(start, interval)),
                "high": str(c.high),
                "low": str(c.low),
                "open": str(c.open),
                "quoteVolume": str(c.quote_volume),
                "start": _when(start),
                "trades": str(c.trades),
                "volume": str(c.volume),
            }
            for start, c in merged.items()
        ]


def rest_klines(
    book: KlineBook, markets: set[str], query: dict[str, str], now: float | None = None
) -> tuple[HTTPStatus, str, str]:
    """`GET /api/v1/klines` as the venue answers it: (status, content type, body). Parameter-parse errors
    are plain text, an unknown market is the JSON error body the venue sends for one."""
    for name in ("symbol", "interval", "startTime"):
        if name not in query:
            return HTTPStatus.BAD_REQUEST, "text/plain; charset=utf-8", f"missing required parameter `{name}`"
    if query["interval"] not in INTERVALS:
        return (
            HTTPStatus.BAD_REQUEST,
            "text/plain; charset=utf-8",
            f"failed to parse parameter `interval`: unknown variant `{query['interval'][:40]}`",
        )
    if query.get("priceType", "Last") not in PRICE_TYPES:
        return (
            HTTPStatus.BAD_REQUEST,
            "text/plain; charset=utf-8",
            f"failed to parse parameter `priceType`: unknown variant `{query['priceType'][:40]}`",
        )
    times: dict[str, int] = {}
    for name in ("startTime", "endTime"):
        if name in query:
            text = query[name]
            if not re.fullmatch(r"-?[0-9]{1,18}", text):
                return (
                    HTTPStatus.BAD_REQUEST,
                    "text/plain; charset=utf-8",
                    f"failed to parse parameter `{name}`: invalid digit found in string",
                )
            times[name] = int(text)
    if query["symbol"] not in markets:
        return (
            HTTPStatus.BAD_REQUEST,
            "application/json; charset=utf-8",
            json.dumps({"code": "INVALID_CLIENT_REQUEST", "message": "Invalid market symbol"}),
        )
    end = times.get("endTime", int(time.time() if now is None else now))
    body = book.klines(query["symbol"], query["interval"], times["startTime"], end)
    return HTTPStatus.OK, "application/json; charset=utf-8", json.dumps(body, separators=(",", ":"))
