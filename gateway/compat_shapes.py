"""The shapes of the compatibility layer (gateway.routes.compat): the original exness-v3 web client's JSON,
built from the engine's messages. Pure conversions, no I/O and no trading rule: the engine's integers
(cents, prices scaled by 10^decimal, quantities in 10^-8 units) become dollar and unit numbers here and
nowhere else.

How an integer becomes a JSON number, exactly: the integer is read as the decimal it stands for
(`cents / 100`, `price / 10**decimal`, `quantity / 10**8`, exact `Decimal` arithmetic), then turned
into the nearest binary double, which JSON prints as the shortest text that reads back as that double.
A decimal of at most 15 significant digits (every price, balance and quantity the platform can hold
below $10^13) survives that round trip unchanged, so `11823450` cents prints as `118234.5` and never as
`118234.49999999999`. A value with more digits would lose precision, so it is refused instead of being
rounded silently: where a request brings it (a level or quantity this layer would state back), before
anything is sent (422, `statable`); where only the engine holds it, a 502 (the engine sent something this
layer cannot say exactly)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal

from exness.common.v1 import trading_pb2

from gateway.candles_client import CandleBar
from gateway.errors import ApiError, validation_error
from gateway.translate import REASON_NAMES, side_name, timestamp
from mesh.units import EXACT_DOUBLE_DIGITS, QUANTITY_DECIMALS, significant_digits

# the digits a binary double carries through decimal -> double -> shortest text unchanged
CENTS_DECIMALS = 2

JsonRow = dict[str, object]


def exact_number(value: int, decimals: int) -> float:
    """`value / 10**decimals` as the JSON number that prints as exactly that decimal (see the module text)."""
    exact = Decimal(value).scaleb(-decimals)
    if significant_digits(Decimal(value)) > EXACT_DOUBLE_DIGITS:
        raise ApiError(502, "ENGINE_ERROR", f"the value {exact} has too many digits to send as a JSON number")
    return float(exact)


def statable(values: Mapping[str, Decimal | None]) -> None:
    """Refuse (422, naming each field) a request number this layer would have to state back and could not
    state exactly: checked before anything is sent, so the engine never acts on an order whose answer
    would then be a 502."""
    details = [
        {"field": field, "message": f"{value} has more than {EXACT_DOUBLE_DIGITS} significant digits, "
                                    "more than this API can state exactly"}
        for field, value in values.items()
        if value is not None and significant_digits(value) > EXACT_DOUBLE_DIGITS
    ]  # fmt: skip
    if details:
        raise validation_error(details)


def dollars(cents: int) -> float:
    return exact_number(cents, CENTS_DECIMALS)


def price(scaled: int, decimal: int) -> float:
    return exact_number(scaled, decimal)


def level(scaled: int, decimal: int) -> float | None:
    """A stop-loss or take-profit level: dollars, or null when it is off (0)."""
    return price(scaled, decimal) if scaled else None


def quantity(units: int) -> float:
    return exact_number(units, QUANTITY_DECIMALS)


def open_row(position: trading_pb2.Position, current_price: int, pnl_cents: int) -> JsonRow:
    """An open position as the original client lists it. It takes a row with `closePrice`, `reason` or
    `liquidated` for a closed trade, so none of them is here. `slippage` is null: the engine checks the
    bound when the position opens and keeps no copy of it afterwards."""
    priced = current_price > 0
    return {
        "id": position.id,
        "asset": position.asset,
        "side": side_name(position.side),
        "quantity": quantity(position.quantity),
        "leverage": position.leverage,
        "openPrice": price(position.entry_price, position.decimal),
        "currentPrice": price(current_price, position.decimal) if priced else None,
        "unrealizedPnl": dollars(pnl_cents) if priced else None,
        "margin": dollars(position.margin_cents),
        "liquidationPrice": price(position.liquidation_price, position.decimal),
        "stopLoss": level(position.stop_loss, position.decimal),
        "takeProfit": level(position.take_profit, position.decimal),
        "slippage": None,
        "openedAt": timestamp(position.opened_at_ms).isoformat(),
    }


def closed_row(trade: trading_pb2.ClosedTrade) -> JsonRow:
    """A closed trade as the original client lists it: dollar prices and PnL, the reason, liquidated."""
    reason = REASON_NAMES.get(trade.reason, "UNSPECIFIED")
    return {
        "id": trade.id,
        "asset": trade.asset,
        "side": side_name(trade.side),
        "quantity": quantity(trade.quantity),
        "leverage": trade.leverage,
        "openPrice": price(trade.entry_price, trade.decimal),
        "closePrice": price(trade.close_price, trade.decimal),
        "pnl": dollars(trade.pnl_cents),
        "credited": dollars(trade.credited_cents),
        "margin": dollars(trade.margin_cents),
        "reason": reason,
        "liquidated": reason == "LIQUIDATION",
        "stopLoss": level(trade.stop_loss, trade.decimal),
        "takeProfit": level(trade.take_profit, trade.decimal),
        "status": "CLOSED",
        "openedAt": timestamp(trade.opened_at_ms).isoformat(),
        "closedAt": timestamp(trade.closed_at_ms).isoformat(),
    }


def original_price_frame(message: str) -> str | None:
    """The original client's form of one /ws/prices message: `data` is JSON *text* of {SYMBOL:
    {buyPrice, sellPrice, decimal}}, prices scaled by 10^decimal (the client divides). None for a message
    that is not a PRICE_UPDATE (the price hub may carry others for clients that asked for them)."""
    parsed = json.loads(message)
    if not isinstance(parsed, dict) or parsed.get("type") != "PRICE_UPDATE":
        return None
    data = {
        symbol: {"buyPrice": quote["buyPrice"], "sellPrice": quote["sellPrice"], "decimal": quote["decimal"]}
        for symbol, quote in parsed["prices"].items()
    }
    return json.dumps({"type": "PRICE_UPDATE", "data": json.dumps(data, separators=(",", ":"))}, separators=(",", ":"))


def error_body(error: ApiError) -> JsonRow:
    """An error the original client can show: it reads `error` on auth pages and `message` on trades, both
    as text; `code` is the stable machine-readable code of the main API."""
    body: JsonRow = {"error": error.message, "message": error.message, "code": error.code}
    if error.details:
        body["details"] = error.details
    if error.request_id:
        body["requestId"] = error.request_id
    return body


def asset_for_symbol(symbol: str, assets: Iterable[str]) -> str | None:
    """The traded asset the original client means: it writes ours without the underscore and with USDT
    for USDC (`BTCUSDT` is `BTC_USDC`); our own names are accepted as they are. None when none matches."""
    wanted = symbol.strip().upper()
    for asset in assets:
        compact = asset.replace("_", "")
        if wanted in (asset, compact, compact.removesuffix("USDC") + "USDT"):
            return asset
    return None


def candlestick(bar: CandleBar, decimal: int) -> JsonRow:
    """One candle as the original client draws it: `time` in seconds, the bid's OHLC in dollars."""
    return {
        "time": bar.time_ms // 1000,
        "open": price(bar.open, decimal),
        "high": price(bar.high, decimal),
        "low": price(bar.low, decimal),
        "close": price(bar.close, decimal),
    }
