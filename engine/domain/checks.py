"""The pre-trade checks: every reason an order (or an account) is refused, one named check each.

A check reads only its arguments and returns the `Rejection` a person reads, or None when the command
passes it; none changes anything. `TradingState` runs them in a fixed order, so the first failing check
decides the answer: first what the command says on its own (`order_rejection`), then what the market
makes of it (`fill_rejection`, on the fresh quote), then what it would cost (`margin_rejection`)."""

from __future__ import annotations

from engine.domain import money
from engine.domain.commands import AmendPosition, CreateAccount, OpenPosition, Rejection
from engine.domain.model import ClosedTrade, LatestQuote, Position, RejectReason, Side
from engine.domain.rules import Rules
from mesh.units import MAX_DECIMAL, AssetSpec, format_bps, format_cents, format_quantity, format_scaled

MAX_SLIPPAGE_BPS = money.BPS_PER_UNIT


# ------------------------------------------------------------------------------- accounts and keys


def account_rejection(command: CreateAccount) -> Rejection | None:
    if not command.email:
        return Rejection(RejectReason.INVALID_COMMAND, "the e-mail address is empty")
    if command.starting_balance_cents < 0:
        return Rejection(
            RejectReason.INVALID_COMMAND,
            f"the starting balance must not be negative; got {format_cents(command.starting_balance_cents)}",
        )
    return None


def account_conflict(user_id: str, existing_email: str, command: CreateAccount) -> Rejection | None:
    if existing_email != command.email:
        return Rejection(
            RejectReason.ACCOUNT_CONFLICT, f"user {user_id} already has an account with a different e-mail address"
        )
    return None


def no_account(user_id: str) -> Rejection:
    return Rejection(RejectReason.ACCOUNT_NOT_FOUND, f"user {user_id} has no trading account")


def idempotency_key_reused(key: str) -> Rejection:
    """The user's key names an earlier command that differs from this one."""
    return Rejection(
        RejectReason.IDEMPOTENCY_KEY_REUSED, f"idempotency key {key!r} was already used for a different command"
    )


# ------------------------------------------------------------------------ the order on its own


def order_rejection(rules: Rules, command: OpenPosition, open_positions: int) -> Rejection | None:
    """The checks that need no price, in the order a person would fix them."""
    return (
        too_many_positions(rules, open_positions)
        or unknown_asset(rules, command.asset)
        or invalid_quantity(rules.assets[command.asset], command.quantity)
        or invalid_leverage(rules, command.leverage)
        or invalid_slippage(command.slippage_bps)
        or negative_level(command)
    )


def too_many_positions(rules: Rules, open_positions: int) -> Rejection | None:
    cap = rules.max_open_positions_per_account
    if open_positions >= cap:
        return Rejection(
            RejectReason.TOO_MANY_POSITIONS,
            f"the account already holds {cap} open positions, the most allowed; close one to open another",
        )
    return None


def unknown_asset(rules: Rules, asset: str) -> Rejection | None:
    if asset not in rules.assets:
        known = ", ".join(sorted(rules.assets))
        return Rejection(RejectReason.UNKNOWN_ASSET, f"asset {asset!r} is not traded here (known: {known})")
    return None


def invalid_quantity(spec: AssetSpec, quantity: int) -> Rejection | None:
    if quantity <= 0 or quantity % spec.step:
        return Rejection(
            RejectReason.INVALID_QUANTITY,
            f"quantity must be a positive multiple of {format_quantity(spec.step)} {spec.symbol}; "
            f"got {format_quantity(quantity)}",
        )
    return None


def invalid_leverage(rules: Rules, leverage: int) -> Rejection | None:
    if not 1 <= leverage <= rules.max_leverage:
        return Rejection(
            RejectReason.INVALID_LEVERAGE,
            f"leverage must be a whole number from 1 to {rules.max_leverage}; got {leverage}",
        )
    return None


def invalid_slippage(slippage_bps: int) -> Rejection | None:
    if not 0 <= slippage_bps <= MAX_SLIPPAGE_BPS:
        return Rejection(
            RejectReason.INVALID_SLIPPAGE, f"slippage must be from 0% to 100%; got {format_bps(slippage_bps)}"
        )
    return None


