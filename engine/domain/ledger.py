"""The mutable side of an account, owned by `TradingState`."""

from __future__ import annotations

from engine.domain.model import PendingOrder, Position


class Ledger:
    """The mutable side of an account: free balance, open positions (in open order), pending orders (in
    placement order) and its event counter. The free balance excludes what the pending orders reserve."""

    __slots__ = ("balance_cents", "created_at_ms", "email", "event_seq", "orders", "positions", "used_margin_cents")

    def __init__(self, email: str, balance_cents: int, created_at_ms: int, event_seq: int = 0) -> None:
        self.email = email
        self.balance_cents = balance_cents
        self.created_at_ms = created_at_ms
        self.positions: dict[str, Position] = {}
        self.orders: dict[str, PendingOrder] = {}
        # the sequence number of the account's last event (engine.domain.events); 0 = none yet
        self.event_seq = event_seq
        # the sum of the open positions' margins, kept by PositionChanges as positions come and go (derived,
        # like the trigger indexes: never snapshotted, rebuilt as restore inserts the positions)
        self.used_margin_cents = 0
