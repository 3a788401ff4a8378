"""Account events: what one applied command changed in each account, numbered per account.

Every change to an account is an event with the account's next sequence number (1, 2, 3, ... without a
gap). They are derived here, in one place, from the outcome the state machine produced (its reply and the
trades it closed) and the account's figures after the command: nothing else in the domain builds them.
Being a function of the state and the entry, replay yields the same events with the same numbers.

Events of one command, in order: for an account created, `BALANCE` (DEPOSIT); for a position opened,
`POSITION_OPENED` then `BALANCE` (MARGIN_LOCKED); for a whole close (manual or triggered), `POSITION_CLOSED`
then `BALANCE` (POSITION_CLOSED); for a partial close, `POSITION_UPDATED` (PARTIAL_CLOSE) then `BALANCE`
(PARTIAL_CLOSE); for new levels, `POSITION_UPDATED` (LEVELS). A `BALANCE` event is a statement line: its
amount is the signed change of the free balance, so the amounts of an account's BALANCE events sum to its
balance (the DEPOSIT is the first of them)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import NamedTuple

from engine.domain.commands import (
    AccountCreated,
    Outcome,
    PositionAmended,
    PositionClosed,
    PositionOpened,
    Rejection,
    Reply,
)
from engine.domain.ledger import Ledger
from engine.domain.model import ClosedTrade, Position


class EventKind(enum.Enum):
    POSITION_OPENED = "POSITION_OPENED"
    POSITION_CLOSED = "POSITION_CLOSED"
    POSITION_UPDATED = "POSITION_UPDATED"
    BALANCE = "BALANCE"
    # pending orders (engine.domain has none yet): the kinds exist so the wire and the store know them
    ORDER_ACCEPTED = "ORDER_ACCEPTED"
    ORDER_FILLED = "ORDER_FILLED"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    ORDER_EXPIRED = "ORDER_EXPIRED"
    ORDER_REJECTED = "ORDER_REJECTED"


class BalanceCause(enum.Enum):
    """Why the free balance moved: the statement line's `type`."""

    DEPOSIT = "DEPOSIT"
    MARGIN_LOCKED = "MARGIN_LOCKED"
    POSITION_CLOSED = "POSITION_CLOSED"
    PARTIAL_CLOSE = "PARTIAL_CLOSE"


class UpdateKind(enum.Enum):
    LEVELS = "LEVELS"
    PARTIAL_CLOSE = "PARTIAL_CLOSE"


class BalanceChange(NamedTuple):
    cause: BalanceCause
    # signed change of the free balance, in cents
    amount_cents: int
    # the account's figures after the change
    balance_cents: int
    reserved_cents: int
    used_margin_cents: int
    position_id: str
    order_id: str


class PositionUpdate(NamedTuple):
    change: UpdateKind
    # the position as it is now
    position: Position
    # the part a partial close closed (None for new levels)
    closed_part: ClosedTrade | None


EventBody = Position | ClosedTrade | PositionUpdate | BalanceChange


class AccountEvent(NamedTuple):
    user_id: str
    # per account: 1, 2, 3, ... without a gap
    seq: int
    # stream time of the entry that caused it
    time_ms: int
    kind: EventKind
    body: EventBody


def used_margin_cents(ledger: Ledger) -> int:
    return sum(position.margin_cents for position in ledger.positions.values())


class EventNumbering:
    """Hands out each account's next sequence number; the counter lives in the account's ledger."""

    __slots__ = ("_events", "_ledger_of", "_time_ms")

    def __init__(self, ledger_of: Callable[[str], Ledger], time_ms: int) -> None:
        self._ledger_of = ledger_of
        self._time_ms = time_ms
        self._events: list[AccountEvent] = []

    def add(self, user_id: str, kind: EventKind, body: EventBody) -> None:
        ledger = self._ledger_of(user_id)
        ledger.event_seq += 1
        self._events.append(AccountEvent(user_id, ledger.event_seq, self._time_ms, kind, body))

    @property
    def events(self) -> tuple[AccountEvent, ...]:
        return tuple(self._events)


