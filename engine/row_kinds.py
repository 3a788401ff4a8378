"""The kinds of rows the engine's group commit writes (engine.trades.TradeWriter): each a table, a key, a
check of what PostgreSQL would refuse and a JSON form for snapshots."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

import sqlalchemy as sa

# (kind name, the row's key values)
RowKey = tuple[str, tuple[Hashable, ...]]


class RowKind(NamedTuple):
    """One kind of row the writer commits: its table, its key (unique in the table: a replayed row is
    skipped by ON CONFLICT DO NOTHING), the check of what PostgreSQL would refuse, the gauge of its
    pending rows (an EngineMetrics attribute) and its JSON form in a snapshot body."""

    name: str
    table: sa.Table
    key_columns: tuple[str, ...]
    problem: Callable[[dict[str, Any]], str | None]
    pending_gauge: str
    snapshot_key: str
    to_json: Callable[[dict[str, Any]], Any]
    from_json: Callable[[Any], dict[str, Any]]

    def key(self, row: dict[str, Any]) -> RowKey:
        return (self.name, tuple(row[column] for column in self.key_columns))

    def quarantine_id(self, row: dict[str, Any]) -> str:
        # a closed trade keeps its id (the table's first use); another kind names itself and its key
        if self.key_columns == ("id",):
            return str(row["id"])
        return f"{self.name}/" + "/".join(str(row[column]) for column in self.key_columns)
