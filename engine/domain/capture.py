"""A `TradingState` frozen at one stream entry (`TradingState.capture`), and its canonical JSON encoding in
pieces: what a snapshot writes, encoded off the engine's loop from copies taken on it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from engine.domain.idempotency import IdempotencyStore, Remembered
from engine.domain.ledger import Ledger
from engine.domain.model import Account, LatestQuote, PendingOrder, Position
from engine.domain.records import (
    Row,
    encode_account_row,
    encode_order,
    encode_position,
    encode_quote,
    encode_remembered,
)
from engine.domain.rules import Rules, encode_rules
from engine.domain.slicing import empty_in_slices, sorted_in_chunks

# 2: idempotency rows carry the stream time of their command (per-user, time-windowed retention)
# 3: the rules in force are recorded (a format-2 snapshot is restored under the rules given to restore)
# 4: a remembered PositionOpened records the valuation it was first answered with
# 5: pending orders (an "orders" table; their reserves are not in the recorded balances)
# 6: each account row adds the sequence number of the account's last event (engine.domain.events)
SNAPSHOT_FORMAT = 6
# rows per json.dumps call: the C encoder holds the GIL for a whole call, and a remembered reply (the
# widest row, ~240 characters) encodes at ~5 us, so 250 of them hold it ~1.2 ms (2,000 held it ~10 ms,
# 20-28 ms on the loaded machine: the snapshot writer's longest stall of the engine's loop)
ROWS_PER_PIECE = 250
# the canonical encoding (keys sorted, compact, ASCII): json.dumps's own arguments, built once
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class StateCapture:
    """A `TradingState` frozen at one entry by `TradingState.capture`. It holds copies of the state's dicts'
    contents, never the dicts themselves; the ledgers in it are shared, but only their fixed fields
    (e-mail, creation time) are read, never their balance, event counter or open positions, which change
    (balances and counters were read at the capture)."""

    __slots__ = (
        "_balances", "_entries", "_event_seqs", "_ledgers", "_next_sequence", "_orders", "_positions", "_quotes",
        "_released", "_rules", "_user_ids", "_users",
    )  # fmt: skip

    def __init__(
        self, rules: Rules, next_sequence: int, user_ids: list[str], ledgers: list[Ledger], balances: list[int],
        event_seqs: list[int], positions: list[Position], orders: list[PendingOrder], quotes: dict[str, LatestQuote],
        entries: list[Remembered], users: list[str],
    ) -> None:  # fmt: skip
        # user_ids, ledgers and balances: the same accounts in the same order (the ledgers dict gains a key
        # at sign-up only, and never loses one)
        self._rules, self._next_sequence, self._user_ids = rules, next_sequence, user_ids
        self._ledgers, self._balances, self._positions, self._quotes = ledgers, balances, positions, quotes
        self._entries, self._users, self._orders, self._event_seqs = entries, users, orders, event_seqs
        self._released = False

    def _accounts(self) -> Iterator[Row]:
        user_ids, ledgers, balances, event_seqs = self._user_ids, self._ledgers, self._balances, self._event_seqs
        # indexes, not (id, ledger, balance) tuples: no 100k short-lived containers for the collector; a
        # range, not a list: its ints are made chunk by chunk (a list of 100k ints is one ~2 ms C call)
        for at in sorted_in_chunks(range(len(user_ids)), key=user_ids.__getitem__):
            ledger = ledgers[at]
            account = Account(user_ids[at], ledger.email, balances[at], ledger.created_at_ms)
            yield encode_account_row(account, event_seqs[at])

    def _positions_in_order(self) -> Iterator[Position]:
        return sorted_in_chunks(self._positions, key=lambda p: p.sequence)

    def _orders_in_order(self) -> Iterator[PendingOrder]:
        return sorted_in_chunks(self._orders, key=lambda o: o.sequence)

    def _remembered(self) -> Iterator[Remembered]:
        return IdempotencyStore.iter_captured(self._entries, self._users)

    def json_pieces(self, rows: int = ROWS_PER_PIECE) -> Iterator[str]:
        """The canonical JSON text of `encode()` (keys sorted, compact, ASCII), in pieces of `rows` rows:
        the rows of a piece are built, encoded and dropped before the next, so a thread encoding a 100k-
        account state neither holds the GIL for long (each json.dumps call holds it) nor builds the whole
        document in memory (whose growth would set off full garbage collections, GIL held throughout)."""
        self._check()
        quotes = self._quotes
        yield '{"accounts":['
        yield from _rows_in_pieces(self._accounts(), rows)
        yield f'],"format":{_dumps(SNAPSHOT_FORMAT)},"idempotency":['
        yield from _rows_in_pieces(map(encode_remembered, self._remembered()), rows)
        yield f'],"next_sequence":{_dumps(self._next_sequence)},"orders":['
        yield from _rows_in_pieces(map(encode_order, self._orders_in_order()), rows)
        yield '],"positions":['
        yield from _rows_in_pieces(map(encode_position, self._positions_in_order()), rows)
        yield f'],"quotes":{_dumps([encode_quote(quotes[asset]) for asset in sorted(quotes)])}'
        yield f',"rules":{_dumps(encode_rules(self._rules))}}}'

    def release(self) -> None:
        """Let go of the copies, in slices: dropped at once, the capture's 100k-item lists would be freed in
        one C call holding the GIL (and so the engine's loop) for ~10 ms. The capture is empty afterwards:
        the snapshot writer calls this once the capture is encoded."""
        for copies in (self._user_ids, self._ledgers, self._balances, self._event_seqs, self._positions,
                       self._orders, self._entries, self._users):  # fmt: skip
            empty_in_slices(copies)
        self._released = True

    def _check(self) -> None:
        if self._released:
            raise RuntimeError("this capture was released: encode a new one")

    def encode(self) -> dict[str, Any]:
        """`TradingState.snapshot()` of the captured state."""
        self._check()
        quotes = self._quotes
        return {
            "format": SNAPSHOT_FORMAT,
            "rules": encode_rules(self._rules),
            "next_sequence": self._next_sequence,
            "accounts": list(self._accounts()),
            "positions": [encode_position(p) for p in self._positions_in_order()],
            "orders": [encode_order(o) for o in self._orders_in_order()],
            "quotes": [encode_quote(quotes[asset]) for asset in sorted(quotes)],
            # eviction order is state: oldest first
            "idempotency": [encode_remembered(entry) for entry in self._remembered()],
        }


def _dumps(value: object) -> str:
    return _ENCODER.encode(value)


def _rows_in_pieces(rows: Iterator[Row], per_piece: int) -> Iterator[str]:
    """The JSON array items of `rows` (without the brackets), `per_piece` rows per piece."""
    first = True
    while piece := list(itertools.islice(rows, per_piece)):
        yield ("" if first else ",") + _dumps(piece)[1:-1]
        first = False
