"""The mutable side of an account, owned by `TradingState`."""

from __future__ import annotations

from engine.domain.model import Position


class Ledger:
    """The mutable side of an account: free balance and open positions (in open order)."""

    __slots__ = ("balance_cents", "created_at_ms", "email", "positions")

    def __init__(self, email: str, balance_cents: int, created_at_ms: int) -> None:
        self.email = email
        self.balance_cents = balance_cents
        self.created_at_ms = created_at_ms
        self.positions: dict[str, Position] = {}