def negative_level(command: OpenPosition) -> Rejection | None:
    if command.trade_opening_price < 0:
        return Rejection(RejectReason.INVALID_COMMAND, "the trade opening price must not be negative")
    if command.stop_loss < 0:
        return Rejection(RejectReason.INVALID_STOP_LOSS, "the stop-loss must not be negative")
    if command.take_profit < 0:
        return Rejection(RejectReason.INVALID_TAKE_PROFIT, "the take-profit must not be negative")
    return None


# ------------------------------------------------------------------- changes to an open position


def position_not_found(position_id: str) -> Rejection:
    # the same answer for a foreign position as for a missing one: ids must not leak
    return Rejection(RejectReason.POSITION_NOT_FOUND, f"no open position {position_id!r} in this account")


def close_quantity_rejection(spec: AssetSpec, position: Position, quantity: int) -> Rejection | None:
    """A partial close's quantity (0 = all): a multiple of the step, at most the position's quantity."""
    if quantity == 0:
        return None
    if quantity > position.quantity:
        return Rejection(
            RejectReason.INVALID_QUANTITY,
            f"cannot close {format_quantity(quantity)} {spec.symbol}: the position holds "
            f"{format_quantity(position.quantity)}",
        )
    return invalid_quantity(spec, quantity)


def amendment_rejection(command: AmendPosition, decimal: int) -> Rejection | None:
    """The new levels on their own: not negative, and exact at the position's price scale `decimal`."""
    if not 0 <= command.price_decimal <= MAX_DECIMAL:
        return Rejection(RejectReason.INVALID_COMMAND, f"the price scale must be from 0 to {MAX_DECIMAL}")
    scale = command.price_decimal or decimal
    for level, reason, name in (
        (command.stop_loss, RejectReason.INVALID_STOP_LOSS, "stop-loss"),
        (command.take_profit, RejectReason.INVALID_TAKE_PROFIT, "take-profit"),
    ):
        if level is not None and level < 0:
            return Rejection(reason, f"the {name} must not be negative")
        if level is not None and money.rescale_exact(level, scale, decimal) is None:
            return Rejection(
                reason,
                f"the {name} {format_scaled(level, scale)} has more decimals than the price scale of the "
                f"position ({decimal})",
            )
    return None


def remainder_liquidated(remaining: Position, closing_price: int) -> Rejection | None:
    """The rest of a partial close would already meet its liquidation condition (its recomputed level can be
    a grid step more protective than the whole's): refused, so a close never leaves a position that the
    next tick liquidates at a price nobody chose."""
    level = remaining.liquidation_price
    if level and (closing_price <= level if remaining.side is Side.LONG else closing_price >= level):
        return Rejection(
            RejectReason.IMMEDIATE_LIQUIDATION,
            f"the {format_quantity(remaining.quantity)} left open would be at its liquidation level "
            f"{format_scaled(level, remaining.decimal)} at the current price "
            f"{format_scaled(closing_price, remaining.decimal)}; close all of it or less of it",
        )
    return None


def part_uncovered(part: ClosedTrade) -> Rejection | None:
    """The part a partial close takes would lose more than the margin it releases (a tiny part of a losing
    position): refused, since crediting it 0 would leave the rest of its loss charged to nobody."""
    if part.credited_cents >= 0:
        return None
    return Rejection(
        RejectReason.INVALID_QUANTITY,
        f"closing {format_quantity(part.quantity)} would lose {format_cents(-part.pnl_cents)}, more than the "
        f"{format_cents(part.margin_cents)} of margin it releases; close a larger part or all of it",
    )


# --------------------------------------------------------------------------- the order at market


def closing_price(side: Side, quote: LatestQuote) -> int:
    """A LONG closes by selling, a SHORT by buying back."""
    return quote.sell_price if side is Side.LONG else quote.buy_price


def entry_and_closing_prices(side: Side, quote: LatestQuote) -> tuple[int, int]:
    """A LONG opens at the buy price and closes by selling; a SHORT opens at the sell price."""
    if side is Side.LONG:
        return quote.buy_price, quote.sell_price
    return quote.sell_price, quote.buy_price


