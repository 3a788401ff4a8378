"""GET /candles: candles of the bid, from the candle builder (gateway.candles_client)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from gateway.deps import ContextDep
from gateway.errors import ApiError
from gateway.routes import ExactJsonRoute, error_responses
from gateway.schemas import CandleOut, CandlesResponse
from mesh.candle_intervals import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(tags=["prices"], route_class=ExactJsonRoute)

IntervalName = Literal["1m", "5m", "15m", "1h", "4h", "1d"]


@router.get("/candles", response_model=CandlesResponse, responses=error_responses(400, 404, 503, 504))
async def candles(
    context: ContextDep,
    asset: Annotated[str, Query(min_length=1, max_length=32, examples=["BTC_USDC"])],
    interval: Annotated[IntervalName, Query()],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="only buckets starting before this time (UTC ms, at least 1)")
    ] = None,
) -> CandlesResponse:
    """The newest `limit` candles of the bid (`sellPrice`) of `asset` at `interval`, oldest first, prices
    scaled by 10^decimal; the last one is the live bucket, updated as quotes arrive."""
    if asset not in context.asset_specs:
        raise ApiError(404, "UNKNOWN_ASSET", f"unknown asset {asset!r}; traded: {', '.join(context.asset_specs)}")
    series = await context.candles.read(asset, interval, limit, before)
    return CandlesResponse(
        asset=series.asset,
        interval=series.interval,
        decimal=series.decimal,
        candles=[
            CandleOut(time=c.time_ms, open=c.open, high=c.high, low=c.low, close=c.close, ticks=c.ticks)
            for c in series.candles
        ],
    )
