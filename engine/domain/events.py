"""Account events: what one applied entry changed in each account, numbered per account.

Every change to an account is an event with the account's next sequence number (1, 2, 3, ... without a
gap). They are derived here, in one place, from the outcome the state machine produced (its reply, the
trades it closed, the pending orders it ended) and the accounts' figures after the entry: nothing else in
the domain builds them. Being a function of the state and the entry, replay yields the same events with
the same numbers.

The events of one entry, in order: the pending orders that expired at its time; then the command's own
changes (an account created: `BALANCE` DEPOSIT; a position opened: `POSITION_OPENED`, `BALANCE`
MARGIN_LOCKED; new levels: `POSITION_UPDATED`; a partial close: `POSITION_UPDATED`, `BALANCE`
PARTIAL_CLOSE; an order placed: `ORDER_ACCEPTED`, `BALANCE` ORDER_RESERVED); then every whole close
(`POSITION_CLOSED`, `BALANCE` POSITION_CLOSED); then every other order that ended (cancelled, or met by a
price: `ORDER_FILLED` with its `BALANCE` ORDER_RELEASED, `POSITION_OPENED` and `BALANCE` MARGIN_LOCKED, or
`ORDER_REJECTED` with its release). Each `BALANCE` is a statement line: its amount is the signed change of
the free balance, so an account's amounts sum to its balance (the DEPOSIT first), and its figures are the
account's after that line, counted back from the figures after the entry."""

from __future__ import annotations

import enum
from dataclasses import replace
from typing import NamedTuple

from engine.domain import money
from engine.domain.commands import (
    AccountCreated,
    OrderPlaced,
    Outcome,
    PositionAmended,
    PositionClosed,
    PositionOpened,
    Rejection,
    Reply,
)
from engine.domain.ledger import Ledger
from engine.domain.model import ClosedTrade, FinishedOrder, OrderStatus, PendingOrder, Position


class EventKind(enum.Enum):
    POSITION_OPENED = "POSITION_OPENED"
    POSITION_CLOSED = "POSITION_CLOSED"
    POSITION_UPDATED = "POSITION_UPDATED"
    BALANCE = "BALANCE"
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
    # a pending order's reserve taken from the free balance, and given back (cancelled, expired, met)
    ORDER_RESERVED = "ORDER_RESERVED"
    ORDER_RELEASED = "ORDER_RELEASED"


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


EventBody = Position | ClosedTrade | PositionUpdate | BalanceChange | PendingOrder | FinishedOrder
_ENDED = {
    OrderStatus.FILLED: EventKind.ORDER_FILLED, OrderStatus.CANCELLED: EventKind.ORDER_CANCELLED,
    OrderStatus.EXPIRED: EventKind.ORDER_EXPIRED, OrderStatus.REJECTED: EventKind.ORDER_REJECTED,
}  # fmt: skip


class AccountEvent(NamedTuple):
    user_id: str
    # per account: 1, 2, 3, ... without a gap
    seq: int
    # stream time of the entry that caused it
    time_ms: int
    kind: EventKind
    body: EventBody


class _Step(NamedTuple):
    """One event before numbering; for a BALANCE, its body's figures are filled in by `_numbered`."""

    user_id: str
    kind: EventKind
    body: EventBody
    # changes of (free balance, reserved, used margin) this step made
    deltas: tuple[int, int, int] = (0, 0, 0)


def _balance(user_id: str, cause: BalanceCause, deltas: tuple[int, int, int], position_id: str = "",
             order_id: str = "") -> _Step:  # fmt: skip
    return _Step(user_id, EventKind.BALANCE, BalanceChange(cause, deltas[0], 0, 0, 0, position_id, order_id), deltas)


def with_events(outcome: Outcome, ledgers: dict[str, Ledger], time_ms: int) -> Outcome:
    """`outcome` with the events of its entry (none for a remembered reply beyond the expiries)."""
    reply = None if outcome.remembered or isinstance(outcome.reply, Rejection) else outcome.reply
    if reply is None and not outcome.closed_trades and not outcome.finished_orders:
        return outcome
    steps = _steps(reply, outcome.closed_trades, outcome.finished_orders, ledgers)
    return replace(outcome, events=_numbered(steps, ledgers, time_ms)) if steps else outcome


def _steps(reply: Reply | None, closed: tuple[ClosedTrade, ...], finished: tuple[FinishedOrder, ...],
           ledgers: dict[str, Ledger]) -> list[_Step]:  # fmt: skip
    steps: list[_Step] = []
    expired = [f for f in finished if f.status is OrderStatus.EXPIRED]
    for ended in expired:
        steps += _order_ended(ended, ledgers)
    steps += _reply_steps(reply)
    for trade in closed:
        if isinstance(reply, PositionClosed) and reply.remaining is not None and trade.id == reply.trade.id:
            continue  # a partial close: reported by its reply
        steps.append(_Step(trade.user_id, EventKind.POSITION_CLOSED, trade))
        deltas = (trade.credited_cents, 0, -trade.margin_cents)
        steps.append(_balance(trade.user_id, BalanceCause.POSITION_CLOSED, deltas, trade.id))
    for ended in finished[len(expired) :]:
        steps += _order_ended(ended, ledgers)
    return steps


