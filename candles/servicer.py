"""`exness.market.v1.CandleService`: the candles of one asset and interval from PostgreSQL, newest `limit`
buckets before `before_ms`, oldest first. The gateway's `GET /api/v1/candles` is this call at the edge."""

from __future__ import annotations

import grpc
from exness.market.v1 import candles_pb2, candles_pb2_grpc
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from candles.store import read_candles
from mesh.candle_intervals import DEFAULT_LIMIT, MAX_LIMIT, NAME_BY_INTERVAL
from mesh.grpc_server import ServiceBinding
from mesh.units import AssetSpec

SERVICE_NAME = "exness.market.v1.CandleService"


class CandleServicer(candles_pb2_grpc.CandleServiceServicer):  # type: ignore[misc]
    def __init__(self, db: AsyncEngine, specs: dict[str, AssetSpec]) -> None:
        self._db = db
        self._specs = specs

    async def ListCandles(
        self, request: candles_pb2.ListCandlesRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> candles_pb2.ListCandlesResponse:
        spec = self._specs.get(request.asset)
        interval = NAME_BY_INTERVAL.get(request.interval)
        if spec is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown asset {request.asset[:40]!r}")
            raise AssertionError("abort raises")
        if interval is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown interval {request.interval}")
            raise AssertionError("abort raises")
        if request.limit > MAX_LIMIT:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"limit must be 1..{MAX_LIMIT}")
        if request.before_ms < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "before_ms must not be negative")
        try:
            async with self._db.connect() as conn:
                rows = await read_candles(
                    conn, spec.symbol, interval, request.limit or DEFAULT_LIMIT, request.before_ms or None
                )
        except (DBAPIError, OSError):
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the candle database is unavailable")
        return candles_pb2.ListCandlesResponse(
            asset=spec.symbol,
            interval=request.interval,
            decimal=spec.decimal,
            candles=[
                candles_pb2.Candle(time_ms=start, open=c.open, high=c.high, low=c.low, close=c.close, ticks=c.ticks)
                for start, c in rows
            ],
        )


def binding(servicer: CandleServicer) -> ServiceBinding:
    return ServiceBinding(
        SERVICE_NAME, lambda server: candles_pb2_grpc.add_CandleServiceServicer_to_server(servicer, server)
    )
