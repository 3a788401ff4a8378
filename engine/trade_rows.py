"""The engine's PostgreSQL tables and their rows: closed trades, the quarantine, the fence (engine.fencing),
what a row must hold to fit its columns, the row kinds of the group commit (engine.row_kinds) for
closed trades and ended orders, their keys, and the page tokens of the newest-first reads. engine.trades
commits and reads them."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import asyncpg
import sqlalchemy as sa

from engine import order_history
from engine.orders_wire import is_order_row
from engine.row_kinds import RowKey, RowKind

metadata = sa.MetaData()
closed_trades = sa.Table(
    "closed_trades",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("side", sa.Text, nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("leverage", sa.BigInteger, nullable=False),
    sa.Column("entry_price", sa.BigInteger, nullable=False),
    sa.Column("close_price", sa.BigInteger, nullable=False),
    sa.Column("margin_cents", sa.BigInteger, nullable=False),
    sa.Column("pnl_cents", sa.BigInteger, nullable=False),
    sa.Column("credited_cents", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("decimal", sa.Integer, nullable=False),
    sa.Column("opened_at_ms", sa.BigInteger, nullable=False),
    sa.Column("closed_at_ms", sa.BigInteger, nullable=False),
    sa.Column("stop_loss", sa.BigInteger, nullable=False),
    sa.Column("take_profit", sa.BigInteger, nullable=False),
    sa.Column("liquidation_price", sa.BigInteger, nullable=False),
)
quarantine = sa.Table(
    "closed_trades_quarantine",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("row_json", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("quarantined_at_ms", sa.BigInteger, nullable=False),
)
# the newest epoch that committed rows, per stream (one engine shard each)
engine_fence = sa.Table(
    "engine_fence",
    metadata,
    sa.Column("stream_key", sa.Text, primary_key=True),
    sa.Column("epoch", sa.BigInteger, nullable=False),
)
_INTEGER_RANGES: dict[type, tuple[int, int]] = {sa.BigInteger: (-(2**63), 2**63 - 1), sa.Integer: (-(2**31), 2**31 - 1)}
# (column, integer bounds or None for text), computed once: row_problem runs for every closed trade
_COLUMN_CHECKS = [
    (column.name, _INTEGER_RANGES.get(type(column.type)), str(column.type)) for column in closed_trades.columns
]
_ORDER_COLUMN_CHECKS = [
    (column.name, _INTEGER_RANGES.get(type(column.type)), str(column.type))
    for column in order_history.order_history.columns
]


def row_problem(row: dict[str, Any]) -> str | None:
    """Why PostgreSQL would refuse `row` for closed_trades, or for order_history when it is an order row
    (None if it fits every column's type)."""
    for name, bounds, type_name in _ORDER_COLUMN_CHECKS if is_order_row(row) else _COLUMN_CHECKS:
        value = row.get(name)
        if bounds is not None:
            if type(value) is not int or not bounds[0] <= value <= bounds[1]:
                return f"{name}={value!r} does not fit {type_name}"
        elif type(value) is not str or "\x00" in value:
            return f"{name}={value!r} is not a text PostgreSQL stores"
    return None


def refused_by_database(exc: BaseException) -> bool:
    """True when the database refused the data of a statement (a data or constraint error), as opposed
    to being unreachable or misconfigured (then every row would fail alike, and retrying is right)."""
    seen: BaseException | None = exc
    for _ in range(5):  # SQLAlchemy's error -> its adapter's error -> asyncpg's
        if isinstance(seen, asyncpg.exceptions._base.DataError | asyncpg.exceptions.DataError
                      | asyncpg.exceptions.IntegrityConstraintViolationError):  # fmt: skip
            return True
        if seen is None:
            return False
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


TRADES = RowKind("closed_trade", closed_trades, ("id",), row_problem, "pending_trade_rows", "pending_trades",
                 dict, dict)  # fmt: skip


# ended pending orders share the closed trades' gauge and snapshot list (an order row is told apart by
# engine.orders_wire.is_order_row, as the snapshots of format 5 hold them)
ORDERS = RowKind("order_history", order_history.order_history, ("id",), row_problem, "pending_trade_rows",
                 "pending_trades", dict, dict)  # fmt: skip


def trade_key(trade_id: str) -> RowKey:
    return (TRADES.name, (trade_id,))


def order_key(order_id: str) -> RowKey:
    return (ORDERS.name, (order_id,))


def kind_of_trade_row(row: dict[str, Any]) -> RowKind:
    """TRADES or ORDERS: the two kinds a snapshot's `pending_trades` list holds."""
    return ORDERS if is_order_row(row) else TRADES


class InvalidPageToken(ValueError):
    pass


def encode_page_token(closed_at_ms: int, trade_id: str) -> str:
    return base64.urlsafe_b64encode(f"{closed_at_ms}:{trade_id}".encode()).decode()


def decode_page_token(token: str) -> tuple[int, str]:
    try:
        closed_at_text, _, trade_id = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        closed_at_ms = int(closed_at_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidPageToken(f"page_token {token[:40]!r} is not a token this service issued") from None
    # a forged token must be INVALID_ARGUMENT here, not a database error (int64 overflow, NUL bytes)
    # that would surface as UNAVAILABLE
    if not trade_id or not 0 <= closed_at_ms < 2**63 or len(trade_id) > 128 or not trade_id.isprintable():
        raise InvalidPageToken(f"page_token {token[:40]!r} is not a token this service issued")
    return closed_at_ms, trade_id
