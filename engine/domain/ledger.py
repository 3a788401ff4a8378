"""The mutable side of an account, owned by `TradingState`."""

from __future__ import annotations

from engine.domain.model import PendingOrder, Position


class Ledger:
    """The mutable side of an account: free balance, open positions (in open order) and pending orders (in
    placement order). The free balance excludes what the pending orders reserve."""

    __slots__ = ("balance_cents", "created_at_ms", "email", "orders", "positions")

    def __init__(self, email: str, balance_cents: int, created_at_ms: int) -> None:
        self.email = email
        self.balance_cents = balance_cents
        self.created_at_ms = created_at_ms
        self.positions: dict[str, Position] = {}
        self.orders: dict[str, PendingOrder] = {}
