"""Translation between the wire (protobuf Command/Reply and exness.common.v1 messages), the domain's
value objects, and database rows of closed trades. No trading rules here: a command is checked only
for the fields without which it cannot be understood at all (those are malformed, not rejected)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from exness.common.v1 import trading_pb2
from exness.engine.v1 import commands_pb2, engine_service_pb2
from exness.market.v1 import market_pb2

from engine import domain, orders_wire
from engine.domain import ClosedTrade, CloseReason, Side, money

SIDE_TO_PROTO = {Side.LONG: trading_pb2.SIDE_LONG, Side.SHORT: trading_pb2.SIDE_SHORT}
SIDE_FROM_PROTO = {proto: side for side, proto in SIDE_TO_PROTO.items()}
REASON_TO_PROTO = {reason: trading_pb2.CloseReason.Value(f"CLOSE_REASON_{reason.value}") for reason in CloseReason}
REJECT_TO_PROTO = {
    reason: commands_pb2.RejectReason.Value(f"REJECT_REASON_{reason.value}") for reason in domain.RejectReason
}


# The gateway's bounds on what it puts in a command (user ids are its UUIDs): a longer or unprintable
# string did not come from it and must not reach the state, database rows or replies.
MAX_USER_ID_LENGTH = 64
MAX_EMAIL_LENGTH = 254
MAX_IDEMPOTENCY_KEY_LENGTH = 128
MAX_ASSET_LENGTH = 32
MAX_POSITION_ID_LENGTH = 128


class MalformedCommand(ValueError):
    """A decodable Command that lacks what any handler needs (user id, asset, side, position id), or
    carries a string no gateway sends."""


def _check_text(what: str, value: str, limit: int) -> None:
    """`value` must be printable (no NUL or other control characters) and at most `limit` characters."""
    if len(value) > limit:
        raise MalformedCommand(f"{what} is {len(value)} characters long (at most {limit})")
    if not value.isprintable():
        raise MalformedCommand(f"{what} contains unprintable characters")


def command_from_proto(
    command: commands_pb2.Command, price_decimals: Mapping[str, int] | None = None
) -> domain.Command:
    """The domain command of a stream entry; with `price_decimals` (asset -> the engine's price scale), an
    order stating another scale for its prices is refused as malformed: gateway and engine disagree."""
    body = command.WhichOneof("body")
    if body == "change_rules":
        return domain.ChangeRules(rules_from_proto(command.change_rules))
    if body == "price_update":
        quotes = command.price_update.quotes
        if not quotes:
            raise MalformedCommand("price update carries no quotes")
        published = command.price_update.published_at_ms
        try:
            return domain.PriceUpdate(
                tuple(
                    domain.Quote(q.asset, q.buy_price, q.sell_price, q.decimal, q.confirmed_at_ms, published)
                    for q in quotes
                )
            )
        except ValueError as exc:  # two quotes of one asset
            raise MalformedCommand(str(exc)) from None
    if not command.user_id:
        raise MalformedCommand(f"{body} command has no user_id")
    _check_text(f"{body} command's user_id", command.user_id, MAX_USER_ID_LENGTH)
    key = command.idempotency_key
    if key and (len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not all("!" <= c <= "~" for c in key)):
        raise MalformedCommand(f"{body} command's idempotency key is not 1..{MAX_IDEMPOTENCY_KEY_LENGTH} "
                               "visible ASCII characters")  # fmt: skip
    if body == "create_account":
        create = command.create_account
        if not create.email:
            raise MalformedCommand("create_account command has no email")
        _check_text("create_account command's email", create.email, MAX_EMAIL_LENGTH)
        return domain.CreateAccount(command.user_id, create.email, create.starting_balance_cents)
    if body == "open_position":
        order = command.open_position
        if not order.asset:
            raise MalformedCommand("open_position command has no asset")
        _check_text("open_position command's asset", order.asset, MAX_ASSET_LENGTH)
        _check_price_decimal("open_position", order.asset, order.price_decimal, price_decimals)
        side = SIDE_FROM_PROTO.get(order.side)
        if side is None:
            raise MalformedCommand(f"open_position command has no valid side ({order.side})")
        return domain.OpenPosition(
            command.user_id, order.asset, side, order.quantity, order.leverage, order.slippage_bps,
            order.stop_loss, order.take_profit, order.trade_opening_price,
        )  # fmt: skip
    if body == "close_position":
        close = command.close_position
        if not close.position_id:
            raise MalformedCommand("close_position command has no position_id")
        _check_text("close_position command's position_id", close.position_id, MAX_POSITION_ID_LENGTH)
        return domain.ClosePosition(command.user_id, close.position_id, close.quantity)
    if body == "amend_position":
        return _amend_position(command.user_id, command.amend_position)
    return _order_command(command, body, price_decimals)


def _order_command(
    command: commands_pb2.Command, body: str | None, price_decimals: Mapping[str, int] | None
) -> domain.Command:
    """The pending-order commands (engine.orders_wire), or MalformedCommand for a body nobody knows."""
    if body == "place_order":

        def check_decimal(what: str, asset: str, stated: int) -> None:
            _check_price_decimal(what, asset, stated, price_decimals)

        return orders_wire.place_order(command.user_id, command.place_order, _check_text, check_decimal,
                                       MalformedCommand)  # fmt: skip
    if body == "cancel_order":
        return orders_wire.cancel_order(command.user_id, command.cancel_order, _check_text, MalformedCommand)
    raise MalformedCommand(f"command has no known body ({body})")


def _check_price_decimal(body: str, asset: str, stated: int, price_decimals: Mapping[str, int] | None) -> None:
    engine_decimal = (price_decimals or {}).get(asset)
    if stated and engine_decimal is not None and stated != engine_decimal:
        raise MalformedCommand(
            f"{body} prices for {asset} are scaled by 10^{stated} but the engine "
            f"uses 10^{engine_decimal}: the gateway's and the engine's ASSETS differ"
        )


def _amend_position(user_id: str, amend: commands_pb2.AmendPosition) -> domain.AmendPosition:
    """An absent level (proto3 `optional` without a value) is unchanged. The command names no asset, so
    its price scale is checked against the position's by the domain (a finer scale is fine if exact)."""
    if not amend.position_id:
        raise MalformedCommand("amend_position command has no position_id")
    _check_text("amend_position command's position_id", amend.position_id, MAX_POSITION_ID_LENGTH)
    return domain.AmendPosition(
        user_id, amend.position_id,
        amend.stop_loss if amend.HasField("stop_loss") else None,
        amend.take_profit if amend.HasField("take_profit") else None,
        amend.price_decimal,
    )  # fmt: skip


def rules_to_proto(rules: domain.Rules) -> commands_pb2.Command:
    """The log entry that puts `rules` in force."""
    text = json.dumps(domain.encode_rules(rules), sort_keys=True, separators=(",", ":"))
    return commands_pb2.Command(change_rules=commands_pb2.ChangeRules(rules_json=text))


def rules_from_proto(change: commands_pb2.ChangeRules) -> domain.Rules:
    try:
        return domain.decode_rules(json.loads(change.rules_json))
    except ValueError as exc:  # JSONDecodeError is one
        raise MalformedCommand(f"change_rules carries no valid rules: {exc}") from exc


def account_to_proto(account: domain.Account) -> trading_pb2.Account:
    return trading_pb2.Account(
        user_id=account.user_id, email=account.email, balance_cents=account.balance_cents,
        created_at_ms=account.created_at_ms,
    )  # fmt: skip


def position_to_proto(p: domain.Position) -> trading_pb2.Position:
    return trading_pb2.Position(
        id=p.id, user_id=p.user_id, asset=p.asset, side=SIDE_TO_PROTO[p.side], quantity=p.quantity,
        leverage=p.leverage, entry_price=p.entry_price, margin_cents=p.margin_cents,
        liquidation_price=p.liquidation_price, stop_loss=p.stop_loss, take_profit=p.take_profit,
        decimal=p.decimal, opened_at_ms=p.opened_at_ms, maintenance_cents=p.maintenance_cents,
    )  # fmt: skip


def closed_trade_to_proto(t: ClosedTrade) -> trading_pb2.ClosedTrade:
    return trading_pb2.ClosedTrade(
        id=t.id, user_id=t.user_id, asset=t.asset, side=SIDE_TO_PROTO[t.side], quantity=t.quantity,
        leverage=t.leverage, entry_price=t.entry_price, close_price=t.close_price, margin_cents=t.margin_cents,
        pnl_cents=t.pnl_cents, credited_cents=t.credited_cents, reason=REASON_TO_PROTO[t.reason],
        decimal=t.decimal, opened_at_ms=t.opened_at_ms, closed_at_ms=t.closed_at_ms, stop_loss=t.stop_loss,
        take_profit=t.take_profit, liquidation_price=t.liquidation_price,
    )  # fmt: skip


def reply_to_proto(
    reply: domain.Reply, *, request_id: str, stream_id: str, state: domain.TradingState | None = None
) -> commands_pb2.Reply:
    """The reply message; with `state`, a PositionOpened also carries the position marked to the current
    closing-side price (what the client shows next to the fill)."""
    message = commands_pb2.Reply(request_id=request_id, stream_id=stream_id)
    if isinstance(reply, domain.AccountCreated):
        message.account_created.account.CopyFrom(account_to_proto(reply.account))
        message.account_created.already_existed = reply.already_existed
    elif isinstance(reply, domain.PositionOpened):
        message.position_opened.position.CopyFrom(position_to_proto(reply.position))
        message.position_opened.balance_cents = reply.balance_cents
        # the valuation of the open itself, so a retry's reply is the first one; marked now only for a
        # reply remembered by an older snapshot, which did not record it
        opened_valuation = reply.valuation
        if opened_valuation is None and state is not None and state.position(reply.position.id) is not None:
            opened_valuation = state.valuation(reply.position)
        if opened_valuation is not None:
            message.position_opened.current_price = opened_valuation.closing_price
            message.position_opened.unrealized_pnl_cents = opened_valuation.unrealized_pnl_cents
    elif isinstance(reply, domain.PositionClosed):
        closed = message.position_closed
        closed.trade.CopyFrom(closed_trade_to_proto(reply.trade))
        closed.balance_cents = reply.balance_cents
        if reply.remaining is not None:
            closed.remaining.CopyFrom(position_to_proto(reply.remaining))
            # marked where the part was just closed: the closing-side price of the same quote
            closed.remaining_current_price = reply.trade.close_price
            closed.remaining_unrealized_pnl_cents = money.pnl_cents(
                reply.remaining.side, reply.remaining.entry_price, reply.trade.close_price,
                reply.remaining.quantity, reply.remaining.decimal,
            )  # fmt: skip
    elif isinstance(reply, domain.PositionAmended):
        amended = message.position_amended
        amended.position.CopyFrom(position_to_proto(reply.position))
        amended.balance_cents = reply.balance_cents
        if state is not None:
            valuation = state.valuation(reply.position)
            amended.current_price = valuation.closing_price
            amended.unrealized_pnl_cents = valuation.unrealized_pnl_cents
    elif isinstance(reply, domain.OrderPlaced | domain.OrderCancelled):
        orders_wire.fill_reply(message, reply)
    else:
        message.rejection.reason = REJECT_TO_PROTO[reply.reason]
        message.rejection.message = reply.message
    return message


def invalid_command_reply(
    error: str,
    *,
    request_id: str,
    stream_id: str,
    reason: commands_pb2.RejectReason.ValueType = commands_pb2.REJECT_REASON_INVALID_COMMAND,
) -> commands_pb2.Reply:
    """The reply to an entry the engine could not apply: malformed (INVALID_COMMAND, the producer's
    fault) or failing inside the engine (ENGINE_FAULT, ours)."""
    return commands_pb2.Reply(
        request_id=request_id, stream_id=stream_id, rejection=commands_pb2.Rejection(reason=reason, message=error)
    )


def price_view(quote: domain.LatestQuote) -> engine_service_pb2.PriceView:
    return engine_service_pb2.PriceView(
        quote=market_pb2.Quote(
            asset=quote.asset, buy_price=quote.buy_price, sell_price=quote.sell_price, decimal=quote.decimal
        ),
        received_at_ms=quote.received_at_ms,
    )


# ---------------------------------------------------------------------------------- closed-trade rows
# A row is a dict of JSON-able primitives keyed by column name: the same shape is held in memory while
# uncommitted, stored in snapshots, and inserted into PostgreSQL.


CLOSED_TRADE_COLUMNS = (
    "id", "user_id", "asset", "side", "quantity", "leverage", "entry_price", "close_price", "margin_cents",
    "pnl_cents", "credited_cents", "reason", "decimal", "opened_at_ms", "closed_at_ms", "stop_loss", "take_profit",
    "liquidation_price",
)  # fmt: skip


# the columns are the trade's fields in order, so a row is one zip (a getattr per column cost ~2% of the engine)
if ClosedTrade._fields != CLOSED_TRADE_COLUMNS:
    raise RuntimeError("the closed_trades columns must follow ClosedTrade's fields")


def closed_trade_row(trade: ClosedTrade) -> dict[str, Any]:
    row = dict(zip(CLOSED_TRADE_COLUMNS, trade, strict=True))
    row["side"] = trade.side.value
    row["reason"] = trade.reason.value
    return row


def closed_trade_from_row(row: Any) -> trading_pb2.ClosedTrade:
    """`row` is a mapping with the columns of closed_trade_row (a dict or a SQLAlchemy row mapping)."""
    values = dict(row)
    values["side"] = SIDE_TO_PROTO[Side(values["side"])]
    values["reason"] = REASON_TO_PROTO[CloseReason(values["reason"])]
    return trading_pb2.ClosedTrade(**{name: values[name] for name in CLOSED_TRADE_COLUMNS})
