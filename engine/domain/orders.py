"""Pending LIMIT and STOP orders: placement (reserving margin), cancellation, expiry in stream time and the
fill on a price tick. A mixin of `TradingState`, which owns the attributes declared here; the placement
checks are in engine.domain.order_checks, the indexes in engine.domain.order_triggers.

The decisions (docs/contract.md, pending orders):

* the reserve is `money.margin_cents` at the order's price (rounded up), taken from the free balance;
* an order fills at the market price of the tick that meets its rule, as a market order would: the
  reserve goes back to the balance, then the market order's checks run on that tick's quote (position
  cap, stop-loss/take-profit already crossed, immediate liquidation, margin against the balance) and the
  position's margin, computed from the fill, is taken. A fill no worse than the price of a LONG needs at
  most the reserve; a stop that slipped (or a SHORT limit filled above its price) may need more, which
  the free balance covers if it can;
* when a check refuses the fill, the order ends REJECTED with that reason and the reserve stays returned:
  nothing else changes, and the order never fills later;
* an order expires on the first entry (of any kind) whose stream time is at or after its expiry, before
  that entry is applied, so a tick at the expiry does not fill it."""

from __future__ import annotations

from engine.domain import checks, money, order_checks
from engine.domain.commands import CancelOrder, OpenPosition, OrderCancelled, OrderPlaced, PlaceOrder, Rejection, Reply
from engine.domain.ledger import Ledger
from engine.domain.model import FinishedOrder, LatestQuote, OrderStatus, PendingOrder
from engine.domain.order_triggers import AssetOrderTriggers, ExpiryIndex
from engine.domain.position_changes import POSITION_ID_PREFIX, PositionChanges
from mesh.units import format_scaled

ORDER_ID_PREFIX = "ord-"


class PendingOrders(PositionChanges):
    __slots__ = ()

    # set by TradingState.__init__
    _orders: dict[str, PendingOrder]
    _order_triggers: dict[str, AssetOrderTriggers]
    _expiries: ExpiryIndex

    def _place(self, command: PlaceOrder, entry_id: str, time_ms: int) -> Reply:
        ledger = self._ledgers.get(command.user_id)
        if ledger is None:
            return checks.no_account(command.user_id)
        refused = order_checks.placement_rejection(self._rules, command, len(ledger.orders), time_ms)
        if refused is not None:
            return refused
        quote = self._fresh_quote(command.asset, time_ms)
        if isinstance(quote, Rejection):
            return quote
        reserve = money.margin_cents(command.price, command.quantity, command.leverage, quote.decimal)
        refused = order_checks.wrong_side(command, quote) or checks.insufficient_balance(reserve, ledger.balance_cents)
        if refused is not None:
            return refused
        order_id = ORDER_ID_PREFIX + entry_id
        if order_id in self._orders:
            # only a stream entry applied twice can get here; the engine must never let that happen
            raise ValueError(f"entry {entry_id} was already applied: order {order_id} exists")
        order = PendingOrder(
            order_id, command.user_id, command.asset, command.side, command.type, command.price, command.quantity,
            command.leverage, command.stop_loss, command.take_profit, reserve, quote.decimal, time_ms,
            command.expires_at_ms, self._take_sequence(),
        )  # fmt: skip
        ledger.balance_cents -= reserve
        self._insert_order(ledger, order)
        return OrderPlaced(order, ledger.balance_cents)

    def _cancel(self, command: CancelOrder, time_ms: int) -> tuple[Reply, tuple[FinishedOrder, ...]]:
        ledger = self._ledgers.get(command.user_id)
        if ledger is None:
            return checks.no_account(command.user_id), ()
        order = ledger.orders.get(command.order_id)
        if order is None:
            return order_checks.order_not_found(command.order_id), ()
        finished = self._end(ledger, order, OrderStatus.CANCELLED, time_ms)
        return OrderCancelled(finished, ledger.balance_cents), (finished,)

    def _expire_due(self, time_ms: int) -> tuple[FinishedOrder, ...]:
        """End every order whose expiry is at or before `time_ms` (soonest first)."""
        due = self._expiries.due(time_ms)
        if not due:
            return ()
        return tuple(self._end(self._ledgers[o.user_id], o, OrderStatus.EXPIRED, time_ms) for o in due)

    def _fill_orders(self, quote: LatestQuote, time_ms: int) -> list[FinishedOrder]:
        """Fill (or refuse to fill) every order of the quote's asset that its prices meet, in placement order."""
        finished = []
        for order in self._order_triggers[quote.asset].crossed(quote.buy_price, quote.sell_price):
            ledger = self._ledgers[order.user_id]
            self._remove_order(ledger, order)
            ledger.balance_cents += order.reserved_cents
            finished.append(self._fill(ledger, order, quote, time_ms))
        return finished

    def _fill(self, ledger: Ledger, order: PendingOrder, quote: LatestQuote, time_ms: int) -> FinishedOrder:
        """Open the order's position at this quote as a market order would; its reserve is already back."""
        command = OpenPosition(
            order.user_id, order.asset, order.side, order.quantity, order.leverage, 0, order.stop_loss,
            order.take_profit, 0,
        )  # fmt: skip
        refused = checks.too_many_positions(self._rules, len(ledger.positions)) or checks.fill_rejection(command, quote)
        position_id = POSITION_ID_PREFIX + order.id.removeprefix(ORDER_ID_PREFIX)
        opened = refused or self._open_on_quote(ledger, command, quote, position_id, time_ms)
        if isinstance(opened, Rejection):
            fill_price, _ = checks.entry_and_closing_prices(order.side, quote)
            message = f"the order met its price at {format_scaled(fill_price, quote.decimal)} but could not fill: "
            return FinishedOrder(
                order, OrderStatus.REJECTED, time_ms, reject_reason=opened.reason, message=message + opened.message
            )
        return FinishedOrder(order, OrderStatus.FILLED, time_ms, opened.id, opened.entry_price)

    def _insert_order(self, ledger: Ledger, order: PendingOrder) -> None:
        self._orders[order.id] = order
        ledger.orders[order.id] = order
        self._order_triggers[order.asset].add(order)
        self._expiries.add(order)

    def _remove_order(self, ledger: Ledger, order: PendingOrder) -> None:
        del self._orders[order.id]
        del ledger.orders[order.id]
        self._order_triggers[order.asset].remove(order)
        self._expiries.remove(order)

    def _end(self, ledger: Ledger, order: PendingOrder, status: OrderStatus, time_ms: int) -> FinishedOrder:
        """Cancel or expire: the order leaves every index and its reserve returns to the free balance."""
        self._remove_order(ledger, order)
        ledger.balance_cents += order.reserved_cents
        return FinishedOrder(order, status, time_ms)

    def pending_orders_of(self, user_id: str) -> tuple[PendingOrder, ...]:
        """The user's pending orders, oldest first (empty for an unknown user)."""
        ledger = self._ledgers.get(user_id)
        return () if ledger is None else tuple(ledger.orders.values())

    def pending_order(self, order_id: str) -> PendingOrder | None:
        return self._orders.get(order_id)

    @property
    def pending_order_count(self) -> int:
        return len(self._orders)
