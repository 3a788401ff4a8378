"""Rebuilding a `TradingState` from a snapshot, table by table: a mixin of `TradingState`, whose attributes
are declared by its bases. Every check here refuses a snapshot that does not fit its rules or itself."""

from __future__ import annotations

from typing import Any

from engine.domain.idempotency import IdempotencyStore
from engine.domain.ledger import Ledger
from engine.domain.model import PendingOrder, Position
from engine.domain.orders import PendingOrders
from engine.domain.records import decode_account_row, decode_order, decode_position, decode_quote, decode_remembered


class Restoring(PendingOrders):
    __slots__ = ()

    # set by TradingState.__init__
    _emails: dict[str, str]
    _idempotency: IdempotencyStore

    def _add_ledger(self, user_id: str, ledger: Ledger) -> None:
        self._ledgers[user_id] = ledger
        self._emails.setdefault(ledger.email.lower(), user_id)

    def _restore_accounts(self, rows: list[Any]) -> None:
        for row in rows:
            account, event_seq = decode_account_row(row)
            if account.user_id in self._ledgers:
                raise ValueError(f"account {account.user_id} appears twice")
            ledger = Ledger(account.email, account.balance_cents, account.created_at_ms, event_seq)
            self._add_ledger(account.user_id, ledger)

    def _restore_positions(self, rows: list[Any]) -> list[Position]:
        """Insert the positions in sequence order (the triggers are rebuilt as they go); returns them so."""
        positions = sorted((decode_position(row) for row in rows), key=lambda p: p.sequence)
        for position in positions:
            spec = self._rules.assets.get(position.asset)
            if spec is None or spec.decimal != position.decimal:
                raise ValueError(f"position {position.id} does not fit the configured asset {position.asset}")
            ledger = self._ledgers.get(position.user_id)
            if ledger is None or position.id in self._positions:
                raise ValueError(f"position {position.id} has no account or appears twice")
            self._insert(ledger, position)
        return positions

    def _restore_orders(self, rows: list[Any]) -> list[PendingOrder]:
        """Insert the pending orders in sequence order (their indexes are rebuilt as they go); returns them so.
        Their reserves are not in the balances the accounts recorded."""
        orders = sorted((decode_order(row) for row in rows), key=lambda o: o.sequence)
        for order in orders:
            spec = self._rules.assets.get(order.asset)
            if spec is None or spec.decimal != order.decimal:
                raise ValueError(f"order {order.id} does not fit the configured asset {order.asset}")
            ledger = self._ledgers.get(order.user_id)
            if ledger is None or order.id in self._orders:
                raise ValueError(f"order {order.id} has no account or appears twice")
            self._insert_order(ledger, order)
        return orders

    def _restore_quotes(self, rows: list[Any], positions: list[Position]) -> None:
        for row in rows:
            quote = decode_quote(row)
            spec = self._rules.assets.get(quote.asset)
            if spec is None or spec.decimal != quote.decimal:
                raise ValueError(f"quote of {quote.asset} does not fit the configured asset")
            self._quotes[quote.asset] = quote
        unquoted = {position.asset for position in positions} - self._quotes.keys()
        if unquoted:
            # every position opened on a quote, and quotes are never dropped: valuation relies on it
            raise ValueError(f"open positions on {sorted(unquoted)} but no quote for them")

    def _restore_idempotency(self, rows: list[Any]) -> None:
        seen_keys: set[tuple[str, str]] = set()
        for row in rows:
            entry = decode_remembered(row)
            if (entry.user_id, entry.key) in seen_keys:
                raise ValueError(f"idempotency key {entry.key!r} of {entry.user_id} appears twice")
            seen_keys.add((entry.user_id, entry.key))
            self._idempotency.remember(entry)
