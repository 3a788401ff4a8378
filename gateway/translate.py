"""REST <-> protobuf: request models to `Command`s (exact unit conversion, docs/contract.md §1) and engine
messages to response models. No trading rules here: the engine decides, this only converts."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

from exness.common.v1 import trading_pb2
from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2

from gateway.errors import ApiError, validation_error
from gateway.schemas import AmendTradeRequest, ClosedTradeOut, CreateOrderRequest, QuoteOut, TradeOut
from mesh.units import QUANTITY_DECIMALS, AssetSpec, UnitError, format_quantity, scale_exact

SideName = Literal["LONG", "SHORT"]
ReasonName = Literal["MANUAL", "STOP_LOSS", "TAKE_PROFIT", "LIQUIDATION", "UNSPECIFIED"]
SIDES: dict[SideName, int] = {"LONG": trading_pb2.SIDE_LONG, "SHORT": trading_pb2.SIDE_SHORT}
SIDE_NAMES: dict[int, SideName] = {value: name for name, value in SIDES.items()}
REASON_NAMES: dict[int, ReasonName] = {
    trading_pb2.CLOSE_REASON_MANUAL: "MANUAL",
    trading_pb2.CLOSE_REASON_STOP_LOSS: "STOP_LOSS",
    trading_pb2.CLOSE_REASON_TAKE_PROFIT: "TAKE_PROFIT",
    trading_pb2.CLOSE_REASON_LIQUIDATION: "LIQUIDATION",
}
INT64_MAX = 2**63 - 1
UINT32_MAX = 2**32 - 1
# slippage percent -> basis points: 1% = 100 bps, so two decimals of a percent is the finest step
SLIPPAGE_DECIMALS = 2


def _invalid(field: str, message: str) -> ApiError:
    return validation_error([{"field": field, "message": message}])


def _scaled(value: Decimal | None, decimals: int, field: str, unit: str) -> int:
    if value is None:
        return 0
    try:
        scaled = scale_exact(value, decimals, field)
    except UnitError:
        raise _invalid(field, f"{value} has more than {decimals} decimals ({unit})") from None
    if scaled > INT64_MAX:
        raise _invalid(field, f"{value} is too large")
    return scaled


def _leverage(leverage: int) -> int:
    if leverage > UINT32_MAX:
        raise _invalid("leverage", "is too large")
    return leverage


def uint32(value: int, field: str) -> int:
    if value > UINT32_MAX:
        raise _invalid(field, "is too large")
    return value


def dollars_scaled(value: Decimal | None, spec: AssetSpec, field: str) -> int:
    """A price in dollars at the asset's price scale, exactly (more decimals are refused); None = 0 (off)."""
    return _scaled(value, spec.decimal, field, f"the {spec.symbol} price scale")


def quantity_scaled(value: Decimal) -> int:
    return _scaled(value, QUANTITY_DECIMALS, "quantity", "base-asset units")


def open_position_command(
    body: CreateOrderRequest, specs: dict[str, AssetSpec], user_id: uuid.UUID, idempotency_key: str
) -> commands_pb2.Command:
    spec = specs.get(body.asset)
    if spec is None:
        raise ApiError(422, "UNKNOWN_ASSET", f"asset {body.asset!r} is not traded; choose one of {sorted(specs)}")
    open_position = commands_pb2.OpenPosition(
        asset=spec.symbol,
        side=SIDES[body.side],
        quantity=_scaled(body.quantity, QUANTITY_DECIMALS, "quantity", "base-asset units"),
        leverage=_leverage(body.leverage),
        slippage_bps=_scaled(body.slippage, SLIPPAGE_DECIMALS, "slippage", "percent"),
        stop_loss=_scaled(body.stopLoss, spec.decimal, "stopLoss", f"the {spec.symbol} price scale"),
        take_profit=_scaled(body.takeProfit, spec.decimal, "takeProfit", f"the {spec.symbol} price scale"),
        trade_opening_price=_scaled(
            body.tradeOpeningPrice, spec.decimal, "tradeOpeningPrice", f"the {spec.symbol} price scale"
        ),
        price_decimal=spec.decimal,
    )
    return commands_pb2.Command(
        request_id=str(uuid.uuid4()), user_id=str(user_id), idempotency_key=idempotency_key, open_position=open_position
    )


