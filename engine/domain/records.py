"""Encoding of the domain's values as compact JSON-ready rows (lists of ints and strings) and back, for
snapshots and the state hash. Decoding is strict: a wrong type or arity raises ValueError, so a damaged
snapshot can never smuggle a float or a missing field into the state."""

from __future__ import annotations

from typing import Any

from engine.domain.commands import (
    AccountCreated,
    AmendPosition,
    CancelOrder,
    ClosePosition,
    CreateAccount,
    OpenPosition,
    OrderCancelled,
    OrderPlaced,
    PlaceOrder,
    PositionAmended,
    PositionClosed,
    PositionOpened,
    Rejection,
    Reply,
    UserCommand,
)
from engine.domain.idempotency import Remembered
from engine.domain.model import (
    Account,
    ClosedTrade,
    CloseReason,
    FinishedOrder,
    LatestQuote,
    OrderStatus,
    OrderType,
    PendingOrder,
    Position,
    RejectReason,
    Side,
    Valuation,
)

Row = list[Any]


def _int(value: object) -> int:
    # bool is an int subclass; a JSON true where a number belongs is damage, not data
    if type(value) is not int:
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _str(value: object) -> str:
    if type(value) is not str:
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _optional_int(value: object) -> int | None:
    return None if value is None else _int(value)


def _row(value: object, length: int) -> Row:
    if not isinstance(value, list | tuple) or len(value) != length:
        raise ValueError(f"expected a row of {length} values, got {value!r}")
    return list(value)


def encode_account(account: Account) -> Row:
    return [account.user_id, account.email, account.balance_cents, account.created_at_ms]


def decode_account(value: object) -> Account:
    user_id, email, balance, created_at = _row(value, 4)
    return Account(_str(user_id), _str(email), _int(balance), _int(created_at))


def encode_account_row(account: Account, event_seq: int) -> Row:
    """An account as a snapshot holds it (format 6 on): the account and its last event's sequence number."""
    return [*encode_account(account), event_seq]


def decode_account_row(value: object) -> tuple[Account, int]:
    """A snapshot's account row and its last event's sequence number (0 in a row older than format 6)."""
    if isinstance(value, list | tuple) and len(value) == 5:
        if _int(value[4]) < 0:
            raise ValueError(f"negative event sequence in account row {value!r}")
        return decode_account(value[:4]), value[4]
    return decode_account(value), 0


def encode_position(p: Position) -> Row:
    return [
        p.id, p.user_id, p.asset, p.side.value, p.quantity, p.leverage, p.entry_price, p.margin_cents,
        p.maintenance_cents, p.liquidation_price, p.stop_loss, p.take_profit, p.decimal, p.opened_at_ms,
        p.sequence,
    ]  # fmt: skip


def decode_position(value: object) -> Position:
    row = _row(value, 15)
    return Position(_str(row[0]), _str(row[1]), _str(row[2]), Side(row[3]), *(_int(v) for v in row[4:]))


def encode_order(o: PendingOrder) -> Row:
    return [
        o.id, o.user_id, o.asset, o.side.value, o.type.value, o.price, o.quantity, o.leverage, o.stop_loss,
        o.take_profit, o.reserved_cents, o.decimal, o.created_at_ms, o.expires_at_ms, o.sequence,
    ]  # fmt: skip


def decode_order(value: object) -> PendingOrder:
    row = _row(value, 15)
    return PendingOrder(
        _str(row[0]), _str(row[1]), _str(row[2]), Side(row[3]), OrderType(row[4]), *(_int(v) for v in row[5:])
    )


def encode_finished_order(f: FinishedOrder) -> Row:
    reason = "" if f.reject_reason is None else f.reject_reason.value
    return [encode_order(f.order), f.status.value, f.finished_at_ms, f.position_id, f.fill_price, reason, f.message]


def decode_finished_order(value: object) -> FinishedOrder:
    order, status, finished_at, position_id, fill_price, reason, message = _row(value, 7)
    return FinishedOrder(
        decode_order(order), OrderStatus(status), _int(finished_at), _str(position_id), _int(fill_price),
        RejectReason(reason) if _str(reason) else None, _str(message),
    )  # fmt: skip


def encode_closed_trade(t: ClosedTrade) -> Row:
    return [
        t.id, t.user_id, t.asset, t.side.value, t.quantity, t.leverage, t.entry_price, t.close_price,
        t.margin_cents, t.pnl_cents, t.credited_cents, t.reason.value, t.decimal, t.opened_at_ms,
        t.closed_at_ms, t.stop_loss, t.take_profit, t.liquidation_price,
    ]  # fmt: skip


def decode_closed_trade(value: object) -> ClosedTrade:
    row = _row(value, 18)
    (quantity, leverage, entry_price, close_price, margin, pnl, credited) = (_int(v) for v in row[4:11])
    (decimal, opened_at, closed_at, stop_loss, take_profit, liquidation_price) = (_int(v) for v in row[12:])
    return ClosedTrade(
        _str(row[0]), _str(row[1]), _str(row[2]), Side(row[3]), quantity, leverage, entry_price, close_price,
        margin, pnl, credited, CloseReason(row[11]), decimal, opened_at, closed_at, stop_loss, take_profit,
        liquidation_price,
    )  # fmt: skip


def encode_quote(q: LatestQuote) -> Row:
    return [q.asset, q.buy_price, q.sell_price, q.decimal, q.received_at_ms]


