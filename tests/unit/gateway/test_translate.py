"""gateway.translate: REST -> protobuf order conversion is exact or refused, and the output texts."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from exness.common.v1 import trading_pb2

from gateway.errors import ApiError
from gateway.translate import closed_trade_out, open_position_command, trade_out
from tests.unit.gateway.helpers import SPECS, order


def test_order_conversion_is_exact() -> None:
    user_id = uuid.uuid4()
    command = open_position_command(
        order(
            stopLoss=Decimal("100000.5"), takeProfit="150000", tradeOpeningPrice=Decimal("119416.8450"), slippage="1.25"
        ),
        SPECS,
        user_id,
        "key-1",
    )
    body = command.open_position
    assert (body.asset, body.side, body.quantity, body.leverage) == ("BTC_USDC", trading_pb2.SIDE_LONG, 1_000_000, 10)
    assert body.price_decimal == 4  # the scale its prices were converted with, checked by the engine
    assert (body.stop_loss, body.take_profit, body.trade_opening_price) == (1_000_005_000, 1_500_000_000, 1_194_168_450)
    assert body.slippage_bps == 125
    assert (command.user_id, command.idempotency_key) == (str(user_id), "key-1")
    assert uuid.UUID(command.request_id)
    default = open_position_command(order(), SPECS, user_id, "").open_position
    assert (default.slippage_bps, default.stop_loss, default.take_profit, default.trade_opening_price) == (100, 0, 0, 0)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"quantity": Decimal("0.000000001")}, "VALIDATION_ERROR"),
        ({"stopLoss": Decimal("1.00001")}, "VALIDATION_ERROR"),
        ({"slippage": Decimal("0.001")}, "VALIDATION_ERROR"),
        ({"leverage": 2**40}, "VALIDATION_ERROR"),
        ({"asset": "__proto__"}, "UNKNOWN_ASSET"),
    ],
)
def test_order_conversion_refusals(fields: dict[str, object], code: str) -> None:
    with pytest.raises(ApiError) as caught:
        open_position_command(order(**fields), SPECS, uuid.uuid4(), "")
    assert (caught.value.status, caught.value.code) == (422, code)
    if code == "VALIDATION_ERROR":
        # the conversion's refusals carry `details` like pydantic's, naming the field
        details = caught.value.body()["error"]["details"]  # type: ignore[index]
        assert [detail["field"] for detail in details] == list(fields)


def test_output_formatting() -> None:
    # the dollar and quantity texts themselves are mesh.units' (tests/unit/mesh/test_units.py)
    trade = closed_trade_out(
        trading_pb2.ClosedTrade(
            id="t",
            side=trading_pb2.SIDE_SHORT,
            quantity=123_000,
            reason=trading_pb2.CLOSE_REASON_LIQUIDATION,
            closed_at_ms=1000,
        )
    )
    assert (trade.side, trade.quantity, trade.reason, trade.stopLoss) == ("SHORT", "0.00123", "LIQUIDATION", None)


@pytest.mark.parametrize("side", [trading_pb2.SIDE_UNSPECIFIED, 7])
def test_an_unknown_side_is_an_engine_error_not_long(side: int) -> None:
    for convert in (
        lambda: closed_trade_out(trading_pb2.ClosedTrade(id="t", side=side, closed_at_ms=1)),
        lambda: trade_out(trading_pb2.Position(id="p", side=side, opened_at_ms=1), None, None),
    ):
        with pytest.raises(ApiError) as caught:
            convert()
        assert (caught.value.status, caught.value.code) == (502, "ENGINE_ERROR")
