"""Pending orders on the wire: commands translate field for field, malformed ones are refused before the
domain, replies and order-history rows carry every field and come back the same."""

from __future__ import annotations

import re

import pytest
from exness.engine.v1 import commands_pb2, orders_pb2

from engine import orders_wire, translate
from engine.domain import (
    CancelOrder,
    FinishedOrder,
    OrderCancelled,
    OrderPlaced,
    OrderStatus,
    OrderType,
    PendingOrder,
    PlaceOrder,
    RejectReason,
    Side,
)
from engine.trade_rows import row_problem

ORDER = PendingOrder(
    "ord-5-0", "u", "BTC_USDC", Side.SHORT, OrderType.STOP, 1_150_000_000, 1_000, 10, 1_200_000_000, 0, 115, 4,
    5, 9_000, 3,
)  # fmt: skip


def _place(**changes: object) -> commands_pb2.Command:
    fields: dict[str, object] = {
        "asset": "BTC_USDC", "side": 2, "type": orders_pb2.ORDER_TYPE_STOP, "price": 1_150_000_000,
        "quantity": 1_000, "leverage": 10, "stop_loss": 1_200_000_000, "expires_at_ms": 9_000, "price_decimal": 4,
    }  # fmt: skip
    fields.update(changes)
    return commands_pb2.Command(user_id="u", place_order=commands_pb2.PlaceOrder(**fields))  # type: ignore[arg-type]


def test_order_commands_translate_field_for_field() -> None:
    assert translate.command_from_proto(_place(), {"BTC_USDC": 4}) == PlaceOrder(
        "u", "BTC_USDC", Side.SHORT, OrderType.STOP, 1_150_000_000, 1_000, 10, 1_200_000_000, 0, 9_000
    )
    cancel = commands_pb2.Command(user_id="u", cancel_order=commands_pb2.CancelOrder(order_id="ord-1-0"))
    assert translate.command_from_proto(cancel) == CancelOrder("u", "ord-1-0")


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (_place(asset=""), "has no asset"),
        (_place(type=0), "no valid side (2) or type (0)"),
        (_place(side=0), "no valid side (0)"),
        (_place(price_decimal=6), "scaled by 10^6 but the engine uses 10^4"),
        (commands_pb2.Command(user_id="u", cancel_order=commands_pb2.CancelOrder()), "has no order_id"),
        (commands_pb2.Command(user_id="u", cancel_order=commands_pb2.CancelOrder(order_id="o\x00")), "unprintable"),
    ],
)
def test_malformed_order_commands_are_refused(command: commands_pb2.Command, says: str) -> None:
    with pytest.raises(translate.MalformedCommand, match=re.escape(says)):
        translate.command_from_proto(command, {"BTC_USDC": 4})


def test_order_replies_carry_every_field() -> None:
    placed = translate.reply_to_proto(OrderPlaced(ORDER, 7), request_id="r", stream_id="5-0")
    assert placed.order_placed.balance_cents == 7
    order = placed.order_placed.order
    assert (order.id, order.type, order.price, order.reserved_cents, order.expires_at_ms, order.stop_loss) == (
        "ord-5-0", orders_pb2.ORDER_TYPE_STOP, 1_150_000_000, 115, 9_000, 1_200_000_000,
    )  # fmt: skip
    finished = FinishedOrder(ORDER, OrderStatus.CANCELLED, 6)
    cancelled = translate.reply_to_proto(OrderCancelled(finished, 122), request_id="r", stream_id="6-0")
    record = cancelled.order_cancelled.order
    assert (record.status, record.finished_at_ms, record.order.id) == (orders_pb2.ORDER_STATUS_CANCELLED, 6, "ord-5-0")


@pytest.mark.parametrize(
    "finished",
    [
        FinishedOrder(ORDER, OrderStatus.FILLED, 8, "pos-5-0", 1_140_000_000),
        FinishedOrder(ORDER, OrderStatus.REJECTED, 8, reject_reason=RejectReason.INSUFFICIENT_BALANCE, message="m"),
        FinishedOrder(ORDER, OrderStatus.EXPIRED, 9_000),
    ],
)
def test_order_history_rows_fit_their_columns_and_read_back_as_the_record(finished: FinishedOrder) -> None:
    row = orders_wire.order_history_row(finished)
    assert tuple(row) == orders_wire.ORDER_HISTORY_COLUMNS and orders_wire.is_order_row(row)
    assert row_problem(row) is None
    assert orders_wire.order_record_from_row(row) == orders_wire.order_record_to_proto(finished)
    assert row_problem({**row, "price": 2**63}) == "price=9223372036854775808 does not fit BIGINT"
