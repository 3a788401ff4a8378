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


def executed(
    reply: Reply | None, closed: tuple[ClosedTrade, ...], ledgers: dict[str, Ledger], time_ms: int,
    skipped_quotes: tuple[str, ...] = (),
) -> Outcome:  # fmt: skip
    """The outcome of a command that ran (never a remembered reply: it changed nothing), with its events;
    a refusal changed nothing either."""
    if isinstance(reply, Rejection) or (reply is None and not closed):
        return Outcome(reply, closed, skipped_quotes)
    return Outcome(reply, closed, skipped_quotes, events_of(reply, closed, ledgers, time_ms))


def events_of(
    reply: Reply | None, closed: tuple[ClosedTrade, ...], ledgers: dict[str, Ledger], time_ms: int
) -> tuple[AccountEvent, ...]:
    """The events of one executed command, numbered from each account's counter (which they advance).
    `reply` is the command's reply (None for a price update), `closed` every trade it closed in close
    order; `ledgers` hold the accounts as the command left them."""
    if isinstance(reply, PositionOpened):
        position = reply.position
        ledger = ledgers[position.user_id]
        seq = ledger.event_seq = ledger.event_seq + 2
        change = BalanceChange(BalanceCause.MARGIN_LOCKED, -position.margin_cents, reply.balance_cents, 0,
                               ledger.used_margin_cents, position.id, "")  # fmt: skip
        return (
            AccountEvent(position.user_id, seq - 1, time_ms, EventKind.POSITION_OPENED, position),
            AccountEvent(position.user_id, seq, time_ms, EventKind.BALANCE, change),
        )
    if isinstance(reply, AccountCreated):
        if reply.already_existed:
            return ()
        account = reply.account
        ledger = ledgers[account.user_id]
        ledger.event_seq += 1
        change = BalanceChange(BalanceCause.DEPOSIT, account.balance_cents, account.balance_cents, 0, 0, "", "")
        return (AccountEvent(account.user_id, ledger.event_seq, time_ms, EventKind.BALANCE, change),)
    if isinstance(reply, PositionAmended):
        ledger = ledgers[reply.position.user_id]
        ledger.event_seq += 1
        update = PositionUpdate(UpdateKind.LEVELS, reply.position, None)
        return (AccountEvent(reply.position.user_id, ledger.event_seq, time_ms, EventKind.POSITION_UPDATED, update),)
    if isinstance(reply, PositionClosed) and reply.remaining is not None:
        trade, remaining = reply.trade, reply.remaining
        ledger = ledgers[trade.user_id]
        seq = ledger.event_seq = ledger.event_seq + 2
        update = PositionUpdate(UpdateKind.PARTIAL_CLOSE, remaining, trade)
        change = BalanceChange(BalanceCause.PARTIAL_CLOSE, trade.credited_cents, reply.balance_cents, 0,
                               ledger.used_margin_cents, remaining.id, "")  # fmt: skip
        return (
            AccountEvent(trade.user_id, seq - 1, time_ms, EventKind.POSITION_UPDATED, update),
            AccountEvent(trade.user_id, seq, time_ms, EventKind.BALANCE, change),
        )
    return _whole_closes(closed, ledgers, time_ms)


def _whole_closes(
    closed: tuple[ClosedTrade, ...], ledgers: dict[str, Ledger], time_ms: int
) -> tuple[AccountEvent, ...]:
    """POSITION_CLOSED and BALANCE per closed trade. Several trades of one account in one tick: the figures
    after each are the final ones less what the later closes of that account credited and released."""
    if len(closed) == 1:  # a manual close, or a tick that closed one position: the final figures
        trade = closed[0]
        ledger = ledgers[trade.user_id]
        seq = ledger.event_seq = ledger.event_seq + 2
        change = BalanceChange(BalanceCause.POSITION_CLOSED, trade.credited_cents, ledger.balance_cents, 0,
                               ledger.used_margin_cents, trade.id, "")  # fmt: skip
        return (
            AccountEvent(trade.user_id, seq - 1, time_ms, EventKind.POSITION_CLOSED, trade),
            AccountEvent(trade.user_id, seq, time_ms, EventKind.BALANCE, change),
        )
    later: dict[str, tuple[int, int]] = {}  # user id -> (credited, margin released) by the later closes
    after: list[tuple[int, int]] = []
    for trade in reversed(closed):
        ledger = ledgers[trade.user_id]
        credit, margin = later.get(trade.user_id, (0, 0))
        after.append((ledger.balance_cents - credit, ledger.used_margin_cents + margin))
        later[trade.user_id] = (credit + trade.credited_cents, margin + trade.margin_cents)
    after.reverse()
    events: list[AccountEvent] = []
    for trade, (balance, used) in zip(closed, after, strict=True):
        ledger = ledgers[trade.user_id]
        seq = ledger.event_seq = ledger.event_seq + 2
        change = BalanceChange(BalanceCause.POSITION_CLOSED, trade.credited_cents, balance, 0, used, trade.id, "")
        events.append(AccountEvent(trade.user_id, seq - 1, time_ms, EventKind.POSITION_CLOSED, trade))
        events.append(AccountEvent(trade.user_id, seq, time_ms, EventKind.BALANCE, change))
    return tuple(events)