def decode_quote(value: object) -> LatestQuote:
    asset, buy, sell, decimal, received_at = _row(value, 5)
    return LatestQuote(_str(asset), _int(buy), _int(sell), _int(decimal), _int(received_at))


def encode_command(command: UserCommand) -> Row:
    if isinstance(command, CreateAccount):
        return ["CreateAccount", command.user_id, command.email, command.starting_balance_cents]
    if isinstance(command, OpenPosition):
        return [
            "OpenPosition", command.user_id, command.asset, command.side.value, command.quantity,
            command.leverage, command.slippage_bps, command.stop_loss, command.take_profit,
            command.trade_opening_price,
        ]  # fmt: skip
    if isinstance(command, PlaceOrder):
        return [
            "PlaceOrder", command.user_id, command.asset, command.side.value, command.type.value, command.price,
            command.quantity, command.leverage, command.stop_loss, command.take_profit, command.expires_at_ms,
        ]  # fmt: skip
    if isinstance(command, CancelOrder):
        return ["CancelOrder", command.user_id, command.order_id]
    if isinstance(command, AmendPosition):
        return [
            "AmendPosition", command.user_id, command.position_id, command.stop_loss, command.take_profit,
            command.price_decimal,
        ]  # fmt: skip
    # a close of all keeps the three-value row earlier engines wrote; a partial close adds its quantity
    quantity = [command.quantity] if command.quantity else []
    return ["ClosePosition", command.user_id, command.position_id, *quantity]


def decode_command(value: object) -> UserCommand:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"expected a command row, got {value!r}")
    kind = value[0]
    if kind == "CreateAccount":
        _, user_id, email, balance = _row(value, 4)
        return CreateAccount(_str(user_id), _str(email), _int(balance))
    if kind == "OpenPosition":
        row = _row(value, 10)
        return OpenPosition(_str(row[1]), _str(row[2]), Side(row[3]), *(_int(v) for v in row[4:]))
    if kind == "ClosePosition":
        row = _row(value, 4 if len(value) == 4 else 3)
        return ClosePosition(_str(row[1]), _str(row[2]), *(_int(v) for v in row[3:]))
    if kind == "PlaceOrder":
        row = _row(value, 11)
        return PlaceOrder(_str(row[1]), _str(row[2]), Side(row[3]), OrderType(row[4]), *(_int(v) for v in row[5:]))
    if kind == "CancelOrder":
        _, user_id, order_id = _row(value, 3)
        return CancelOrder(_str(user_id), _str(order_id))
    if kind == "AmendPosition":
        _, user_id, position_id, stop_loss, take_profit, decimal = _row(value, 6)
        return AmendPosition(
            _str(user_id), _str(position_id), _optional_int(stop_loss), _optional_int(take_profit), _int(decimal)
        )
    raise ValueError(f"unknown command kind {kind!r}")


def encode_reply(reply: Reply) -> Row:
    if isinstance(reply, AccountCreated):
        return ["AccountCreated", encode_account(reply.account), int(reply.already_existed)]
    if isinstance(reply, PositionOpened):
        valuation = [] if reply.valuation is None else list(reply.valuation)
        return ["PositionOpened", encode_position(reply.position), reply.balance_cents, *valuation]
    if isinstance(reply, PositionClosed):
        # as for the command: a partial close's reply adds the position left open
        remaining = [] if reply.remaining is None else [encode_position(reply.remaining)]
        return ["PositionClosed", encode_closed_trade(reply.trade), reply.balance_cents, *remaining]
    if isinstance(reply, PositionAmended):
        return ["PositionAmended", encode_position(reply.position), reply.balance_cents]
    if isinstance(reply, OrderPlaced):
        return ["OrderPlaced", encode_order(reply.order), reply.balance_cents]
    if isinstance(reply, OrderCancelled):
        return ["OrderCancelled", encode_finished_order(reply.order), reply.balance_cents]
    return ["Rejection", reply.reason.value, reply.message]


def decode_reply(value: object) -> Reply:
    if isinstance(value, list | tuple) and len(value) == 4 and value[0] == "PositionClosed":
        _, trade, balance, remaining = value
        return PositionClosed(decode_closed_trade(trade), _int(balance), decode_position(remaining))
    if isinstance(value, list | tuple) and len(value) == 5 and value[0] == "PositionOpened":
        _, position, balance, closing_price, pnl = value
        return PositionOpened(decode_position(position), _int(balance), Valuation(_int(closing_price), _int(pnl)))
    kind, first, second = _row(value, 3)
    if kind == "AccountCreated":
        return AccountCreated(decode_account(first), bool(_int(second)))
    if kind == "PositionOpened":
        return PositionOpened(decode_position(first), _int(second))
    if kind == "PositionClosed":
        return PositionClosed(decode_closed_trade(first), _int(second))
    if kind == "PositionAmended":
        return PositionAmended(decode_position(first), _int(second))
    if kind == "OrderPlaced":
        return OrderPlaced(decode_order(first), _int(second))
    if kind == "OrderCancelled":
        return OrderCancelled(decode_finished_order(first), _int(second))
    if kind == "Rejection":
        return Rejection(RejectReason(first), _str(second))
    raise ValueError(f"unknown reply kind {kind!r}")


def encode_remembered(entry: Remembered) -> Row:
    return [entry.user_id, entry.key, entry.time_ms, encode_command(entry.command), encode_reply(entry.reply)]


def decode_remembered(value: object) -> Remembered:
    user_id, key, time_ms, command, reply = _row(value, 5)
    return Remembered(_str(user_id), _str(key), _int(time_ms), decode_command(command), decode_reply(reply))
