"""Closed trades (and the order history, engine.order_history) in PostgreSQL, and the group commit every
engine row goes through.

`TradeStore` owns the engine's tables (Alembic-managed, version table `alembic_version_engine`): idempotent
group inserts keyed by each row's deterministic key, written with asyncpg on a connection of their own as
one statement per group commit (engine.commit_sql), and the newest-first pages ListClosedTrades serves
(SQLAlchemy async, pooled).

`TradeWriter` sits between the consumer loop and the store: the rows the state produced (closed trades,
account events: a `RowKind` each) wait in `pending` (they are part of every snapshot) until a group
commit succeeds, and replies reporting them wait with them. One group commit is one statement, so one
transaction, over rows of every kind. While PostgreSQL is down trading goes on, rows accumulate, and the writer retries
with backoff; nothing is lost because a row leaves `pending` only after its transaction committed.

A row PostgreSQL refuses (a value outside its column's range, a NUL byte in a text) would fail every
retry of its group and hold every later close reply. Such a row is quarantined instead: set aside whole,
as JSON text, in `closed_trades_quarantine`, logged CRITICAL and counted, while the others commit and all
the replies go out. Rows are checked against the column types before the insert; a refusal the check did
not foresee is found by halving the group until the refused rows stand alone.

Fencing (engine.fencing): every statement of the group commit, whatever rows it carries, holds a
conditional upsert of the session's epoch into `engine_fence` that keeps the row locked until commit, and
inserts nothing unless that upsert went through. A statement of a leader whose epoch is below the newest
one recorded writes nothing and raises StaleEpoch, so a paused or cut-off leader never commits a row
after a newer leader's first."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from exness.engine.v1 import commands_pb2
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from engine import commit_sql, order_history
from engine.fencing import StaleEpoch
from engine.metrics import EngineMetrics
from engine.replies import ReplyHub
from engine.row_kinds import RowKey, RowKind
from engine.trade_rows import (
    TRADES,
    closed_trades,
    quarantine,
    refused_by_database,
)
from mesh.postgres import asyncpg_url, driver_url, upgrade_to_head

log = logging.getLogger(__name__)

VERSION_TABLE = "alembic_version_engine"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# one transaction per batch of rows; after an outage the backlog is committed in slices of this size
MAX_ROWS_PER_COMMIT = 5_000
RETRY_MIN_SECONDS = 0.1
RETRY_MAX_SECONDS = 5.0


def upgrade_schema(database_url: str) -> None:
    """`alembic upgrade head` for the engine's tables. Blocking (it runs its own event loop): call it
    from a worker thread."""
    upgrade_to_head(MIGRATIONS_DIR, database_url)


class TradeStore:
    def __init__(self, database_url: str, stream_key: str = "stream:engine") -> None:
        self.database_url = database_url
        # the fence row of this engine's stream (engine_fence)
        self.stream_key = stream_key
        # the reads (RPCs): pooled, each checkout pinged, so a read after an outage reconnects or fails fast
        self.engine: AsyncEngine = create_async_engine(
            asyncpg_url(database_url),
            pool_pre_ping=True,
            pool_size=4,
            hide_parameters=True,  # a database error's text never carries a row's values into a log
            # fail fast while PostgreSQL is down: the writer retries, reads answer UNAVAILABLE
            connect_args={"timeout": 5, "command_timeout": 30},
        )
        # the group commit: one asyncpg connection of its own, one statement per commit (engine.commit_sql),
        # no ping (the writer retries after any failure; a connection that failed is dropped and reopened)
        self._writer_url = driver_url(database_url)
        self._writer: asyncpg.Connection | None = None
        self._writer_lock = asyncio.Lock()

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                await writer.close(timeout=2)
            except Exception:  # PostgreSQL gone: nothing is in flight, drop the socket
                writer.terminate()
        await self.engine.dispose()

    async def claim_epoch(self, epoch: int) -> None:
        """Record a new session's epoch before it commits anything (StaleEpoch if a newer one is there)."""
        await self._write([], epoch)

    async def insert(self, rows: Sequence[tuple[RowKind, dict[str, Any]]], epoch: int = 0) -> None:
        """One statement (one transaction), fenced by `epoch`, over rows of any kinds; rows already present
        (a replay) are left as they are."""
        by_kind: dict[str, tuple[RowKind, list[dict[str, Any]]]] = {}
        for kind, row in rows:
            by_kind.setdefault(kind.name, (kind, []))[1].append(row)
        await self._write([(kind.table, kind.key_columns, kind_rows) for kind, kind_rows in by_kind.values()], epoch)

    async def quarantine(self, refused: list[tuple[RowKind, dict[str, Any], str]], epoch: int = 0) -> None:
        """Set rows aside with the reason they were refused (idempotent: a row already there stays)."""
        now_ms = int(time.time() * 1000)
        values = [{"id": kind.quarantine_id(row), "row_json": json.dumps(kind.to_json(row), sort_keys=True,
                   ensure_ascii=True), "error": error.replace("\x00", "\\x00"), "quarantined_at_ms": now_ms}
                  for kind, row, error in refused]  # fmt: skip
        await self._write([(quarantine, ("id",), values)], epoch)

    async def _write(self, groups: list[tuple[sa.Table, tuple[str, ...], list[dict[str, Any]]]], epoch: int) -> None:
        """Run the group commit's statement for `groups` (table, key columns, rows): StaleEpoch, with
        nothing written, when a newer epoch than `epoch` is recorded."""
        groups = [group for group in groups if group[2]]
        if not groups and epoch <= 0:
            return
        commit = commit_sql.statement(tuple((table, key) for table, key, _ in groups), fenced=epoch > 0)
        arguments = ([self.stream_key, epoch] if epoch > 0 else []) + commit_sql.arguments(
            [(table, rows) for table, _, rows in groups]
        )
        async with self._writer_lock:
            if self._writer is None or self._writer.is_closed():
                self._writer = await asyncpg.connect(self._writer_url, timeout=5, command_timeout=30)
            writer = self._writer
            try:
                fenced_in = await writer.fetchval(commit.sql, *arguments)
            except asyncpg.PostgresError as exc:  # refused by PostgreSQL or by asyncpg: the connection is fine
                refusal = commit_sql.without_values(exc, commit)
                if refusal is exc:
                    raise
                raise refusal from None
            except BaseException:  # lost, timed out or cancelled mid-statement: never reuse the connection
                self._writer = None
                writer.terminate()
                raise
        if not fenced_in:
            raise StaleEpoch("PostgreSQL commit", epoch)

    async def page(self, user_id: str, limit: int, after: tuple[int, str] | None) -> list[dict[str, Any]]:
        """Up to `limit` trades of `user_id`, newest first, strictly after the `after` keyset position."""
        query = sa.select(closed_trades).where(closed_trades.c.user_id == user_id)
        if after is not None:
            query = query.where(sa.tuple_(closed_trades.c.closed_at_ms, closed_trades.c.id) < sa.tuple_(*after))
        query = query.order_by(closed_trades.c.closed_at_ms.desc(), closed_trades.c.id.desc()).limit(limit)
        async with self.engine.connect() as connection:
            result = await connection.execute(query)
            return [dict(row) for row in result.mappings()]

    async def order_page(self, user_id: str, limit: int, after: tuple[int, str] | None) -> list[dict[str, Any]]:
        """Up to `limit` ended orders of `user_id`, newest first (engine.order_history.page)."""
        async with self.engine.connect() as connection:
            return await order_history.page(connection, user_id, limit, after)

    async def order_rows(self, user_id: str, order_id: str) -> list[dict[str, Any]]:
        """The ended order `order_id` of `user_id`, if committed (engine.order_history.one)."""
        async with self.engine.connect() as connection:
            return await order_history.one(connection, user_id, order_id)