def fill_rejection(command: OpenPosition, quote: LatestQuote) -> Rejection | None:
    """The checks against the fresh quote the order would fill on."""
    entry_price, closing_price = entry_and_closing_prices(command.side, quote)
    return slippage_exceeded(command, entry_price, quote.decimal) or level_already_crossed(
        command, closing_price, quote.decimal
    )


def slippage_exceeded(command: OpenPosition, entry_price: int, decimal: int) -> Rejection | None:
    expected = command.trade_opening_price
    if expected and money.slippage_exceeded(entry_price, expected, command.slippage_bps):
        return Rejection(
            RejectReason.SLIPPAGE_EXCEEDED,
            f"the fill price {format_scaled(entry_price, decimal)} is "
            f"{format_bps(money.deviation_bps_ceil(entry_price, expected))} away from the "
            f"expected {format_scaled(expected, decimal)}, more than the accepted "
            f"{format_bps(command.slippage_bps)}",
        )
    return None


def level_already_crossed(command: OpenPosition, closing_price: int, decimal: int) -> Rejection | None:
    """A stop-loss or take-profit already crossed would fire on the next tick, at a price the user did
    not ask for."""
    return levels_crossed(command.side, command.stop_loss, command.take_profit, closing_price, decimal)


def levels_crossed(side: Side, stop_loss: int, take_profit: int, closing_price: int, decimal: int) -> Rejection | None:
    """The levels (0 = off) against the closing-side price: at open and when an open position's are changed."""
    is_long = side is Side.LONG
    closing_name = "sell" if is_long else "buy"
    if stop_loss and (stop_loss >= closing_price if is_long else stop_loss <= closing_price):
        return Rejection(
            RejectReason.INVALID_STOP_LOSS,
            f"the stop-loss {format_scaled(stop_loss, decimal)} of a {side.value} must be "
            f"{'below' if is_long else 'above'} the current {closing_name} price "
            f"{format_scaled(closing_price, decimal)}",
        )
    if take_profit and (take_profit <= closing_price if is_long else take_profit >= closing_price):
        return Rejection(
            RejectReason.INVALID_TAKE_PROFIT,
            f"the take-profit {format_scaled(take_profit, decimal)} of a {side.value} must be "
            f"{'above' if is_long else 'below'} the current {closing_name} price "
            f"{format_scaled(closing_price, decimal)}",
        )
    return None


# ------------------------------------------------------------------------------ what it would cost


def margin_rejection(
    command: OpenPosition, quote: LatestQuote, margin: int, liquidation_price: int, balance: int
) -> Rejection | None:
    return immediate_liquidation(command, quote, margin, liquidation_price) or insufficient_balance(margin, balance)


def immediate_liquidation(
    command: OpenPosition, quote: LatestQuote, margin: int, liquidation_price: int
) -> Rejection | None:
    """The position would meet its liquidation condition at the closing price it opens against: the same
    level, and the same comparison, as the trigger index applies on every tick."""
    _, closing_price = entry_and_closing_prices(command.side, quote)
    if not liquidation_price:
        return None
    if closing_price <= liquidation_price if command.side is Side.LONG else closing_price >= liquidation_price:
        decimal = quote.decimal
        return Rejection(
            RejectReason.IMMEDIATE_LIQUIDATION,
            f"the position would be liquidated as soon as it opens: the spread between the buy price "
            f"{format_scaled(quote.buy_price, decimal)} and the sell price "
            f"{format_scaled(quote.sell_price, decimal)} would eat the margin of {format_cents(margin)} "
            f"at {command.leverage}x (liquidation price {format_scaled(liquidation_price, decimal)}); "
            f"lower the leverage",
        )
    return None


def insufficient_balance(margin: int, balance: int) -> Rejection | None:
    if balance < margin:
        return Rejection(
            RejectReason.INSUFFICIENT_BALANCE,
            f"the margin {format_cents(margin)} exceeds the free balance {format_cents(balance)}",
        )
    return None
