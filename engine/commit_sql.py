"""The one statement of a group commit (engine.trades.TradeStore): the fence upsert (engine.fencing) and an
`INSERT ... SELECT * FROM unnest($n::type[], ...) ON CONFLICT (key) DO NOTHING` per table, as data-modifying
CTEs of one statement, sent to asyncpg with one array per column. One statement is one round trip and one
implicit transaction: PostgreSQL commits all of it or none of it.

Every insert reads the fence's RETURNING row (`WHERE EXISTS (SELECT 1 FROM fence)`), and the statement
returns whether there was one: when a newer epoch is recorded the upsert returns nothing, so the statement
writes nothing at all and the caller raises StaleEpoch. The upsert holds the fence row's lock until the
statement commits, so a newer leader's claim waits for a stale statement in flight, and once it committed
every later statement of the stale leader is refused."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import asyncpg
import sqlalchemy as sa

from engine.trade_rows import engine_fence

# the column types of the engine's tables, as PostgreSQL names them in the unnest casts
_TYPE_NAMES: dict[type, str] = {
    sa.Text: "text",
    sa.BigInteger: "bigint",
    sa.Integer: "integer",
    sa.LargeBinary: "bytea",
}
_FENCE = """fence AS (
    INSERT INTO engine_fence (stream_key, epoch) VALUES ($1::text, $2::bigint)
    ON CONFLICT (stream_key) DO UPDATE SET epoch = excluded.epoch WHERE engine_fence.epoch <= excluded.epoch
    RETURNING 1
)"""
_FENCE_ARGUMENTS = (f"{engine_fence.name}.stream_key", f"{engine_fence.name}.epoch")
_ARGUMENT = re.compile(r"^invalid input for query argument \$(\d+):")


class CommitStatement(NamedTuple):
    sql: str
    # what each $n carries ("table.column"), to name the column of a value asyncpg could not encode
    arguments: tuple[str, ...]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@functools.cache
def statement(tables: tuple[tuple[sa.Table, tuple[str, ...]], ...], fenced: bool) -> CommitStatement:
    """The statement that writes rows of `tables` (each with its key columns) in one go, fenced or not
    (epoch 0: unfenced). Cached: a few shapes exist (which kinds a group holds), and asyncpg prepares each
    text once per connection."""
    parts = [_FENCE] if fenced else []
    arguments = list(_FENCE_ARGUMENTS) if fenced else []
    for number, (table, key_columns) in enumerate(tables):
        columns = list(table.columns)
        arrays = []
        for column in columns:
            arguments.append(f"{table.name}.{column.name}")
            arrays.append(f"${len(arguments)}::{_TYPE_NAMES[type(column.type)]}[]")
        gate = " WHERE EXISTS (SELECT 1 FROM fence)" if fenced else ""
        names = ", ".join(_quoted(column.name) for column in columns)
        parts.append(
            f"rows_{number} AS (\n    INSERT INTO {_quoted(table.name)} ({names})\n"
            f"    SELECT * FROM unnest({', '.join(arrays)}){gate}\n"
            f"    ON CONFLICT ({', '.join(_quoted(name) for name in key_columns)}) DO NOTHING\n)"
        )
    result = "SELECT EXISTS (SELECT 1 FROM fence)" if fenced else "SELECT true"
    sql = "WITH " + ",\n".join(parts) + "\n" + result if parts else result
    return CommitStatement(sql, tuple(arguments))


def arguments(tables: Sequence[tuple[sa.Table, Sequence[dict[str, Any]]]]) -> list[list[Any]]:
    """One list per column of each table, in the statement's order (every row holds every column: the
    row kinds' checks quarantine a row that does not before it gets here)."""
    return [[row[column.name] for row in rows] for table, rows in tables for column in table.columns]


def without_values(exc: asyncpg.PostgresError, commit: CommitStatement) -> asyncpg.PostgresError:
    """`exc`, or, when asyncpg could not encode an argument (its text quotes the start of the array: row
    values), a DataError naming the column and why instead. Logs and the quarantine never hold a row's
    values from an error, as SQLAlchemy's hide_parameters guaranteed before."""
    match = _ARGUMENT.match(str(exc))
    if match is None or not isinstance(exc, asyncpg.DataError):
        return exc
    number = int(match.group(1))
    column = commit.arguments[number - 1] if 0 < number <= len(commit.arguments) else f"argument ${number}"
    return asyncpg.DataError(f"invalid input for {column}: {exc.__cause__ or 'not encodable'}")
