"""The gateway's link to the candle builder (`exness.market.v1.CandleService`, CANDLES_ADDR): one reading
function, `CandleReader.read`, used by `GET /api/v1/candles` and by any other edge that shows candles
(it converts units itself). Failures leave as `ApiError`s: an unknown asset 404, a bad interval or
limit 422, the builder unreachable 503, too slow 504."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from exness.market.v1 import candles_pb2, candles_pb2_grpc

from gateway.errors import ApiError
from mesh.candle_intervals import DEFAULT_LIMIT, INTERVAL_BY_NAME, MAX_LIMIT
from mesh.grpc_channel import insecure_channel

READ_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CandleBar:
    """One bucket: its start (UTC ms) and the bid's OHLC scaled by 10^decimal; ticks 0 = venue history."""

    time_ms: int
    open: int
    high: int
    low: int
    close: int
    ticks: int


@dataclass(frozen=True, slots=True)
class CandleSeries:
    asset: str
    interval: str
    decimal: int
    # oldest first
    candles: list[CandleBar]


def _error(error: grpc.aio.AioRpcError) -> ApiError:
    code = error.code()
    if code == grpc.StatusCode.NOT_FOUND:
        return ApiError(404, "UNKNOWN_ASSET", error.details() or "unknown asset")
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE):
        return ApiError(422, "VALIDATION_ERROR", error.details() or "invalid candle request")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ApiError(504, "CANDLES_TIMEOUT", "the candle service did not answer in time")
    return ApiError(503, "CANDLES_UNAVAILABLE", f"the candle service is unavailable: {code.name.lower()}")


class CandleReader:
    def __init__(self, address: str) -> None:
        self._channel = insecure_channel(address)
        self._stub = candles_pb2_grpc.CandleServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def read(
        self, asset: str, interval: str, limit: int = DEFAULT_LIMIT, before_ms: int | None = None
    ) -> CandleSeries:
        """The newest `limit` (1..1000) candles of `asset` at `interval` ("1m", "5m", "15m", "1h", "4h",
        "1d") starting before `before_ms` (None: up to the live one), oldest first."""
        if interval not in INTERVAL_BY_NAME:
            raise ApiError(422, "VALIDATION_ERROR", f"interval must be one of {', '.join(INTERVAL_BY_NAME)}")
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(422, "VALIDATION_ERROR", f"limit must be 1..{MAX_LIMIT}")
        request = candles_pb2.ListCandlesRequest(
            asset=asset,
            interval=INTERVAL_BY_NAME[interval],
            limit=limit,
            before_ms=before_ms or 0,
        )
        try:
            response = await self._stub.ListCandles(request, timeout=READ_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None
        return CandleSeries(
            asset=response.asset,
            interval=interval,
            decimal=response.decimal,
            candles=[CandleBar(c.time_ms, c.open, c.high, c.low, c.close, c.ticks) for c in response.candles],
        )
