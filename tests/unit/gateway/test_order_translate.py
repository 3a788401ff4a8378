"""gateway.order_translate: a pending order's request converts exactly (dollars to the asset's scale, an
ISO-8601 expiry to stream milliseconds) or is refused with the field named; engine orders come back as the
API's shape, a rejected one with its reason code."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from exness.engine.v1 import commands_pb2, orders_pb2

from gateway.errors import REJECTION_STATUS, ApiError
from gateway.order_schemas import PlaceOrderRequest
from gateway.order_translate import place_order_command, record_out
from tests.unit.gateway.helpers import SPECS


def _request(**changes: Any) -> PlaceOrderRequest:
    body: dict[str, Any] = {"asset": "BTC_USDC", "side": "SHORT", "type": "STOP", "price": "115000.5",
                            "quantity": "0.01", "leverage": 10, **changes}  # fmt: skip
    return PlaceOrderRequest.model_validate(body)


def test_a_request_converts_exactly() -> None:
    command = place_order_command(
        _request(stopLoss="120000", expiresAt="2026-12-31T23:59:59+01:00"), SPECS, uuid.uuid4(), "k"
    )
    body = command.place_order
    assert (body.side, body.type, body.price, body.quantity, body.leverage) == (
        2, orders_pb2.ORDER_TYPE_STOP, 1_150_005_000, 1_000_000, 10,
    )  # fmt: skip
    assert (body.stop_loss, body.take_profit, body.price_decimal) == (1_200_000_000, 0, 4)
    assert body.expires_at_ms == int(dt.datetime(2026, 12, 31, 22, 59, 59, tzinfo=dt.UTC).timestamp() * 1000)
    assert command.idempotency_key == "k"
    # no offset: UTC
    naive = place_order_command(_request(expiresAt="2026-12-31T23:59:59"), SPECS, uuid.uuid4(), "")
    assert naive.place_order.expires_at_ms == int(
        dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp() * 1000
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"price": "115000.00001"}, "price"), ({"stopLoss": "1.123456"}, "stopLoss"),
     ({"quantity": "0.000000001"}, "quantity"), ({"expiresAt": "1969-12-31T00:00:00Z"}, "expiresAt"),
     ({"leverage": 2**32}, "leverage")],
)  # fmt: skip
def test_values_that_do_not_convert_are_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiError) as refused:
        place_order_command(_request(**changes), SPECS, uuid.uuid4(), "")
    assert refused.value.status == 422 and refused.value.details and refused.value.details[0]["field"] == field


def test_an_unknown_asset_is_refused() -> None:
    with pytest.raises(ApiError) as refused:
        place_order_command(_request(asset="DOGE_USDC"), SPECS, uuid.uuid4(), "")
    assert (refused.value.status, refused.value.code) == (422, "UNKNOWN_ASSET")


def test_a_rejected_record_carries_its_reason_and_the_order_statuses_map() -> None:
    order = orders_pb2.PendingOrder(id="ord-1-0", asset="BTC_USDC", side=1, type=orders_pb2.ORDER_TYPE_LIMIT,
                                    price=1, quantity=1_000, leverage=2, reserved_cents=5, decimal=4,
                                    created_at_ms=1, expires_at_ms=0)  # fmt: skip
    record = commands_pb2.OrderRecord(
        order=order, status=orders_pb2.ORDER_STATUS_REJECTED, finished_at_ms=2,
        reject_reason=commands_pb2.REJECT_REASON_INSUFFICIENT_BALANCE, message="no money",
    )  # fmt: skip
    out = record_out(record)
    assert (out.status, out.reason, out.reasonMessage, out.positionId, out.expiresAt) == (
        "REJECTED", "INSUFFICIENT_BALANCE", "no money", None, None,
    )  # fmt: skip
    with pytest.raises(ApiError) as bad:
        record_out(commands_pb2.OrderRecord(order=order, status=orders_pb2.ORDER_STATUS_PENDING))
    assert bad.value.status == 502
    assert (REJECTION_STATUS[commands_pb2.REJECT_REASON_ORDER_NOT_PENDING], REJECTION_STATUS[
        commands_pb2.REJECT_REASON_ORDER_NOT_FOUND]) == (409, 404)  # fmt: skip
