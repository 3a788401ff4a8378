"""Closed trades (and the order history, engine.order_history) in PostgreSQL (SQLAlchemy async + asyncpg).

`TradeStore` owns the table (Alembic-managed, version table `alembic_version_engine`): idempotent group
inserts keyed by the deterministic trade id, and the newest-first pages ListClosedTrades serves.

`TradeWriter` sits between the consumer loop and the store: closed trades the state produced wait in
`pending` (they are part of every snapshot) until a group commit succeeds, and replies reporting a close
wait with them. While PostgreSQL is down trading goes on, rows accumulate, and the writer retries with
backoff; nothing is lost because a row leaves `pending` only after its transaction committed.

A row PostgreSQL refuses (a value outside its column's range, a NUL byte in a text) would fail every
retry of its group and hold every later close reply. Such a row is quarantined instead: set aside whole,
as JSON text, in `closed_trades_quarantine`, logged CRITICAL and counted, while the others commit and all
the replies go out. Rows are checked against the column types before the insert; a refusal the check did
not foresee is found by committing the group's rows one at a time.

Fencing (engine.fencing): every transaction of the group commit, whatever rows it carries, runs
`fence_transaction` first: a conditional upsert of the session's epoch into `engine_fence` that holds the
row's lock until commit. A transaction of a leader whose epoch is below the newest one recorded is rolled
back (StaleEpoch), so a paused or cut-off leader never commits a row after a newer leader's first."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from exness.engine.v1 import commands_pb2
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from engine import order_history
from engine.fencing import StaleEpoch
from engine.metrics import EngineMetrics
from engine.orders_wire import is_order_row
from engine.replies import ReplyHub
from mesh.postgres import asyncpg_url, upgrade_to_head

log = logging.getLogger(__name__)

VERSION_TABLE = "alembic_version_engine"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# one transaction per batch of rows; after an outage the backlog is committed in slices of this size
MAX_ROWS_PER_COMMIT = 5_000
RETRY_MIN_SECONDS = 0.1
RETRY_MAX_SECONDS = 5.0

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


def upgrade_schema(database_url: str) -> None:
    """`alembic upgrade head` for the engine's tables. Blocking (it runs its own event loop): call it
    from a worker thread."""
    upgrade_to_head(MIGRATIONS_DIR, database_url)


async def fence_transaction(connection: AsyncConnection, stream_key: str, epoch: int) -> None:
    """The one fencing check of the group commit, first in each of its transactions: record `epoch` as the
    stream's newest unless a newer one is recorded, then StaleEpoch (the caller's transaction rolls back).
    The upsert keeps the fence row locked until the transaction ends, so a newer leader's claim waits for
    a stale transaction in flight and every later one of the stale leader is refused. Epoch 0: unfenced
    (tools and tests that write rows without a lease)."""
    if epoch <= 0:
        return
    values = insert(engine_fence).values(stream_key=stream_key, epoch=epoch)
    statement = values.on_conflict_do_update(
        index_elements=["stream_key"], set_={"epoch": values.excluded.epoch},
        where=engine_fence.c.epoch <= values.excluded.epoch,
    ).returning(engine_fence.c.epoch)  # fmt: skip
    if (await connection.execute(statement)).first() is None:
        raise StaleEpoch("PostgreSQL commit", epoch)


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


class TradeStore:
    def __init__(self, database_url: str, stream_key: str = "stream:engine") -> None:
        self.database_url = database_url
        # the fence row of this engine's stream (engine_fence)
        self.stream_key = stream_key
        self.engine: AsyncEngine = create_async_engine(
            asyncpg_url(database_url),
            pool_pre_ping=True,
            pool_size=4,
            hide_parameters=True,  # a database error's text never carries a row's values into a log
            # fail fast while PostgreSQL is down: the writer retries, reads answer UNAVAILABLE
            connect_args={"timeout": 5, "command_timeout": 30},
        )

    async def close(self) -> None:
        await self.engine.dispose()

    async def claim_epoch(self, epoch: int) -> None:
        """Record a new session's epoch before it commits anything (StaleEpoch if a newer one is there)."""
        async with self.engine.begin() as connection:
            await fence_transaction(connection, self.stream_key, epoch)

    async def insert(self, rows: list[dict[str, Any]], epoch: int = 0) -> None:
        """One transaction, fenced by `epoch`, for the closed trades and ended orders among `rows`; rows
        already present (a replayed close) are left as they are."""
        trades = [row for row in rows if not is_order_row(row)]
        orders = [row for row in rows if is_order_row(row)]
        async with self.engine.begin() as connection:
            await fence_transaction(connection, self.stream_key, epoch)
            if trades:
                await connection.execute(insert(closed_trades).on_conflict_do_nothing(index_elements=["id"]), trades)
            if orders:
                await connection.execute(
                    insert(order_history.order_history).on_conflict_do_nothing(index_elements=["id"]), orders
                )

    async def quarantine(self, refused: list[tuple[dict[str, Any], str]], epoch: int = 0) -> None:
        """Set rows aside with the reason they were refused (idempotent: a row already there stays)."""
        now_ms = int(time.time() * 1000)
        values = [{"id": row["id"], "row_json": json.dumps(row, sort_keys=True, ensure_ascii=True),
                   "error": error.replace("\x00", "\\x00"), "quarantined_at_ms": now_ms}
                  for row, error in refused]  # fmt: skip
        async with self.engine.begin() as connection:
            await fence_transaction(connection, self.stream_key, epoch)
            await connection.execute(insert(quarantine).on_conflict_do_nothing(index_elements=["id"]), values)

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


