"""The sorted indexes of pending orders: per asset, one for each fill rule (type x side), and one across
all assets by expiry. As with engine.domain.triggers, a price tick or an entry's stream time finds what it
triggers in O(triggered · log n), peeking at an index's extreme first, so a tick that fills nothing costs a
handful of comparisons whatever the number of pending orders."""

from __future__ import annotations

from sortedcontainers import SortedKeyList

from engine.domain.model import OrderType, PendingOrder, Side
from engine.domain.triggers import SEQUENCE_SPAN, TriggerIndex


def _price(order: PendingOrder) -> int:
    return order.price


def _price_key(order: PendingOrder) -> int:
    return order.price * SEQUENCE_SPAN + order.sequence


def _expiry_key(order: PendingOrder) -> int:
    return order.expires_at_ms * SEQUENCE_SPAN + order.sequence


class AssetOrderTriggers:
    """The four fill indexes of one asset. A LONG fills against the buy price, a SHORT against the sell
    price: LIMIT LONG when buy <= price, LIMIT SHORT when sell >= price, STOP LONG when buy >= price,
    STOP SHORT when sell <= price (the issue's rules, docs/contract.md)."""

    __slots__ = ("_limit_long", "_limit_short", "_stop_long", "_stop_short")

    def __init__(self) -> None:
        self._limit_long: TriggerIndex[PendingOrder] = TriggerIndex(_price, _price_key, fires_on_fall=True)
        self._limit_short: TriggerIndex[PendingOrder] = TriggerIndex(_price, _price_key, fires_on_fall=False)
        self._stop_long: TriggerIndex[PendingOrder] = TriggerIndex(_price, _price_key, fires_on_fall=False)
        self._stop_short: TriggerIndex[PendingOrder] = TriggerIndex(_price, _price_key, fires_on_fall=True)

    def _index_of(self, order: PendingOrder) -> TriggerIndex[PendingOrder]:
        if order.type is OrderType.LIMIT:
            return self._limit_long if order.side is Side.LONG else self._limit_short
        return self._stop_long if order.side is Side.LONG else self._stop_short

    def add(self, order: PendingOrder) -> None:
        self._index_of(order).add(order)

    def remove(self, order: PendingOrder) -> None:
        self._index_of(order).remove(order)

    def __len__(self) -> int:
        return len(self._limit_long) + len(self._limit_short) + len(self._stop_long) + len(self._stop_short)

    def crossed(self, buy_price: int, sell_price: int) -> list[PendingOrder]:
        """Every order these prices fill, in placement order; the indexes are not changed. An order is in
        one index only, so no order appears twice."""
        triggered = [
            *self._limit_long.crossed(buy_price),
            *self._limit_short.crossed(sell_price),
            *self._stop_long.crossed(buy_price),
            *self._stop_short.crossed(sell_price),
        ]
        if len(triggered) > 1:
            triggered.sort(key=_sequence)
        return triggered


def _sequence(order: PendingOrder) -> int:
    return order.sequence


class ExpiryIndex:
    """Orders with an expiry, by (expires_at_ms, sequence)."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: SortedKeyList = SortedKeyList(key=_expiry_key)

    def add(self, order: PendingOrder) -> None:
        if order.expires_at_ms:
            self._entries.add(order)

    def remove(self, order: PendingOrder) -> None:
        if order.expires_at_ms:
            self._entries.remove(order)

    def __len__(self) -> int:
        return len(self._entries)

    def due(self, time_ms: int) -> list[PendingOrder]:
        """The orders whose expiry is at or before `time_ms`, soonest first; the index is not changed."""
        entries = self._entries
        if not entries or entries[0].expires_at_ms > time_ms:
            return []
        return list(entries.islice(0, entries.bisect_key_left((time_ms + 1) * SEQUENCE_SPAN)))