def close_position_command(
    order_id: str, user_id: uuid.UUID, idempotency_key: str, quantity: Decimal | None = None
) -> commands_pb2.Command:
    close = commands_pb2.ClosePosition(
        position_id=order_id, quantity=_scaled(quantity, QUANTITY_DECIMALS, "quantity", "base-asset units")
    )
    return commands_pb2.Command(
        request_id=str(uuid.uuid4()), user_id=str(user_id), idempotency_key=idempotency_key, close_position=close
    )


def amend_position_command(
    position_id: str, body: AmendTradeRequest, specs: dict[str, AssetSpec], user_id: uuid.UUID, idempotency_key: str
) -> commands_pb2.Command:
    """The levels are scaled by the finest price scale of the traded assets: the gateway does not know the
    position's asset, and the engine refuses a level that is not exact at the position's own scale."""
    decimal = max(spec.decimal for spec in specs.values())
    amend = commands_pb2.AmendPosition(position_id=position_id, price_decimal=decimal)
    for field in body.model_fields_set & {"stopLoss", "takeProfit"}:
        # a key sent (a number, 0 or null) is set, null as 0 (off); a key left out stays unset (unchanged)
        level = _scaled(getattr(body, field), decimal, field, "the finest price scale traded")
        setattr(amend, "stop_loss" if field == "stopLoss" else "take_profit", level)
    return commands_pb2.Command(
        request_id=str(uuid.uuid4()), user_id=str(user_id), idempotency_key=idempotency_key, amend_position=amend
    )


def create_account_command(user_id: uuid.UUID, email: str, starting_balance_cents: int) -> commands_pb2.Command:
    return commands_pb2.Command(
        request_id=str(uuid.uuid4()),
        user_id=str(user_id),
        create_account=commands_pb2.CreateAccount(email=email, starting_balance_cents=starting_balance_cents),
    )


def timestamp(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def side_name(side: int) -> SideName:
    """The REST name of an engine side; a side the gateway does not know is the engine's fault (502),
    never shown as some default."""
    name = SIDE_NAMES.get(side)
    if name is None:
        raise ApiError(502, "ENGINE_ERROR", f"the engine sent a position with unknown side {side}")
    return name


def trade_out(position: trading_pb2.Position, current_price: int | None, pnl_cents: int | None) -> TradeOut:
    return TradeOut(
        id=position.id,
        asset=position.asset,
        side=side_name(position.side),
        quantity=format_quantity(position.quantity),
        leverage=position.leverage,
        entryPrice=position.entry_price,
        currentPrice=current_price,
        margin=position.margin_cents,
        pnl=pnl_cents,
        decimal=position.decimal,
        liquidationPrice=position.liquidation_price,
        stopLoss=position.stop_loss or None,
        takeProfit=position.take_profit or None,
        openedAt=timestamp(position.opened_at_ms),
    )


def closed_trade_out(trade: trading_pb2.ClosedTrade) -> ClosedTradeOut:
    return ClosedTradeOut(
        id=trade.id,
        asset=trade.asset,
        side=side_name(trade.side),
        quantity=format_quantity(trade.quantity),
        leverage=trade.leverage,
        entryPrice=trade.entry_price,
        closePrice=trade.close_price,
        margin=trade.margin_cents,
        pnl=trade.pnl_cents,
        credited=trade.credited_cents,
        decimal=trade.decimal,
        reason=REASON_NAMES.get(trade.reason, "UNSPECIFIED"),
        liquidationPrice=trade.liquidation_price,
        stopLoss=trade.stop_loss or None,
        takeProfit=trade.take_profit or None,
        openedAt=timestamp(trade.opened_at_ms),
        closedAt=timestamp(trade.closed_at_ms),
    )


def quote_out(quote: market_pb2.Quote, fallback_ms: int) -> QuoteOut:
    return QuoteOut(
        buyPrice=quote.buy_price,
        sellPrice=quote.sell_price,
        decimal=quote.decimal,
        ts=quote.venue_time_ms or fallback_ms,
    )


def quote_json(quote: market_pb2.Quote, fallback_ms: int) -> dict[str, int]:
    """The WebSocket form of a quote: the same fields as QuoteOut, built without pydantic (hot path)."""
    return {
        "buyPrice": quote.buy_price,
        "sellPrice": quote.sell_price,
        "decimal": quote.decimal,
        "ts": quote.venue_time_ms or fallback_ms,
    }