class TradeWriter:
    def __init__(self, store: TradeStore, hub: ReplyHub, metrics: EngineMetrics) -> None:
        self.store = store
        self.hub = hub
        self.metrics = metrics
        # trade id -> row, in close order
        self.pending: dict[str, dict[str, Any]] = {}
        # trade id -> why PostgreSQL would refuse its pending row (checked as each row arrives, one at a
        # time, so a flush never checks a whole backlog on the loop)
        self.refused: dict[str, str] = {}
        # trade id -> replies that report it, sent once it is committed
        self.held: dict[str, list[tuple[str, commands_pb2.Reply]]] = {}
        self.schema_ready = False
        # the leader session's fencing token (engine.fencing), claimed in PostgreSQL before its first commit
        self.epoch = 0
        self.epoch_claimed = False
        self._wakeup = asyncio.Event()

    def add(self, row: dict[str, Any]) -> None:
        self.pending[row["id"]] = row
        if (problem := row_problem(row)) is not None:
            self.refused[row["id"]] = problem
        self.metrics.pending_trade_rows.set(len(self.pending))

    def send_after_commit(self, trade_id: str, gateway_id: str, reply: commands_pb2.Reply) -> None:
        """Send now if the trade is already committed (e.g. an idempotent retry), else hold the reply."""
        if trade_id in self.pending:
            self.held.setdefault(trade_id, []).append((gateway_id, reply))
        else:
            self.hub.send(gateway_id, reply)

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
        rows = list(self.pending.values())[:MAX_ROWS_PER_COMMIT]
        if not rows:
            return
        if self.refused:
            await self._quarantine([(self.pending[trade_id], problem) for trade_id, problem in self.refused.items()
                                    if trade_id in self.pending])  # fmt: skip
            rows = [row for row in rows if row["id"] in self.pending]
            if not rows:
                return
        await self._commit_isolating(rows)

    async def _commit_isolating(self, rows: list[dict[str, Any]]) -> None:
        """Commit `rows` in one transaction; if the database refuses their data (a refusal row_problem did
        not foresee), halve the group until the refused rows stand alone and quarantine those."""
        try:
            await self.store.insert(rows, self.epoch)
        except Exception as exc:
            if not refused_by_database(exc):
                raise
            if len(rows) == 1:
                await self._quarantine([(rows[0], repr(exc)[:2000])])
                return
            log.error("closed-trade group commit refused; isolating the refused rows",
                      extra={"rows": len(rows), "error": repr(exc)[:500]})  # fmt: skip
            middle = len(rows) // 2
            await self._commit_isolating(rows[:middle])
            await self._commit_isolating(rows[middle:])
            return
        self.metrics.trade_rows_committed.inc(len(rows))
        self._release(rows)

    def _release(self, rows: list[dict[str, Any]]) -> None:
        """Rows that left `pending` for good (committed or quarantined): their held replies go out."""
        for row in rows:
            self.pending.pop(row["id"], None)
            self.refused.pop(row["id"], None)
            for gateway_id, reply in self.held.pop(row["id"], ()):
                # while a batch is being applied this is held with it: its entry may be in that batch, and
                # goes out only with the batch's fenced acknowledgement (engine.replies `hold`)
                self.hub.send(gateway_id, reply)
        self.metrics.pending_trade_rows.set(len(self.pending))

    async def _quarantine(self, refused: list[tuple[dict[str, Any], str]]) -> None:
        if not refused:
            return
        await self.store.quarantine(refused, self.epoch)
        for row, error in refused:
            log.critical("closed trade refused by PostgreSQL: quarantined, missing from the trade history",
                         extra={"trade_id": row["id"], "user_id": row.get("user_id"), "error": error,
                                "table": quarantine.name})  # fmt: skip
        self.metrics.trade_rows_quarantined.inc(len(refused))
        # the close happened in the state (the balance is credited): its reply must not wait forever
        self._release([row for row, _ in refused])

    async def flush_all(self) -> None:
        while self.pending:
            await self.flush_once()
