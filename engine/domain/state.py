"""The trading state machine: accounts, open positions, pending orders, latest quotes, trigger indexes and
remembered idempotent replies, changed only by `TradingState.apply`.

Deterministic by construction: time comes only from the stream entry (`time_ms`), ids derive from the
entry id, and nothing depends on dict or set iteration order or on the hash seed, so replaying the
same entries from the same snapshot always yields the same state, replies and `state_hash()`."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

from engine.domain import checks, money, quotes
from engine.domain.canonical import snapshot_hash
from engine.domain.capture import StateCapture
from engine.domain.commands import (
    AccountCreated,
    AmendPosition,
    CancelOrder,
    ChangeRules,
    ClosePosition,
    Command,
    CreateAccount,
    OpenPosition,
    Outcome,
    PlaceOrder,
    PositionOpened,
    PriceUpdate,
    Rejection,
    Reply,
    UserCommand,
)
from engine.domain.events import with_events
from engine.domain.idempotency import IdempotencyStore, Remembered
from engine.domain.ledger import Ledger
from engine.domain.model import (
    Account,
    AccountSummary,
    ClosedTrade,
    FinishedOrder,
    LatestQuote,
    PendingOrder,
    Position,
    RejectReason,
    Valuation,
)
from engine.domain.order_triggers import AssetOrderTriggers, ExpiryIndex
from engine.domain.position_changes import POSITION_ID_PREFIX
from engine.domain.restoring import Restoring
from engine.domain.rules import Rules, decode_rules
from engine.domain.slicing import copy_in_slices
from engine.domain.triggers import AssetTriggers

# 2-5 restore with every account's event counter at 0
_READABLE_FORMATS = (2, 3, 4, 5, 6)
# refusals that say "no usable price right now": not remembered under an idempotency key (see apply)
_RETRYABLE = frozenset({RejectReason.PRICE_STALE, RejectReason.PRICE_UNAVAILABLE})
# items a snapshot capture copies per slice (TradingState.capture_in_slices): about 1 ms of the loop
CAPTURE_SLICE = 50_000


class TradingState(Restoring):
    """All trading state of one engine shard. Writes: `apply`. Reads: `account`, `user_id_for_email`,
    `positions_of`, `position`, `pending_orders_of`, `pending_order`, `quote`, `valuation`, `account_summary`
    and the counts. Persistence: `snapshot`,
    `restore`, `state_hash`."""

    __slots__ = (
        "_emails",
        "_expiries",
        "_idempotency",
        "_ledgers",
        "_next_sequence",
        "_order_triggers",
        "_orders",
        "_positions",
        "_quotes",
        "_rules",
        "_triggers",
    )

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        self._ledgers: dict[str, Ledger] = {}
        # lower-cased e-mail -> user id of the first account created with it: a derived index (like the
        # triggers), never snapshotted, rebuilt by restore
        self._emails: dict[str, str] = {}
        self._positions: dict[str, Position] = {}
        self._quotes: dict[str, LatestQuote] = {}
        self._triggers = {symbol: AssetTriggers() for symbol in rules.assets}
        self._orders: dict[str, PendingOrder] = {}
        self._order_triggers = {symbol: AssetOrderTriggers() for symbol in rules.assets}
        self._expiries = ExpiryIndex()
        self._idempotency = IdempotencyStore(rules.idempotency_keys_per_user, rules.idempotency_window_ms)
        self._next_sequence = 1

    # ------------------------------------------------------------------------------------------ writes

    def apply(self, command: Command, *, entry_id: str, time_ms: int, idempotency_key: str = "") -> Outcome:
        """Apply one command from stream entry `entry_id` at stream time `time_ms`.

        A user command with an `idempotency_key` already applied for the same user returns the original
        reply and changes nothing (its trades are not reported again); the same key with a different
        command is refused. Every reply is remembered, rejections included (a key names one attempt, as
        a broker's client order id does, so a retry can never turn a refusal into an execution), except
        the refusals for want of a usable price: they changed nothing and tell the client to try again
        (503 at the gateway), so the same key may execute once the price is fresh. Price updates carry
        no user and ignore the key.

        Pending orders whose expiry is at or before `time_ms` expire first, whatever the command."""
        expired = self._expire_due(time_ms)
        outcome = self._apply(command, entry_id, time_ms, idempotency_key)
        if expired:
            outcome = replace(outcome, finished_orders=expired + outcome.finished_orders)
        return with_events(outcome, self._ledgers, time_ms)

    def _apply(self, command: Command, entry_id: str, time_ms: int, idempotency_key: str) -> Outcome:
        if isinstance(command, ChangeRules):
            return Outcome(self._change_rules(command.rules))
        if isinstance(command, PriceUpdate):
            return self._update_prices(command, time_ms)
        if not command.user_id:
            return Outcome(Rejection(RejectReason.INVALID_COMMAND, "the command has no user id"))
        if not idempotency_key:
            return self._execute(command, entry_id, time_ms)
        remembered = self._idempotency.lookup(command.user_id, idempotency_key, time_ms)
        if remembered is not None:
            if remembered.command == command:
                return Outcome(remembered.reply, remembered=True)
            return Outcome(checks.idempotency_key_reused(idempotency_key))
        outcome = self._execute(command, entry_id, time_ms)
        reply = outcome.reply
        assert reply is not None
        if not (isinstance(reply, Rejection) and reply.reason in _RETRYABLE):
            self._idempotency.remember(Remembered(command.user_id, idempotency_key, time_ms, command, reply))
        return outcome

    def rules_misfit(self, rules: Rules) -> str | None:
        """Why `rules` cannot be put in force over this state (None: they can): every open position, pending
        order and quote must keep its asset with the same price scale."""
        for what, asset, decimal in (
            *(("position " + p.id, p.asset, p.decimal) for p in self._positions.values()),
            *(("order " + o.id, o.asset, o.decimal) for o in self._orders.values()),
            *(("quote of " + q.asset, q.asset, q.decimal) for q in self._quotes.values()),
        ):
            spec = rules.assets.get(asset)
            if spec is None or spec.decimal != decimal:
                return f"{what} does not fit the configured asset {asset}"
        return None

    def _take_sequence(self) -> int:
        sequence = self._next_sequence
        self._next_sequence = sequence + 1
        return sequence

    def _change_rules(self, rules: Rules) -> Rejection | None:
        misfit = self.rules_misfit(rules)
        if misfit is not None:
            return Rejection(RejectReason.INVALID_COMMAND, f"the rules cannot change: {misfit}")
        self._rules = rules
        self._triggers = {symbol: self._triggers.get(symbol) or AssetTriggers() for symbol in rules.assets}
        self._order_triggers = {
            symbol: self._order_triggers.get(symbol) or AssetOrderTriggers() for symbol in rules.assets
        }
        self._idempotency.set_limits(rules.idempotency_keys_per_user, rules.idempotency_window_ms)
        return None

    def _execute(self, command: UserCommand, entry_id: str, time_ms: int) -> Outcome:
        if isinstance(command, OpenPosition):
            return Outcome(self._open(command, entry_id, time_ms))
        if isinstance(command, ClosePosition):
            return Outcome(*self._close(command, entry_id, time_ms))
        if isinstance(command, AmendPosition):
            return Outcome(self._amend(command, time_ms))
        if isinstance(command, PlaceOrder):
            return Outcome(self._place(command, entry_id, time_ms))
        if isinstance(command, CancelOrder):
            reply, finished = self._cancel(command, time_ms)
            return Outcome(reply, finished_orders=finished)
        return Outcome(self._create_account(command, time_ms))

    def _create_account(self, command: CreateAccount, time_ms: int) -> Reply:
        refused = checks.account_rejection(command)
        if refused is not None:
            return refused
        ledger = self._ledgers.get(command.user_id)
        if ledger is not None:
            conflict = checks.account_conflict(command.user_id, ledger.email, command)
            return conflict or AccountCreated(self._account_of(command.user_id, ledger), already_existed=True)
        ledger = Ledger(command.email, command.starting_balance_cents, time_ms)
        self._add_ledger(command.user_id, ledger)
        return AccountCreated(self._account_of(command.user_id, ledger), already_existed=False)

    def _open(self, command: OpenPosition, entry_id: str, time_ms: int) -> Reply:
        """Run the checks (engine.domain.checks) in order; the first refusal is the answer. Otherwise
        lock the margin and insert the position with every level fixed at open."""
        ledger = self._ledgers.get(command.user_id)
        if ledger is None:
            return checks.no_account(command.user_id)
        refused = checks.order_rejection(self._rules, command, len(ledger.positions))
        if refused is not None:
            return refused
        quote = self._fresh_quote(command.asset, time_ms)
        if isinstance(quote, Rejection):
            return quote
        refused = checks.fill_rejection(command, quote)
        if refused is not None:
            return refused
        opened = self._open_on_quote(ledger, command, quote, POSITION_ID_PREFIX + entry_id, time_ms)
        if isinstance(opened, Rejection):
            return opened
        return PositionOpened(opened, ledger.balance_cents, self.valuation(opened))

    def _update_prices(self, update: PriceUpdate, time_ms: int) -> Outcome:
        """Per quote: close what its prices trigger, then fill the pending orders they meet."""
        closed: list[ClosedTrade] = []
        skipped: list[str] = []
        finished: list[FinishedOrder] = []
        ledgers = self._ledgers
        for raw in update.quotes:
            quote = quotes.accepted_quote(self._rules, raw, time_ms)
            if isinstance(quote, str):
                skipped.append(quote)
                continue
            self._quotes[quote.asset] = quote
            for position, reason in self._triggers[quote.asset].crossed(quote.buy_price, quote.sell_price):
                closing_price = checks.closing_price(position.side, quote)
                closed.append(self._settle(ledgers[position.user_id], position, closing_price, reason, time_ms))
            if self._orders:
                finished.extend(self._fill_orders(quote, time_ms))
        return Outcome(None, tuple(closed), tuple(skipped), tuple(finished))

    # ------------------------------------------------------------------------------------------- reads

    @property
    def rules(self) -> Rules:
        return self._rules

    @property
    def account_count(self) -> int:
        return len(self._ledgers)

    @property
    def open_position_count(self) -> int:
        return len(self._positions)

    @property
    def idempotency_key_count(self) -> int:
        return len(self._idempotency)

    def account(self, user_id: str) -> Account | None:
        ledger = self._ledgers.get(user_id)
        return None if ledger is None else self._account_of(user_id, ledger)

    def last_event_seq(self, user_id: str) -> int:
        """The sequence number of the account's last event (0: none, or no such account)."""
        ledger = self._ledgers.get(user_id)
        return 0 if ledger is None else ledger.event_seq

    def user_id_for_email(self, email: str) -> str | None:
        """The user id of the first account created with `email` (compared lower-cased), or None."""
        return self._emails.get(email.lower())

    def _account_of(self, user_id: str, ledger: Ledger) -> Account:
        return Account(user_id, ledger.email, ledger.balance_cents, ledger.created_at_ms)

    def positions_of(self, user_id: str) -> tuple[Position, ...]:
        """The user's open positions, oldest first (empty for an unknown user)."""
        ledger = self._ledgers.get(user_id)
        return () if ledger is None else tuple(ledger.positions.values())

    def position(self, position_id: str) -> Position | None:
        return self._positions.get(position_id)

    def quote(self, asset: str) -> LatestQuote | None:
        """The latest accepted quote, with the stream time it arrived (stale or not)."""
        return self._quotes.get(asset)

    def valuation(self, position: Position) -> Valuation:
        """The position marked to the latest closing-side price (a position's asset always has a quote)."""
        closing_price = checks.closing_price(position.side, self._quotes[position.asset])
        pnl = money.pnl_cents(position.side, position.entry_price, closing_price, position.quantity, position.decimal)
        return Valuation(closing_price, pnl)

    def account_summary(self, user_id: str) -> AccountSummary | None:
        ledger = self._ledgers.get(user_id)
        if ledger is None:
            return None
        used_margin = unrealized = recoverable = 0
        for position in ledger.positions.values():
            pnl = self.valuation(position).unrealized_pnl_cents
            used_margin += position.margin_cents
            unrealized += pnl
            recoverable += money.close_credit_cents(position.margin_cents, pnl)
        reserved = sum(order.reserved_cents for order in ledger.orders.values())
        balance = ledger.balance_cents
        return AccountSummary(
            balance, used_margin, unrealized, balance + reserved + recoverable, len(ledger.positions), reserved,
            len(ledger.orders),
        )  # fmt: skip

    # -------------------------------------------------------------------------------------- snapshots

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-ready primitives, every collection in a canonical order. Indexes are
        derived data and are rebuilt by `restore`."""
        return self.capture().encode()

    def capture(self) -> StateCapture:
        """The state as it is now, frozen by shallow copies only (positions, quotes and remembered replies
        are immutable values; balances are read out of the ledgers); `StateCapture.encode` then builds
        `snapshot()`'s output from it on any thread, while `apply` goes on."""
        steps = self.capture_in_slices()
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    def capture_in_slices(self, per_slice: int = CAPTURE_SLICE) -> Generator[None, None, StateCapture]:
        """`capture` in slices of at most `per_slice` items copied (~15-25 ns each: about 1 ms per slice),
        so a caller can let its event loop run between them. `apply` must not be called before the
        generator has returned its StateCapture (the copies iterate the live dicts across slices)."""
        rules, next_sequence, latest = self._rules, self._next_sequence, dict(self._quotes)
        entries, users = self._idempotency.capture_views()
        # keys and values apart: an items() copy would allocate a tuple per item (and garbage collections)
        user_ids = yield from copy_in_slices(self._ledgers.keys(), per_slice)
        ledgers = yield from copy_in_slices(self._ledgers.values(), per_slice)
        # a ledger's balance changes: read now, a Python-level loop (~4x the cost per item of a copy)
        balances = yield from copy_in_slices((ledger.balance_cents for ledger in ledgers), max(1, per_slice // 4))
        event_seqs = yield from copy_in_slices((ledger.event_seq for ledger in ledgers), max(1, per_slice // 4))
        positions = yield from copy_in_slices(self._positions.values(), per_slice)
        orders = yield from copy_in_slices(self._orders.values(), per_slice)
        kept = yield from copy_in_slices(entries, per_slice)
        kept_users = yield from copy_in_slices(users, per_slice)
        return StateCapture(
            rules, next_sequence, user_ids, ledgers, balances, event_seqs, positions, orders, latest, kept, kept_users
        )

    @classmethod
    def restore(cls, rules: Rules, data: dict[str, Any]) -> TradingState:
        """Rebuild a state from `snapshot()` output (also after a JSON round trip), under the rules it
        records; `rules` are those of a format-2 snapshot, which does not record them. Raises ValueError if
        the data is malformed or does not fit its rules (an unknown asset, or a changed price scale under
        open positions or quotes)."""
        try:
            return cls._restore(rules, data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed snapshot: {exc!r}") from exc

    @classmethod
    def _restore(cls, rules: Rules, data: dict[str, Any]) -> TradingState:
        if data["format"] not in _READABLE_FORMATS:
            raise ValueError(f"unsupported snapshot format {data['format']!r}")
        if data["format"] >= 3:
            rules = decode_rules(data["rules"])
        state = cls(rules)
        state._restore_accounts(data["accounts"])
        positions = state._restore_positions(data["positions"])
        orders = state._restore_orders(data["orders"] if data["format"] >= 5 else [])
        state._restore_next_sequence(data["next_sequence"], [p.sequence for p in positions[-1:] + orders[-1:]])
        state._restore_quotes(data["quotes"], positions)
        state._restore_idempotency(data["idempotency"])
        return state

    def _restore_next_sequence(self, next_sequence: object, highest: list[int]) -> None:
        if type(next_sequence) is not int or any(next_sequence <= sequence for sequence in highest):
            raise ValueError(f"next_sequence {next_sequence!r} is not above every position's and order's sequence")
        self._next_sequence = next_sequence

    def state_hash(self) -> str:
        """Hex SHA-256 of the canonical JSON encoding of `snapshot()`: equal states give equal hashes in
        any process, whatever PYTHONHASHSEED."""
        return snapshot_hash(self.snapshot())
