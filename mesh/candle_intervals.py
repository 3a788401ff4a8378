"""The candle intervals' API names ("1m", ...) and their protobuf enum (exness.market.v1.CandleInterval),
shared by the candle builder (which serves them) and the gateway (which reads them)."""

from __future__ import annotations

from exness.market.v1 import candles_pb2

Interval = candles_pb2.CandleInterval

INTERVAL_BY_NAME: dict[str, int] = {
    "1m": Interval.CANDLE_INTERVAL_M1,
    "5m": Interval.CANDLE_INTERVAL_M5,
    "15m": Interval.CANDLE_INTERVAL_M15,
    "1h": Interval.CANDLE_INTERVAL_H1,
    "4h": Interval.CANDLE_INTERVAL_H4,
    "1d": Interval.CANDLE_INTERVAL_D1,
}
NAME_BY_INTERVAL: dict[int, str] = {value: name for name, value in INTERVAL_BY_NAME.items()}

# ListCandles: how many buckets at most, and how many when the request says 0
MAX_LIMIT = 1000
DEFAULT_LIMIT = 500
