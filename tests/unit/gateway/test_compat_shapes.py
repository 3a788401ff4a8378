"""gateway.compat_shapes: integers become JSON numbers that print as exactly the decimal they stand for
(or are refused), the rows the original client reads, its price frame and error body; and
gateway.errors.UnexpectedErrorMiddleware: a 500 still carries the CORS headers."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from exness.common.v1 import trading_pb2
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import compat_shapes as shapes
from gateway.candles_client import CandleBar
from gateway.errors import ApiError, UnexpectedErrorMiddleware


@given(value=st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1), decimals=st.integers(0, 12))
def test_a_number_of_15_digits_prints_as_its_exact_decimal(value: int, decimals: int) -> None:
    number = shapes.exact_number(value, decimals)
    # what JSON carries reads back as exactly value / 10**decimals
    assert Decimal(json.dumps(number)) == Decimal(value).scaleb(-decimals)


def test_more_digits_than_a_double_carries_are_refused() -> None:
    assert shapes.exact_number(999_999_999_999_999, 2) == 9_999_999_999_999.99
    with pytest.raises(ApiError) as refused:
        shapes.exact_number(1_234_567_890_123_456, 2)
    assert refused.value.status == 502
    # trailing zeros are not digits that need carrying
    assert shapes.exact_number(12_000_000_000_000_000, 4) == 1_200_000_000_000.0


def test_the_dollar_helpers() -> None:
    assert json.dumps([shapes.dollars(11823450), shapes.dollars(-150), shapes.dollars(0)]) == "[118234.5, -1.5, 0.0]"
    assert shapes.price(1_194_168_450, 4) == 119416.845
    assert shapes.level(0, 4) is None and shapes.level(1_000_005_000, 4) == 100000.5
    assert shapes.quantity(1_000) == 0.00001 and shapes.quantity(200_000_000) == 2.0


POSITION = trading_pb2.Position(
    id="p-1",
    asset="BTC_USDC",
    side=trading_pb2.SIDE_SHORT,
    quantity=1_000_000,
    leverage=10,
    entry_price=1_182_345_000,
    margin_cents=11_824,
    liquidation_price=1_289_000_000,
    stop_loss=0,
    take_profit=1_100_000_000,
    decimal=4,
    opened_at_ms=1_700_000_000_000,
)


def test_open_rows_never_carry_what_marks_a_closed_one() -> None:
    row = shapes.open_row(POSITION, 1_194_168_450, -11_824)
    assert not {"closePrice", "reason", "liquidated"} & set(row)
    assert row["side"] == "SHORT" and row["openPrice"] == 118234.5 and row["currentPrice"] == 119416.845
    assert (row["stopLoss"], row["takeProfit"], row["unrealizedPnl"]) == (None, 110000.0, -118.24)
    unpriced = shapes.open_row(POSITION, 0, 0)
    assert unpriced["currentPrice"] is None and unpriced["unrealizedPnl"] is None


def test_closed_rows() -> None:
    trade = trading_pb2.ClosedTrade(
        id="p-1",
        asset="BTC_USDC",
        side=trading_pb2.SIDE_LONG,
        quantity=1_000_000,
        leverage=10,
        entry_price=1_194_168_450,
        close_price=1_080_000_000,
        margin_cents=11_942,
        pnl_cents=-11_417,
        credited_cents=525,
        reason=trading_pb2.CLOSE_REASON_LIQUIDATION,
        decimal=4,
        opened_at_ms=1_700_000_000_000,
        closed_at_ms=1_700_000_060_000,
    )
    row = shapes.closed_row(trade)
    assert (row["openPrice"], row["closePrice"], row["pnl"], row["credited"]) == (119416.845, 108000.0, -114.17, 5.25)
    assert (row["reason"], row["liquidated"]) == ("LIQUIDATION", True)
    manual = shapes.closed_row(
        trading_pb2.ClosedTrade(side=trading_pb2.SIDE_LONG, reason=trading_pb2.CLOSE_REASON_MANUAL)
    )
    assert (manual["reason"], manual["liquidated"]) == ("MANUAL", False)


def test_the_price_frame_carries_json_text() -> None:
    ours = json.dumps(
        {"type": "PRICE_UPDATE", "prices": {"BTC_USDC": {"buyPrice": 11, "sellPrice": 10, "decimal": 4, "ts": 5}}}
    )
    frame = json.loads(shapes.original_price_frame(ours) or "")
    assert set(frame) == {"type", "data"} and frame["type"] == "PRICE_UPDATE" and isinstance(frame["data"], str)
    assert json.loads(frame["data"]) == {"BTC_USDC": {"buyPrice": 11, "sellPrice": 10, "decimal": 4}}
    # other messages of the hub (e.g. live candles others subscribed to) are not the original client's
    assert shapes.original_price_frame(json.dumps({"type": "CANDLE", "asset": "BTC_USDC"})) is None


def test_the_error_body_is_text() -> None:
    error = ApiError(422, "VALIDATION_ERROR", "quantity: bad", details=[{"field": "quantity", "message": "bad"}])
    assert shapes.error_body(error) == {
        "error": "quantity: bad",
        "message": "quantity: bad",
        "code": "VALIDATION_ERROR",
        "details": [{"field": "quantity", "message": "bad"}],
    }


async def _boom(_: Request) -> Response:
    raise RuntimeError("a defect")


async def test_a_500_passes_through_cors() -> None:
    app = Starlette(routes=[Route("/boom", _boom)])
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(CORSMiddleware, allow_origins=["http://app.example"], allow_credentials=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom", headers={"Origin": "http://app.example"})
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "INTERNAL_ERROR", "message": "internal error"}}
    assert response.headers["access-control-allow-origin"] == "http://app.example"
    assert response.headers["access-control-allow-credentials"] == "true"


def test_the_original_symbols_name_our_assets() -> None:
    assets = ["BTC_USDC", "ETH_USDC", "SOL_USDC"]
    assert shapes.asset_for_symbol("BTCUSDT", assets) == "BTC_USDC"
    assert shapes.asset_for_symbol("solusdt", assets) == "SOL_USDC"
    assert shapes.asset_for_symbol("ETH_USDC", assets) == "ETH_USDC"
    assert shapes.asset_for_symbol("ETHUSDC", assets) == "ETH_USDC"
    assert shapes.asset_for_symbol("DOGEUSDT", assets) is None
    assert shapes.asset_for_symbol("USDT", assets) is None


def test_a_candlestick_is_seconds_and_dollars() -> None:
    bar = CandleBar(
        time_ms=1_700_000_040_000,
        open=1_182_345_000,
        high=1_190_000_000,
        low=1_180_000_100,
        close=1_185_000_000,
        ticks=4,
    )
    assert shapes.candlestick(bar, 4) == {
        "time": 1_700_000_040,
        "open": 118234.5,
        "high": 119000.0,
        "low": 118000.01,
        "close": 118500.0,
    }
