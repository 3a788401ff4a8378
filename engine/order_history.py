"""The order history in PostgreSQL: one row per pending order that ended (FILLED with its position,
CANCELLED, EXPIRED, REJECTED with the reason), keyed by the order id, so a replayed end inserts nothing
new. Rows travel with the closed trades: engine.trades.TradeWriter holds both kinds in one pending set
and commits them in one transaction (the table is created by migration 0003)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.orders_wire import ORDER_HISTORY_COLUMNS

_TEXT = {"id", "user_id", "asset", "side", "type", "status", "position_id", "reject_reason", "message"}

order_history = sa.Table(
    "order_history",
    sa.MetaData(),
    *(
        sa.Column(name, sa.Text if name in _TEXT else sa.BigInteger, primary_key=name == "id", nullable=False)
        for name in ORDER_HISTORY_COLUMNS
    ),
)


async def page(
    connection: AsyncConnection, user_id: str, limit: int, after: tuple[int, str] | None
) -> list[dict[str, Any]]:
    """Up to `limit` ended orders of `user_id`, newest first, strictly after the `after` keyset position."""
    table = order_history
    query = sa.select(table).where(table.c.user_id == user_id)
    if after is not None:
        query = query.where(sa.tuple_(table.c.finished_at_ms, table.c.id) < sa.tuple_(*after))
    query = query.order_by(table.c.finished_at_ms.desc(), table.c.id.desc()).limit(limit)
    result = await connection.execute(query)
    return [dict(row) for row in result.mappings()]


async def one(connection: AsyncConnection, user_id: str, order_id: str) -> list[dict[str, Any]]:
    table = order_history
    result = await connection.execute(sa.select(table).where(table.c.id == order_id, table.c.user_id == user_id))
    return [dict(row) for row in result.mappings()]