def _reply_steps(reply: Reply | None) -> list[_Step]:
    if isinstance(reply, AccountCreated):
        if reply.already_existed:
            return []
        balance = reply.account.balance_cents
        return [_balance(reply.account.user_id, BalanceCause.DEPOSIT, (balance, 0, 0))]
    if isinstance(reply, PositionOpened):
        position = reply.position
        return [_Step(position.user_id, EventKind.POSITION_OPENED, position),
                _balance(position.user_id, BalanceCause.MARGIN_LOCKED, (-position.margin_cents, 0,
                         position.margin_cents), position.id)]  # fmt: skip
    if isinstance(reply, PositionAmended):
        return [_Step(reply.position.user_id, EventKind.POSITION_UPDATED,
                      PositionUpdate(UpdateKind.LEVELS, reply.position, None))]  # fmt: skip
    if isinstance(reply, PositionClosed) and reply.remaining is not None:
        trade, rest = reply.trade, reply.remaining
        update = PositionUpdate(UpdateKind.PARTIAL_CLOSE, rest, trade)
        deltas = (trade.credited_cents, 0, -trade.margin_cents)
        return [_Step(trade.user_id, EventKind.POSITION_UPDATED, update),
                _balance(trade.user_id, BalanceCause.PARTIAL_CLOSE, deltas, rest.id)]  # fmt: skip
    if isinstance(reply, OrderPlaced):
        order = reply.order
        deltas = (-order.reserved_cents, order.reserved_cents, 0)
        return [_Step(order.user_id, EventKind.ORDER_ACCEPTED, order),
                _balance(order.user_id, BalanceCause.ORDER_RESERVED, deltas, order_id=order.id)]  # fmt: skip
    return []


def _order_ended(ended: FinishedOrder, ledgers: dict[str, Ledger]) -> list[_Step]:
    """The order's end, its reserve's release, and for a fill the position it opened with its margin."""
    order, user = ended.order, ended.order.user_id
    deltas = (order.reserved_cents, -order.reserved_cents, 0)
    steps = [_Step(user, _ENDED[ended.status], ended),
             _balance(user, BalanceCause.ORDER_RELEASED, deltas, ended.position_id, order.id)]  # fmt: skip
    if ended.status is OrderStatus.FILLED:
        position = ledgers[user].positions.get(ended.position_id) or _filled_position(ended)
        margin = position.margin_cents
        steps.append(_Step(user, EventKind.POSITION_OPENED, position))
        steps.append(_balance(user, BalanceCause.MARGIN_LOCKED, (-margin, 0, margin), position.id, order.id))
    return steps


def _filled_position(ended: FinishedOrder) -> Position:
    """The position a fill opened, when it is no longer open at the end of its entry (closed in the same
    tick): its margin as the fill locked it; maintenance and levels beyond the order's are not kept."""
    order = ended.order
    margin = money.margin_cents(ended.fill_price, order.quantity, order.leverage, order.decimal)
    return Position(
        ended.position_id, order.user_id, order.asset, order.side, order.quantity, order.leverage, ended.fill_price,
        margin, 0, 0, order.stop_loss, order.take_profit, order.decimal, ended.finished_at_ms, order.sequence,
    )  # fmt: skip


def _numbered(steps: list[_Step], ledgers: dict[str, Ledger], time_ms: int) -> tuple[AccountEvent, ...]:
    """Number the steps from each account's counter; a BALANCE gets the figures after it, counted back
    from the account's figures after the entry through the later steps' changes."""
    figures: dict[str, tuple[int, int, int]] = {}
    after: list[tuple[int, int, int]] = []
    for step in reversed(steps):
        now = figures.get(step.user_id)
        if now is None:
            ledger = ledgers[step.user_id]
            reserved = sum(order.reserved_cents for order in ledger.orders.values())
            now = (ledger.balance_cents, reserved, ledger.used_margin_cents)
        after.append(now)
        figures[step.user_id] = (now[0] - step.deltas[0], now[1] - step.deltas[1], now[2] - step.deltas[2])
    after.reverse()
    events: list[AccountEvent] = []
    for step, (balance, reserved, used) in zip(steps, after, strict=True):
        ledger = ledgers[step.user_id]
        ledger.event_seq += 1
        body = step.body
        if isinstance(body, BalanceChange):
            body = body._replace(balance_cents=balance, reserved_cents=reserved, used_margin_cents=used)
        events.append(AccountEvent(step.user_id, ledger.event_seq, time_ms, step.kind, body))
    return tuple(events)
