"""Pending orders, REST <-> protobuf: the request to a PlaceOrder command (dollars scaled exactly to the
asset's price scale, as for /trade/create) and engine orders to OrderOut. No trading rules here."""

from __future__ import annotations

import datetime as dt
import uuid

from exness.engine.v1 import commands_pb2, orders_pb2

from gateway.errors import ApiError, validation_error
from gateway.order_schemas import OrderOut, OrderStatusName, PlaceOrderRequest
from gateway.translate import SIDES, dollars_scaled, quantity_scaled, side_name, timestamp, uint32
from mesh.units import AssetSpec, format_quantity

TYPES = {"LIMIT": orders_pb2.ORDER_TYPE_LIMIT, "STOP": orders_pb2.ORDER_TYPE_STOP}
TYPE_NAMES = {value: name for name, value in TYPES.items()}
STATUS_NAMES: dict[int, OrderStatusName] = {
    orders_pb2.ORDER_STATUS_PENDING: "PENDING",
    orders_pb2.ORDER_STATUS_FILLED: "FILLED",
    orders_pb2.ORDER_STATUS_CANCELLED: "CANCELLED",
    orders_pb2.ORDER_STATUS_EXPIRED: "EXPIRED",
    orders_pb2.ORDER_STATUS_REJECTED: "REJECTED",
}
# an expiry beyond this is refused as not a date a person means (and it keeps the ms in int64)
LATEST_EXPIRY = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def _expiry_ms(expires_at: dt.datetime | None) -> int:
    if expires_at is None:
        return 0
    moment = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=dt.UTC)
    if not dt.datetime(1970, 1, 1, tzinfo=dt.UTC) < moment < LATEST_EXPIRY:
        raise validation_error([{"field": "expiresAt", "message": "must be after 1970 and before 9999"}])
    return int(moment.timestamp() * 1000)


def place_order_command(
    body: PlaceOrderRequest, specs: dict[str, AssetSpec], user_id: uuid.UUID, idempotency_key: str
) -> commands_pb2.Command:
    spec = specs.get(body.asset)
    if spec is None:
        raise ApiError(422, "UNKNOWN_ASSET", f"asset {body.asset!r} is not traded; choose one of {sorted(specs)}")
    place = commands_pb2.PlaceOrder(
        asset=spec.symbol,
        side=SIDES[body.side],
        type=TYPES[body.type],
        price=dollars_scaled(body.price, spec, "price"),
        quantity=quantity_scaled(body.quantity),
        leverage=uint32(body.leverage, "leverage"),
        stop_loss=dollars_scaled(body.stopLoss, spec, "stopLoss"),
        take_profit=dollars_scaled(body.takeProfit, spec, "takeProfit"),
        expires_at_ms=_expiry_ms(body.expiresAt),
        price_decimal=spec.decimal,
    )
    return commands_pb2.Command(
        request_id=str(uuid.uuid4()), user_id=str(user_id), idempotency_key=idempotency_key, place_order=place
    )


def cancel_order_command(order_id: str, user_id: uuid.UUID, idempotency_key: str) -> commands_pb2.Command:
    return commands_pb2.Command(
        request_id=str(uuid.uuid4()), user_id=str(user_id), idempotency_key=idempotency_key,
        cancel_order=commands_pb2.CancelOrder(order_id=order_id),
    )  # fmt: skip


def _type_name(order_type: int) -> str:
    name = TYPE_NAMES.get(order_type)
    if name is None:
        raise ApiError(502, "ENGINE_ERROR", f"the engine sent an order with unknown type {order_type}")
    return name


def order_out(order: orders_pb2.PendingOrder) -> OrderOut:
    """A pending order."""
    return OrderOut(
        id=order.id,
        asset=order.asset,
        side=side_name(order.side),
        type=_type_name(order.type),  # type: ignore[arg-type]
        price=order.price,
        quantity=format_quantity(order.quantity),
        leverage=order.leverage,
        stopLoss=order.stop_loss or None,
        takeProfit=order.take_profit or None,
        reservedMargin=order.reserved_cents,
        status="PENDING",
        createdAt=timestamp(order.created_at_ms),
        expiresAt=timestamp(order.expires_at_ms) if order.expires_at_ms else None,
        decimal=order.decimal,
    )


def record_out(record: commands_pb2.OrderRecord) -> OrderOut:
    """An order no longer pending, with what became of it."""
    status = STATUS_NAMES.get(record.status)
    if status is None or status == "PENDING":
        raise ApiError(502, "ENGINE_ERROR", f"the engine sent an ended order with status {record.status}")
    reason = None
    if status == "REJECTED":
        reason = commands_pb2.RejectReason.Name(record.reject_reason).removeprefix("REJECT_REASON_")
    return order_out(record.order).model_copy(
        update={
            "status": status,
            "finishedAt": timestamp(record.finished_at_ms),
            "positionId": record.position_id or None,
            "fillPrice": record.fill_price or None,
            "reason": reason,
            "reasonMessage": record.message or None,
        }
    )
