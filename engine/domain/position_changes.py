"""The handlers of the commands that act on one open position (close all or part of it, change its
stop-loss/take-profit) and the bookkeeping they share with price ticks: moving a position in and out of
its account, the position table and its trigger indexes. A mixin of `TradingState`, which owns the
attributes declared here; the arithmetic of a change is in engine.domain.adjust, its checks in
engine.domain.checks."""

from __future__ import annotations

from engine.domain import adjust, checks, money, quotes
from engine.domain.commands import (
    AmendPosition,
    ClosePosition,
    OpenPosition,
    PositionAmended,
    PositionClosed,
    Rejection,
    Reply,
)
from engine.domain.ledger import Ledger
from engine.domain.model import ClosedTrade, CloseReason, LatestQuote, Position
from engine.domain.rules import Rules
from engine.domain.triggers import AssetTriggers

POSITION_ID_PREFIX = "pos-"


class PositionChanges:
    __slots__ = ()

    # set by TradingState.__init__
    _rules: Rules
    _ledgers: dict[str, Ledger]
    _positions: dict[str, Position]
    _quotes: dict[str, LatestQuote]
    _triggers: dict[str, AssetTriggers]

    def _take_sequence(self) -> int:
        """The next value of the state's open/placement counter (TradingState owns it)."""
        raise NotImplementedError

    def _owned(self, user_id: str, position_id: str) -> tuple[Ledger, Position] | Rejection:
        ledger = self._ledgers.get(user_id)
        if ledger is None:
            return checks.no_account(user_id)
        position = ledger.positions.get(position_id)
        return checks.position_not_found(position_id) if position is None else (ledger, position)

    def _close(self, command: ClosePosition, entry_id: str, time_ms: int) -> tuple[Reply, tuple[ClosedTrade, ...]]:
        """Close all of a position, or `command.quantity` of it (engine.domain.adjust.split)."""
        owned = self._owned(command.user_id, command.position_id)
        if isinstance(owned, Rejection):
            return owned, ()
        ledger, position = owned
        refused = checks.close_quantity_rejection(self._rules.assets[position.asset], position, command.quantity)
        quote = refused or self._fresh_quote(position.asset, time_ms)
        if isinstance(quote, Rejection):
            return quote, ()
        closing_price = checks.closing_price(position.side, quote)
        if command.quantity in (0, position.quantity):
            trade = self._settle(ledger, position, closing_price, CloseReason.MANUAL, time_ms)
            return PositionClosed(trade, ledger.balance_cents), (trade,)
        trade, remaining = adjust.split(position, command.quantity, closing_price, entry_id, time_ms)
        refused = checks.part_uncovered(trade) or checks.remainder_liquidated(remaining, closing_price)
        if refused is not None:
            return refused, ()
        ledger.balance_cents += trade.credited_cents
        self._reindex(ledger, position, remaining)
        return PositionClosed(trade, ledger.balance_cents, remaining), (trade,)

    def _amend(self, command: AmendPosition, time_ms: int) -> Reply:
        """New stop-loss/take-profit, checked as at open against the closing-side price now."""
        owned = self._owned(command.user_id, command.position_id)
        if isinstance(owned, Rejection):
            return owned
        ledger, position = owned
        quote = checks.amendment_rejection(command, position.decimal) or self._fresh_quote(position.asset, time_ms)
        if isinstance(quote, Rejection):
            return quote
        new = adjust.amended(position, command)
        closing_price = checks.closing_price(position.side, quote)
        refused = checks.levels_crossed(new.side, new.stop_loss, new.take_profit, closing_price, new.decimal)
        if refused is not None:
            return refused
        self._reindex(ledger, position, new)
        return PositionAmended(new, ledger.balance_cents)

    def _open_on_quote(
        self, ledger: Ledger, command: OpenPosition, quote: LatestQuote, position_id: str, time_ms: int
    ) -> Position | Rejection:
        """Lock the margin and insert the position, every level fixed at this quote (a market order, or a
        pending order's fill); refused for immediate liquidation or want of balance, nothing changed."""
        side, quantity, decimal = command.side, command.quantity, quote.decimal
        entry_price, _ = checks.entry_and_closing_prices(side, quote)
        margin = money.margin_cents(entry_price, quantity, command.leverage, decimal)
        maintenance = money.maintenance_cents(entry_price, quantity, self._rules.maintenance_margin_rate, decimal)
        liquidation_price = money.liquidation_price(side, entry_price, quantity, margin, maintenance, decimal)
        refused = checks.margin_rejection(command, quote, margin, liquidation_price, ledger.balance_cents)
        if refused is not None:
            return refused
        if position_id in self._positions:
            # only a stream entry applied twice can get here; the engine must never let that happen
            raise ValueError(f"position {position_id} exists: its entry was already applied")
        position = Position(
            position_id, command.user_id, quote.asset, side, quantity, command.leverage, entry_price, margin,
            maintenance, liquidation_price, command.stop_loss, command.take_profit, decimal, time_ms,
            self._take_sequence(),
        )  # fmt: skip
        ledger.balance_cents -= margin
        self._insert(ledger, position)
        return position

    def _fresh_quote(self, asset: str, time_ms: int) -> LatestQuote | Rejection:
        return quotes.fresh_quote(self._rules, self._quotes.get(asset), asset, time_ms)

    def _insert(self, ledger: Ledger, position: Position) -> None:
        self._positions[position.id] = position
        ledger.positions[position.id] = position
        ledger.used_margin_cents += position.margin_cents
        self._triggers[position.asset].add(position)

    def _reindex(self, ledger: Ledger, old: Position, new: Position) -> None:
        """Swap a position for its changed self (same id and sequence): O(log n) in each trigger index."""
        self._triggers[old.asset].remove(old)
        self._positions[new.id] = new
        ledger.positions[new.id] = new
        ledger.used_margin_cents += new.margin_cents - old.margin_cents
        self._triggers[new.asset].add(new)

    def _settle(
        self, ledger: Ledger, position: Position, closing_price: int, reason: CloseReason, time_ms: int
    ) -> ClosedTrade:
        """Close at the closing-side market price and credit max(0, margin + pnl)."""
        pnl = money.pnl_cents(position.side, position.entry_price, closing_price, position.quantity, position.decimal)
        credited = money.close_credit_cents(position.margin_cents, pnl)
        ledger.balance_cents += credited
        del self._positions[position.id]
        del ledger.positions[position.id]
        ledger.used_margin_cents -= position.margin_cents
        self._triggers[position.asset].remove(position)
        return ClosedTrade.of(position, closing_price, pnl, credited, reason, time_ms)