def executed(
    reply: Reply | None, closed: tuple[ClosedTrade, ...], ledgers: dict[str, Ledger], time_ms: int,
    skipped_quotes: tuple[str, ...] = (),
) -> Outcome:  # fmt: skip
    """The outcome of a command that ran (never a remembered reply: it changed nothing), with its events;
    a refusal changed nothing either."""
    if isinstance(reply, Rejection) or (reply is None and not closed):
        return Outcome(reply, closed, skipped_quotes)
    return Outcome(reply, closed, skipped_quotes, events_of(reply, closed, ledgers.__getitem__, time_ms))


def events_of(
    reply: Reply | None, closed: tuple[ClosedTrade, ...], ledger_of: Callable[[str], Ledger], time_ms: int
) -> tuple[AccountEvent, ...]:
    """The events of one executed command (never of a remembered reply: it changed nothing). `reply` is
    the command's reply (None for a price update), `closed` every trade it closed in close order;
    `ledger_of` gives an account's ledger as the command left it."""
    numbering = EventNumbering(ledger_of, time_ms)
    if isinstance(reply, AccountCreated) and not reply.already_existed:
        account = reply.account
        change = BalanceChange(BalanceCause.DEPOSIT, account.balance_cents, account.balance_cents, 0, 0, "", "")
        numbering.add(account.user_id, EventKind.BALANCE, change)
    elif isinstance(reply, PositionOpened):
        position = reply.position
        used = used_margin_cents(ledger_of(position.user_id))
        numbering.add(position.user_id, EventKind.POSITION_OPENED, position)
        change = BalanceChange(
            BalanceCause.MARGIN_LOCKED, -position.margin_cents, reply.balance_cents, 0, used, position.id, ""
        )
        numbering.add(position.user_id, EventKind.BALANCE, change)
    elif isinstance(reply, PositionAmended):
        update = PositionUpdate(UpdateKind.LEVELS, reply.position, None)
        numbering.add(reply.position.user_id, EventKind.POSITION_UPDATED, update)
    elif isinstance(reply, PositionClosed) and reply.remaining is not None:
        trade, remaining = reply.trade, reply.remaining
        used = used_margin_cents(ledger_of(trade.user_id))
        numbering.add(
            trade.user_id, EventKind.POSITION_UPDATED, PositionUpdate(UpdateKind.PARTIAL_CLOSE, remaining, trade)
        )
        change = BalanceChange(
            BalanceCause.PARTIAL_CLOSE, trade.credited_cents, reply.balance_cents, 0, used, remaining.id, ""
        )
        numbering.add(trade.user_id, EventKind.BALANCE, change)
    else:
        _whole_closes(numbering, closed, ledger_of)
    return numbering.events


def _whole_closes(
    numbering: EventNumbering, closed: tuple[ClosedTrade, ...], ledger_of: Callable[[str], Ledger]
) -> None:
    """POSITION_CLOSED and BALANCE per closed trade. Several trades of one account in one tick: the figures
    after each are the final ones less what the later closes of that account credited and released."""
    later_credit: dict[str, int] = {}
    later_margin: dict[str, int] = {}
    after: list[tuple[int, int]] = []
    for trade in reversed(closed):
        ledger = ledger_of(trade.user_id)
        credit, margin = later_credit.get(trade.user_id, 0), later_margin.get(trade.user_id, 0)
        after.append((ledger.balance_cents - credit, used_margin_cents(ledger) + margin))
        later_credit[trade.user_id] = credit + trade.credited_cents
        later_margin[trade.user_id] = margin + trade.margin_cents
    for trade, (balance, used) in zip(closed, reversed(after), strict=True):
        numbering.add(trade.user_id, EventKind.POSITION_CLOSED, trade)
        change = BalanceChange(BalanceCause.POSITION_CLOSED, trade.credited_cents, balance, 0, used, trade.id, "")
        numbering.add(trade.user_id, EventKind.BALANCE, change)
