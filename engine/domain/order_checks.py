"""The checks of a pending order at placement, one named check each (as engine.domain.checks for a market
order, whose checks of asset, quantity and leverage are reused). At the fill the market-order checks
themselves run on the fill's quote (engine.domain.orders)."""

from __future__ import annotations

from engine.domain import checks
from engine.domain.commands import PlaceOrder, Rejection
from engine.domain.model import LatestQuote, OrderType, RejectReason, Side
from engine.domain.rules import Rules
from mesh.units import format_scaled


def placement_rejection(rules: Rules, command: PlaceOrder, pending: int, time_ms: int) -> Rejection | None:
    """The checks that need no price, in the order a person would fix them."""
    return (
        too_many_orders(rules, pending)
        or checks.unknown_asset(rules, command.asset)
        or checks.invalid_quantity(rules.assets[command.asset], command.quantity)
        or checks.invalid_leverage(rules, command.leverage)
        or invalid_price(command)
        or invalid_expiry(command, time_ms)
        or levels_around_price(command, rules.assets[command.asset].decimal)
    )


def too_many_orders(rules: Rules, pending: int) -> Rejection | None:
    cap = rules.max_pending_orders_per_account
    if pending >= cap:
        return Rejection(
            RejectReason.TOO_MANY_ORDERS,
            f"the account already has {cap} pending orders, the most allowed; cancel one to place another",
        )
    return None


def invalid_price(command: PlaceOrder) -> Rejection | None:
    if command.price <= 0:
        return Rejection(
            RejectReason.INVALID_ORDER_PRICE, f"the price of a {command.type.value} order must be positive"
        )
    if command.stop_loss < 0:
        return Rejection(RejectReason.INVALID_STOP_LOSS, "the stop-loss must not be negative")
    if command.take_profit < 0:
        return Rejection(RejectReason.INVALID_TAKE_PROFIT, "the take-profit must not be negative")
    return None


def invalid_expiry(command: PlaceOrder, time_ms: int) -> Rejection | None:
    if command.expires_at_ms and command.expires_at_ms <= time_ms:
        return Rejection(
            RejectReason.INVALID_EXPIRY, "the expiry must be in the future (or absent: good till cancelled)"
        )
    return None


def levels_around_price(command: PlaceOrder, decimal: int) -> Rejection | None:
    """Stop-loss and take-profit on the right side of the order's own price: below and above it for a LONG,
    above and below for a SHORT (at the fill they are checked again against the market)."""
    is_long = command.side is Side.LONG
    if command.stop_loss and (command.stop_loss >= command.price if is_long else command.stop_loss <= command.price):
        return Rejection(
            RejectReason.INVALID_STOP_LOSS,
            f"the stop-loss {format_scaled(command.stop_loss, decimal)} of a {command.side.value} order must be "
            f"{'below' if is_long else 'above'} its price {format_scaled(command.price, decimal)}",
        )
    if command.take_profit and (
        command.take_profit <= command.price if is_long else command.take_profit >= command.price
    ):
        return Rejection(
            RejectReason.INVALID_TAKE_PROFIT,
            f"the take-profit {format_scaled(command.take_profit, decimal)} of a {command.side.value} order must "
            f"be {'above' if is_long else 'below'} its price {format_scaled(command.price, decimal)}",
        )
    return None


def fills_now(order_type: OrderType, side: Side, price: int, buy_price: int, sell_price: int) -> bool:
    """The fill rule: LIMIT LONG buy <= price, LIMIT SHORT sell >= price, STOP LONG buy >= price, STOP SHORT
    sell <= price."""
    if side is Side.LONG:
        return buy_price <= price if order_type is OrderType.LIMIT else buy_price >= price
    return sell_price >= price if order_type is OrderType.LIMIT else sell_price <= price


def wrong_side(command: PlaceOrder, quote: LatestQuote) -> Rejection | None:
    """An order the market already fills is on the wrong side: a LIMIT waits for a better price than now,
    a STOP for a worse one; for an immediate fill there is /trade/create."""
    if not fills_now(command.type, command.side, command.price, quote.buy_price, quote.sell_price):
        return None
    is_long = command.side is Side.LONG
    market_name, market = ("buy", quote.buy_price) if is_long else ("sell", quote.sell_price)
    below = (command.type is OrderType.LIMIT) is is_long
    return Rejection(
        RejectReason.ORDER_WRONG_SIDE,
        f"a {command.type.value} {command.side.value} order's price must be {'below' if below else 'above'} the "
        f"current {market_name} price {format_scaled(market, quote.decimal)}; "
        f"{format_scaled(command.price, quote.decimal)} would fill at once (open at market instead)",
    )


def order_not_found(order_id: str) -> Rejection:
    # the same answer for a foreign order as for a missing or finished one: ids must not leak
    return Rejection(RejectReason.ORDER_NOT_FOUND, f"no pending order {order_id!r} in this account")
