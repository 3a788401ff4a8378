"""Account events in PostgreSQL: the `account_events` table (one row per event, keyed by account and
sequence number, the protobuf AccountEvent as bytes), the row kind the TradeWriter commits them as (in the
same group commit as closed trades), their translation from the domain, and the two reads: the events
after a sequence number (a client resuming) and the statement (BALANCE events, newest first)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import sqlalchemy as sa
from exness.engine.v1 import events_pb2
from sqlalchemy.ext.asyncio import AsyncEngine

from engine import orders_wire, translate
from engine.domain.events import AccountEvent, BalanceCause, BalanceChange, EventKind, PositionUpdate, UpdateKind
from engine.domain.model import ClosedTrade, FinishedOrder, PendingOrder, Position
from engine.row_kinds import RowKind
from engine.trade_rows import metadata

account_events = sa.Table(
    "account_events",
    metadata,
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("event", sa.LargeBinary, nullable=False),
)
_BIGINT = (-(2**63), 2**63 - 1)
KIND_TO_PROTO = {kind: events_pb2.AccountEventKind.Value(f"ACCOUNT_EVENT_KIND_{kind.value}") for kind in EventKind}
KIND_FROM_PROTO = {proto: kind for kind, proto in KIND_TO_PROTO.items()}
CAUSE_TO_PROTO = {cause: events_pb2.BalanceCause.Value(f"BALANCE_CAUSE_{cause.value}") for cause in BalanceCause}
CHANGE_TO_PROTO = {change: events_pb2.PositionChange.Value(f"POSITION_CHANGE_{change.value}") for change in UpdateKind}


class InvalidStatementToken(ValueError):
    pass


def event_to_proto(event: AccountEvent) -> events_pb2.AccountEvent:
    # fields set one by one on the message's own submessage: about half the cost of building a
    # submessage and copying it in (this runs for every event, on the engine's loop)
    message = events_pb2.AccountEvent(
        user_id=event.user_id, seq=event.seq, time_ms=event.time_ms, kind=KIND_TO_PROTO[event.kind]
    )
    body = event.body
    if isinstance(body, BalanceChange):
        balance = message.balance
        balance.cause = CAUSE_TO_PROTO[body.cause]
        balance.amount_cents = body.amount_cents
        balance.balance_cents = body.balance_cents
        balance.reserved_cents = body.reserved_cents
        balance.used_margin_cents = body.used_margin_cents
        balance.position_id = body.position_id
        balance.order_id = body.order_id
    elif isinstance(body, PositionUpdate):
        update = message.position_updated
        update.change = CHANGE_TO_PROTO[body.change]
        update.position.CopyFrom(translate.position_to_proto(body.position))
        if body.closed_part is not None:
            update.closed_part.CopyFrom(translate.closed_trade_to_proto(body.closed_part))
    elif isinstance(body, ClosedTrade):
        message.position_closed.CopyFrom(translate.closed_trade_to_proto(body))
    elif isinstance(body, Position):
        message.position_opened.CopyFrom(translate.position_to_proto(body))
    elif isinstance(body, PendingOrder):
        message.order_accepted.CopyFrom(orders_wire.order_to_proto(body))
    elif isinstance(body, FinishedOrder):
        message.order_ended.CopyFrom(orders_wire.order_record_to_proto(body))
    return message


def event_row(event: AccountEvent) -> dict[str, Any]:
    return {"user_id": event.user_id, "seq": event.seq, "time_ms": event.time_ms, "kind": event.kind.value,
            "event": event_to_proto(event).SerializeToString()}  # fmt: skip


def event_row_problem(row: dict[str, Any]) -> str | None:
    """Why PostgreSQL would refuse `row` for account_events (None if it fits)."""
    for name in ("seq", "time_ms"):
        value = row.get(name)
        if type(value) is not int or not _BIGINT[0] <= value <= _BIGINT[1]:
            return f"{name}={value!r} does not fit BIGINT"
    for name in ("user_id", "kind"):
        value = row.get(name)
        if type(value) is not str or "\x00" in value:
            return f"{name}={value!r} is not a text PostgreSQL stores"
    if type(row.get("event")) is not bytes:
        return "event is not bytes"
    return None


def _row_to_json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "event": base64.b64encode(row["event"]).decode()}


def _row_from_json(value: Any) -> dict[str, Any]:
    try:
        row = dict(value)
        row["event"] = base64.b64decode(row["event"], validate=True)
    except (TypeError, ValueError, KeyError, binascii.Error) as exc:
        raise ValueError(f"malformed pending account event {value!r}: {exc!r}") from exc
    return row


EVENTS = RowKind("account_event", account_events, ("user_id", "seq"), event_row_problem, "pending_event_rows",
                 "pending_events", _row_to_json, _row_from_json)  # fmt: skip


def event_from_row(row: Any) -> events_pb2.AccountEvent:
    return events_pb2.AccountEvent.FromString(row["event"])


async def events_after(engine: AsyncEngine, user_id: str, after_seq: int, limit: int) -> list[events_pb2.AccountEvent]:
    """Up to `limit` committed events of `user_id` with seq > after_seq, oldest first."""
    query = (
        sa.select(account_events.c.event)
        .where(account_events.c.user_id == user_id, account_events.c.seq > after_seq)
        .order_by(account_events.c.seq)
        .limit(limit)
    )
    async with engine.connect() as connection:
        result = await connection.execute(query)
        return [event_from_row(row) for row in result.mappings()]


async def last_committed_seq(engine: AsyncEngine, user_id: str) -> int:
    query = sa.select(sa.func.max(account_events.c.seq)).where(account_events.c.user_id == user_id)
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar() or 0)


async def statement_page(
    engine: AsyncEngine, user_id: str, limit: int, before_seq: int | None
) -> list[events_pb2.AccountEvent]:
    """Up to `limit` BALANCE events of `user_id`, newest first, with seq < before_seq (None: from the newest)."""
    query = sa.select(account_events.c.event).where(
        account_events.c.user_id == user_id, account_events.c.kind == EventKind.BALANCE.value
    )
    if before_seq is not None:
        query = query.where(account_events.c.seq < before_seq)
    query = query.order_by(account_events.c.seq.desc()).limit(limit)
    async with engine.connect() as connection:
        result = await connection.execute(query)
        return [event_from_row(row) for row in result.mappings()]


def encode_statement_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode()


def decode_statement_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if not text.startswith("s") or not text[1:].isdigit():
            raise ValueError(text)
        seq = int(text[1:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidStatementToken(f"page_token {token[:40]!r} is not a token this service issued") from None
    if not 0 < seq < 2**63 or encode_statement_token(seq) != token:
        raise InvalidStatementToken(f"page_token {token[:40]!r} is not a token this service issued")
    return seq
