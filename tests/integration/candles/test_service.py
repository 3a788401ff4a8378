"""CandleService over a real gRPC socket, against the test's PostgreSQL: the newest buckets before a time,
oldest first, and the refusals (unknown asset NOT_FOUND, bad interval or limit INVALID_ARGUMENT)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from exness.market.v1 import candles_pb2, candles_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from candles.aggregation import Candle
from candles.servicer import CandleServicer, binding
from candles.store import insert_history
from mesh.grpc_channel import insecure_channel
from mesh.grpc_server import GrpcServer
from tests.integration.candles.support import DAY_START, SPECS

M1 = candles_pb2.CANDLE_INTERVAL_M1


@pytest.fixture
async def stub(candles_db: AsyncEngine) -> AsyncIterator[candles_pb2_grpc.CandleServiceStub]:
    server = GrpcServer([binding(CandleServicer(candles_db, SPECS))], "127.0.0.1:0")
    await server.start()
    channel = insecure_channel(f"127.0.0.1:{server.port}")
    yield candles_pb2_grpc.CandleServiceStub(channel)
    await channel.close()
    await server.stop(0)


async def test_the_newest_buckets_before_a_time_oldest_first(
    candles_db: AsyncEngine, stub: candles_pb2_grpc.CandleServiceStub
) -> None:
    rows = {("BTC_USDC", "1m", DAY_START + i * 60_000): Candle(i + 1, i + 2, i, i + 1, 0) for i in range(10)}
    rows[("ETH_USDC", "1m", DAY_START)] = Candle(7, 7, 7, 7, 0)
    await insert_history(candles_db, rows)
    answer = await stub.ListCandles(
        candles_pb2.ListCandlesRequest(asset="BTC_USDC", interval=M1, limit=3, before_ms=DAY_START + 5 * 60_000)
    )
    assert answer.asset == "BTC_USDC" and answer.decimal == 4 and answer.interval == M1
    assert [c.time_ms for c in answer.candles] == [DAY_START + i * 60_000 for i in (2, 3, 4)]
    assert answer.candles[0] == candles_pb2.Candle(time_ms=DAY_START + 120_000, open=3, high=4, low=2, close=3)
    everything = await stub.ListCandles(candles_pb2.ListCandlesRequest(asset="BTC_USDC", interval=M1))
    assert len(everything.candles) == 10
    empty = await stub.ListCandles(
        candles_pb2.ListCandlesRequest(asset="ETH_USDC", interval=candles_pb2.CANDLE_INTERVAL_D1)
    )
    assert list(empty.candles) == []


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (candles_pb2.ListCandlesRequest(asset="DOGE_USDC", interval=M1), grpc.StatusCode.NOT_FOUND),
        (candles_pb2.ListCandlesRequest(asset="BTC_USDC"), grpc.StatusCode.INVALID_ARGUMENT),
        (candles_pb2.ListCandlesRequest(asset="BTC_USDC", interval=99), grpc.StatusCode.INVALID_ARGUMENT),  # type: ignore[arg-type]
        (candles_pb2.ListCandlesRequest(asset="BTC_USDC", interval=M1, limit=1001), grpc.StatusCode.INVALID_ARGUMENT),
        (candles_pb2.ListCandlesRequest(asset="BTC_USDC", interval=M1, before_ms=-1), grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_bad_requests_are_refused_with_their_status(
    stub: candles_pb2_grpc.CandleServiceStub, request_: candles_pb2.ListCandlesRequest, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ListCandles(request_)
    assert refused.value.code() == code


async def test_the_gateways_reader_maps_every_outcome(candles_db: AsyncEngine) -> None:
    """gateway.candles_client.CandleReader.read, the one reading function of the edge, over real sockets."""
    from gateway.candles_client import CandleBar, CandleReader
    from gateway.errors import ApiError

    await insert_history(candles_db, {("BTC_USDC", "1h", DAY_START): Candle(5, 9, 4, 8, 0)})
    server = GrpcServer([binding(CandleServicer(candles_db, SPECS))], "127.0.0.1:0")
    await server.start()
    reader = CandleReader(f"127.0.0.1:{server.port}")
    try:
        series = await reader.read("BTC_USDC", "1h", 10)
        assert (series.asset, series.interval, series.decimal) == ("BTC_USDC", "1h", 4)
        assert series.candles == [CandleBar(DAY_START, 5, 9, 4, 8, 0)]
        for call, status in [(reader.read("DOGE_USDC", "1h"), 404), (reader.read("BTC_USDC", "7m"), 422),
                             (reader.read("BTC_USDC", "1h", 0), 422)]:  # fmt: skip
            with pytest.raises(ApiError) as refused:
                await call
            assert refused.value.status == status
    finally:
        await reader.close()
        await server.stop(0)
    gone = CandleReader(f"127.0.0.1:{server.port}")
    with pytest.raises(ApiError) as unavailable:
        await gone.read("BTC_USDC", "1h")
    assert (unavailable.value.status, unavailable.value.code) == (503, "CANDLES_UNAVAILABLE")
    await gone.close()
