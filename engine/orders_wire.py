"""Translation of pending orders between the wire (exness.engine.v1 PlaceOrder, CancelOrder, PendingOrder,
OrderRecord), the domain's values and the rows of the order history in PostgreSQL (engine.order_history).
engine.translate hands the order commands and replies here. No trading rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from exness.common.v1 import trading_pb2
from exness.engine.v1 import commands_pb2, orders_pb2

from engine import domain
from engine.domain import FinishedOrder, OrderStatus, OrderType, PendingOrder, RejectReason, Side

SIDE_TO_PROTO = {Side.LONG: trading_pb2.SIDE_LONG, Side.SHORT: trading_pb2.SIDE_SHORT}
SIDE_FROM_PROTO = {proto: side for side, proto in SIDE_TO_PROTO.items()}
TYPE_TO_PROTO = {kind: orders_pb2.OrderType.Value(f"ORDER_TYPE_{kind.value}") for kind in OrderType}
TYPE_FROM_PROTO = {proto: kind for kind, proto in TYPE_TO_PROTO.items()}
STATUS_TO_PROTO = {status: orders_pb2.OrderStatus.Value(f"ORDER_STATUS_{status.value}") for status in OrderStatus}
REJECT_TO_PROTO = {reason: commands_pb2.RejectReason.Value(f"REJECT_REASON_{reason.value}") for reason in RejectReason}
MAX_ORDER_ID_LENGTH = 128

# a check of a command's text field (engine.translate): raises its MalformedCommand
TextCheck = Callable[[str, str, int], None]


def place_order(
    user_id: str,
    place: commands_pb2.PlaceOrder,
    check_text: TextCheck,
    check_decimal: Callable[[str, str, int], None],
    malformed: type[ValueError],
) -> domain.PlaceOrder:
    if not place.asset:
        raise malformed("place_order command has no asset")
    check_text("place_order command's asset", place.asset, 32)
    check_decimal("place_order", place.asset, place.price_decimal)
    side = SIDE_FROM_PROTO.get(place.side)
    order_type = TYPE_FROM_PROTO.get(place.type)
    if side is None or order_type is None:
        raise malformed(f"place_order command has no valid side ({place.side}) or type ({place.type})")
    return domain.PlaceOrder(
        user_id, place.asset, side, order_type, place.price, place.quantity, place.leverage, place.stop_loss,
        place.take_profit, place.expires_at_ms,
    )  # fmt: skip


def cancel_order(
    user_id: str, cancel: commands_pb2.CancelOrder, check_text: TextCheck, malformed: type[ValueError]
) -> domain.CancelOrder:
    if not cancel.order_id:
        raise malformed("cancel_order command has no order_id")
    check_text("cancel_order command's order_id", cancel.order_id, MAX_ORDER_ID_LENGTH)
    return domain.CancelOrder(user_id, cancel.order_id)


def order_to_proto(o: PendingOrder) -> orders_pb2.PendingOrder:
    return orders_pb2.PendingOrder(
        id=o.id, user_id=o.user_id, asset=o.asset, side=SIDE_TO_PROTO[o.side], type=TYPE_TO_PROTO[o.type],
        price=o.price, quantity=o.quantity, leverage=o.leverage, stop_loss=o.stop_loss, take_profit=o.take_profit,
        reserved_cents=o.reserved_cents, decimal=o.decimal, created_at_ms=o.created_at_ms,
        expires_at_ms=o.expires_at_ms,
    )  # fmt: skip


def order_record_to_proto(f: FinishedOrder) -> commands_pb2.OrderRecord:
    return commands_pb2.OrderRecord(
        order=order_to_proto(f.order), status=STATUS_TO_PROTO[f.status], finished_at_ms=f.finished_at_ms,
        position_id=f.position_id, fill_price=f.fill_price,
        reject_reason=REJECT_TO_PROTO[f.reject_reason] if f.reject_reason else 0, message=f.message,
    )  # fmt: skip


def fill_reply(message: commands_pb2.Reply, reply: domain.OrderPlaced | domain.OrderCancelled) -> None:
    if isinstance(reply, domain.OrderPlaced):
        message.order_placed.order.CopyFrom(order_to_proto(reply.order))
        message.order_placed.balance_cents = reply.balance_cents
    else:
        message.order_cancelled.order.CopyFrom(order_record_to_proto(reply.order))
        message.order_cancelled.balance_cents = reply.balance_cents


# ------------------------------------------------------------------------------------ order-history rows
# As for closed trades (engine.translate): a dict of JSON-able primitives keyed by column name, held while
# uncommitted, stored in snapshots beside the trade rows, inserted into PostgreSQL. The "status" key tells
# an order row from a trade row.

ORDER_HISTORY_COLUMNS = (
    "id", "user_id", "asset", "side", "type", "price", "quantity", "leverage", "stop_loss", "take_profit",
    "reserved_cents", "decimal", "created_at_ms", "expires_at_ms", "status", "finished_at_ms", "position_id",
    "fill_price", "reject_reason", "message",
)  # fmt: skip
_ORDER_FIELDS = PendingOrder._fields[: PendingOrder._fields.index("expires_at_ms") + 1]


def is_order_row(row: Mapping[str, Any]) -> bool:
    return "status" in row


def order_history_row(f: FinishedOrder) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(f.order, name) for name in _ORDER_FIELDS}
    row["side"], row["type"] = f.order.side.value, f.order.type.value
    row.update(
        status=f.status.value, finished_at_ms=f.finished_at_ms, position_id=f.position_id, fill_price=f.fill_price,
        reject_reason=f.reject_reason.value if f.reject_reason else "", message=f.message,
    )  # fmt: skip
    return row


def order_record_from_row(row: Mapping[str, Any]) -> commands_pb2.OrderRecord:
    values = dict(row)
    order = orders_pb2.PendingOrder(
        **{name: values[name] for name in _ORDER_FIELDS if name not in ("side", "type")},
        side=SIDE_TO_PROTO[Side(values["side"])], type=TYPE_TO_PROTO[OrderType(values["type"])],
    )  # fmt: skip
    reason = values["reject_reason"]
    return commands_pb2.OrderRecord(
        order=order, status=STATUS_TO_PROTO[OrderStatus(values["status"])], finished_at_ms=values["finished_at_ms"],
        position_id=values["position_id"], fill_price=values["fill_price"],
        reject_reason=REJECT_TO_PROTO[RejectReason(reason)] if reason else 0, message=values["message"],
    )  # fmt: skip