class _Hold:
    """A reply waiting for the commit of every row in `waiting`."""

    __slots__ = ("gateway_id", "reply", "waiting")

    def __init__(self, gateway_id: str, reply: commands_pb2.Reply, waiting: int) -> None:
        self.gateway_id, self.reply, self.waiting = gateway_id, reply, waiting


class TradeWriter:
    def __init__(self, store: TradeStore, hub: ReplyHub, metrics: EngineMetrics) -> None:
        self.store = store
        self.hub = hub
        self.metrics = metrics
        # row key -> (kind, row), in the order the state produced them
        self.pending: dict[RowKey, tuple[RowKind, dict[str, Any]]] = {}
        self._counts: dict[str, int] = {}
        self._gauges: dict[str, str] = {}
        # row key -> why PostgreSQL would refuse its pending row (checked as each row arrives, one at a
        # time, so a flush never checks a whole backlog on the loop)
        self.refused: dict[RowKey, str] = {}
        # row key -> replies that report it, sent once every row they wait on is committed
        self.held: dict[RowKey, list[_Hold]] = {}
        # kind name -> called with the rows of that kind just committed (in commit order)
        self.on_commit: dict[str, Callable[[list[dict[str, Any]]], None]] = {}
        self.schema_ready = False
        # the leader session's fencing token (engine.fencing), claimed in PostgreSQL before its first commit
        self.epoch = 0
        self.epoch_claimed = False
        self._wakeup = asyncio.Event()

    def add(self, row: dict[str, Any], kind: RowKind = TRADES) -> RowKey:
        key = kind.key(row)
        if key not in self.pending:
            self._count(kind, 1)
        self.pending[key] = (kind, row)
        if (problem := kind.problem(row)) is not None:
            self.refused[key] = problem
        return key

    def _count(self, kind: RowKind, change: int) -> None:
        self._counts[kind.name] = self._counts.get(kind.name, 0) + change
        self._gauges[kind.name] = kind.pending_gauge
        shared = sum(count for name, count in self._counts.items() if self._gauges[name] == kind.pending_gauge)
        getattr(self.metrics, kind.pending_gauge).set(shared)

    def pending_count(self, kind: RowKind = TRADES) -> int:
        return self._counts.get(kind.name, 0)

    def pending_rows(self, kind: RowKind) -> list[dict[str, Any]]:
        """The pending rows of one kind, in order (rows are never changed once pending)."""
        return [row for row_kind, row in self.pending.values() if row_kind.name == kind.name]

    def send_after_commit(self, keys: Sequence[RowKey], gateway_id: str, reply: commands_pb2.Reply) -> None:
        """Send now if every row is already committed (e.g. an idempotent retry), else hold the reply."""
        waiting = [key for key in dict.fromkeys(keys) if key in self.pending]
        if not waiting:
            self.hub.send(gateway_id, reply)
            return
        hold = _Hold(gateway_id, reply, len(waiting))
        for key in waiting:
            self.held.setdefault(key, []).append(hold)

    def wake(self) -> None:
        if self.pending:
            self._wakeup.set()

    async def run(self) -> None:
        """Migrate the schema at once (the leader's start-up), then commit pending rows whenever there are
        some; retry with backoff while PostgreSQL fails, without ever holding up the trading loop."""
        delay = RETRY_MIN_SECONDS
        while True:
            if self.schema_ready and not self.pending:
                await self._wakeup.wait()
                self._wakeup.clear()
            try:
                await self.flush_once()
                delay = RETRY_MIN_SECONDS
            except StaleEpoch as exc:
                # a newer leader committed meanwhile: this session's rows are its to write, never ours
                self.metrics.fenced_writes.labels("trade_rows").inc()
                log.error("closed-trade commit fenced off: a newer leader holds the lease",
                          extra={"pending_rows": len(self.pending), "error": str(exc)})  # fmt: skip
                return
            except Exception as exc:  # any database failure: keep the rows, try again later
                self.metrics.trade_commit_failures.inc()
                log.warning(
                    "closed-trade commit failed; rows kept, retrying",
                    extra={"pending_rows": len(self.pending), "retry_in_s": delay, "error": repr(exc)},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def flush_once(self) -> None:
        if not self.schema_ready:
            await asyncio.to_thread(upgrade_schema, self.store.database_url)
            self.schema_ready = True
            log.info("closed-trade schema is at head", extra={"version_table": VERSION_TABLE})
        if not self.epoch_claimed:
            await self.store.claim_epoch(self.epoch)
            self.epoch_claimed = True
        rows = list(itertools.islice(self.pending.values(), MAX_ROWS_PER_COMMIT))
        if not rows:
            return
        if self.refused:
            await self._quarantine([(*self.pending[key], problem) for key, problem in self.refused.items()
                                    if key in self.pending])  # fmt: skip
            rows = [(kind, row) for kind, row in rows if kind.key(row) in self.pending]
            if not rows:
                return
        await self._commit_isolating(rows)

    async def _commit_isolating(self, rows: list[tuple[RowKind, dict[str, Any]]]) -> None:
        """Commit `rows` in one transaction; if the database refuses their data (a refusal row_problem did
        not foresee), halve the group until the refused rows stand alone and quarantine those."""
        try:
            await self.store.insert(rows, self.epoch)
        except Exception as exc:
            if not refused_by_database(exc):
                raise
            if len(rows) == 1:
                await self._quarantine([(*rows[0], repr(exc)[:2000])])
                return
            log.error("closed-trade group commit refused; isolating the refused rows",
                      extra={"rows": len(rows), "error": repr(exc)[:500]})  # fmt: skip
            middle = len(rows) // 2
            await self._commit_isolating(rows[:middle])
            await self._commit_isolating(rows[middle:])
            return
        self.metrics.trade_rows_committed.inc(len(rows))
        self._release(rows)

    def _release(self, rows: list[tuple[RowKind, dict[str, Any]]]) -> None:
        """Rows that left `pending` for good (committed or quarantined): their listeners hear of them, and
        the replies that waited for nothing else go out."""
        released: dict[str, list[dict[str, Any]]] = {}
        for kind, row in rows:
            key = kind.key(row)
            if self.pending.pop(key, None) is None:
                continue
            self._count(kind, -1)
            self.refused.pop(key, None)
            released.setdefault(kind.name, []).append(row)
            for hold in self.held.pop(key, ()):
                hold.waiting -= 1
                if hold.waiting == 0:
                    # while a batch is being applied this is held with it: its entry may be in that batch,
                    # and goes out only with the batch's fenced acknowledgement (engine.replies `hold`)
                    self.hub.send(hold.gateway_id, hold.reply)
        for name, kind_rows in released.items():
            listener = self.on_commit.get(name)
            if listener is not None:
                listener(kind_rows)

    async def _quarantine(self, refused: list[tuple[RowKind, dict[str, Any], str]]) -> None:
        if not refused:
            return
        await self.store.quarantine(refused, self.epoch)
        for kind, row, error in refused:
            log.critical("row refused by PostgreSQL: quarantined, missing from its table",
                         extra={"row_id": kind.quarantine_id(row), "kind": kind.name, "user_id": row.get("user_id"),
                                "error": error, "table": quarantine.name})  # fmt: skip
        self.metrics.trade_rows_quarantined.inc(len(refused))
        # the change happened in the state (a balance is credited): its reply must not wait forever
        self._release([(kind, row) for kind, row, _ in refused])

    async def flush_all(self) -> None:
        while self.pending:
            await self.flush_once()
