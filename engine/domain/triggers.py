"""Per-asset sorted trigger indexes (liquidation, stop-loss, take-profit for each side), so that a price
tick finds the positions it triggers in O(triggered · log n) instead of scanning every position.

Each index is sorted by (level, sequence), packed into one int key because int comparisons are the
cheapest thing a sorted list can do. A tick peeks at the index's extreme first, so a tick that triggers
nothing costs a handful of comparisons whatever the number of open positions."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Generic, TypeVar

from sortedcontainers import SortedKeyList

from engine.domain.model import CloseReason, PendingOrder, Position, Side

# Sequences stay far below 2**64, so level * span + sequence sorts by level, then by open order.
SEQUENCE_SPAN = _SEQUENCE_SPAN = 1 << 64

# what an index holds: open positions, or pending orders (engine.domain.order_triggers)
Indexed = TypeVar("Indexed", Position, PendingOrder)


_liquidation_level: Callable[[Position], int] = attrgetter("liquidation_price")
_stop_loss_level: Callable[[Position], int] = attrgetter("stop_loss")
_take_profit_level: Callable[[Position], int] = attrgetter("take_profit")


# One key function per level, written out rather than composed: keys are computed on every add and
# remove, the hot path of open and close.
def _liquidation_key(position: Position) -> int:
    return position.liquidation_price * _SEQUENCE_SPAN + position.sequence


def _stop_loss_key(position: Position) -> int:
    return position.stop_loss * _SEQUENCE_SPAN + position.sequence


def _take_profit_key(position: Position) -> int:
    return position.take_profit * _SEQUENCE_SPAN + position.sequence


class TriggerIndex(Generic[Indexed]):
    """Positions (or pending orders) with a non-zero level, sorted by it. `fires_on_fall`: the item triggers
    when the price falls to or below its level (LONG liquidation and stop-loss, SHORT take-profit); otherwise
    when the price rises to or above it."""

    __slots__ = ("_entries", "_fires_on_fall", "_level")

    def __init__(self, level: Callable[[Indexed], int], key: Callable[[Indexed], int], fires_on_fall: bool) -> None:
        self._level: Callable[[Indexed], int] = level
        self._fires_on_fall = fires_on_fall
        self._entries: SortedKeyList = SortedKeyList(key=key)

    def add(self, position: Indexed) -> None:
        if self._level(position):
            self._entries.add(position)

    def remove(self, position: Indexed) -> None:
        if self._level(position):
            self._entries.remove(position)

    def __len__(self) -> int:
        return len(self._entries)

    def crossed(self, price: int) -> list[Indexed]:
        """The positions this price triggers, in key order; the index is not changed."""
        entries = self._entries
        if not entries:
            return []
        if self._fires_on_fall:
            if self._level(entries[-1]) < price:
                return []
            return list(entries.islice(entries.bisect_key_left(price * _SEQUENCE_SPAN)))
        if self._level(entries[0]) > price:
            return []
        return list(entries.islice(0, entries.bisect_key_left((price + 1) * _SEQUENCE_SPAN)))


class AssetTriggers:
    """The six trigger indexes of one asset."""

    __slots__ = (
        "_long_liquidation",
        "_long_stop_loss",
        "_long_take_profit",
        "_short_liquidation",
        "_short_stop_loss",
        "_short_take_profit",
    )

    def __init__(self) -> None:
        # LONG closes at the sell price, which hurts it by falling; SHORT closes at the buy price.
        self._long_liquidation: TriggerIndex[Position] = TriggerIndex(
            _liquidation_level, _liquidation_key, fires_on_fall=True
        )
        self._long_stop_loss = TriggerIndex(_stop_loss_level, _stop_loss_key, fires_on_fall=True)
        self._long_take_profit = TriggerIndex(_take_profit_level, _take_profit_key, fires_on_fall=False)
        self._short_liquidation = TriggerIndex(_liquidation_level, _liquidation_key, fires_on_fall=False)
        self._short_stop_loss = TriggerIndex(_stop_loss_level, _stop_loss_key, fires_on_fall=False)
        self._short_take_profit = TriggerIndex(_take_profit_level, _take_profit_key, fires_on_fall=True)

    def _indexes_of(self, side: Side) -> tuple[TriggerIndex[Position], TriggerIndex[Position], TriggerIndex[Position]]:
        if side is Side.LONG:
            return self._long_liquidation, self._long_stop_loss, self._long_take_profit
        return self._short_liquidation, self._short_stop_loss, self._short_take_profit

    def add(self, position: Position) -> None:
        for index in self._indexes_of(position.side):
            index.add(position)

    def remove(self, position: Position) -> None:
        for index in self._indexes_of(position.side):
            index.remove(position)

    def crossed(self, buy_price: int, sell_price: int) -> list[tuple[Position, CloseReason]]:
        """Every position these prices trigger, with its reason, in open order; the indexes are not changed.

        When several conditions hold at once, liquidation wins over stop-loss, which wins over
        take-profit: a position at its maintenance level is liquidated whatever orders it carries (the fill
        price, and so the money, is the same; only the recorded reason differs). Stop-loss and take-profit
        cannot both hold, because both were on the right side of the market at open."""
        triggered: dict[int, tuple[Position, CloseReason]] = {}
        for index, reason, price in (
            (self._long_liquidation, CloseReason.LIQUIDATION, sell_price),
            (self._short_liquidation, CloseReason.LIQUIDATION, buy_price),
            (self._long_stop_loss, CloseReason.STOP_LOSS, sell_price),
            (self._short_stop_loss, CloseReason.STOP_LOSS, buy_price),
            (self._long_take_profit, CloseReason.TAKE_PROFIT, sell_price),
            (self._short_take_profit, CloseReason.TAKE_PROFIT, buy_price),
        ):
            for position in index.crossed(price):
                triggered.setdefault(position.sequence, (position, reason))
        return [triggered[sequence] for sequence in sorted(triggered)]
