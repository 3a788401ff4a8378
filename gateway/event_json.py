"""Account events and statement lines at the edge: exness.engine.v1.AccountEvent to the JSON the
`/ws/account` socket sends and to the statement's lines. Positions, trades and orders inside an event have
the fields of the REST responses (TradeOut, ClosedTradeOut, OrderOut); money is cents, prices scaled
integers."""

from __future__ import annotations

from typing import Any

from exness.engine.v1 import events_pb2

from gateway.order_translate import order_out, record_out
from gateway.schemas import StatementLineOut
from gateway.translate import closed_trade_out, timestamp, trade_out

KIND_NAMES = {
    value: name.removeprefix("ACCOUNT_EVENT_KIND_") for name, value in events_pb2.AccountEventKind.items() if value
}
CAUSE_NAMES = {value: name.removeprefix("BALANCE_CAUSE_") for name, value in events_pb2.BalanceCause.items() if value}
CHANGE_NAMES = {
    value: name.removeprefix("POSITION_CHANGE_") for name, value in events_pb2.PositionChange.items() if value
}


def _body(event: events_pb2.AccountEvent) -> dict[str, Any]:
    body = event.WhichOneof("body")
    if body == "position_opened":
        return {"position": trade_out(event.position_opened, None, None).model_dump(mode="json")}
    if body == "position_closed":
        return {"trade": closed_trade_out(event.position_closed).model_dump(mode="json")}
    if body == "position_updated":
        update = event.position_updated
        closed_part = update.closed_part if update.HasField("closed_part") else None
        return {
            "change": CHANGE_NAMES.get(update.change, "UNSPECIFIED"),
            "position": trade_out(update.position, None, None).model_dump(mode="json"),
            "closedPart": None if closed_part is None else closed_trade_out(closed_part).model_dump(mode="json"),
        }
    if body == "order_accepted":
        return {"order": order_out(event.order_accepted).model_dump(mode="json")}
    if body == "order_ended":
        return {"order": record_out(event.order_ended).model_dump(mode="json")}
    if body == "balance":
        change = event.balance
        return {
            "cause": CAUSE_NAMES.get(change.cause, "UNSPECIFIED"),
            "amount": change.amount_cents,
            "balance": change.balance_cents,
            "reserved": change.reserved_cents,
            "usedMargin": change.used_margin_cents,
            "positionId": change.position_id or None,
            "orderId": change.order_id or None,
        }
    return {}


def event_json(event: events_pb2.AccountEvent) -> dict[str, Any]:
    """{"type", "seq", "ts" (stream time, ms), ...the kind's fields}."""
    return {"type": KIND_NAMES.get(event.kind, "UNSPECIFIED"), "seq": event.seq, "ts": event.time_ms, **_body(event)}


def statement_line(event: events_pb2.AccountEvent) -> StatementLineOut:
    change = event.balance
    return StatementLineOut(
        seq=event.seq,
        time=timestamp(event.time_ms),
        type=CAUSE_NAMES.get(change.cause, "UNSPECIFIED"),
        amount=change.amount_cents,
        balanceAfter=change.balance_cents,
        positionId=change.position_id or None,
        orderId=change.order_id or None,
    )
