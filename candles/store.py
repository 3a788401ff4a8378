"""The candle builder's tables in PostgreSQL (its own, with its own Alembic version table): the candles, the
builder's cursor on the stream, and the gaps it noted. One batch of entries is ONE transaction: its
candles merged into their rows and the cursor moved from the id the batch started after to its last
id, so a crash anywhere replays from the saved cursor and no quote is counted twice or lost.

The cursor moves only from the value the builder read (`UPDATE ... WHERE last_id = old`): a second
builder on the same stream, or a stale one, finds it moved, rolls back and reloads, never double counts.

Merging in SQL is `Candle.merge` (candles.aggregation): open kept, high/low widened, close replaced,
ticks added. A row with `ticks = 0` came from the venue's history (backfill); the platform's own quotes
replace it whole, and backfill never touches an existing row (`ON CONFLICT DO NOTHING`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    case,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.dml import ReturningInsert

from candles.aggregation import BucketKey, Candle
from mesh.postgres import asyncpg_url

VERSION_TABLE = "candles_alembic_version"

metadata = MetaData()

candles_table = Table(
    "candles",
    metadata,
    Column("asset", String(32), nullable=False),
    Column("interval", String(8), nullable=False),
    Column("bucket_ms", BigInteger, nullable=False),
    Column("open", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
    Column("low", BigInteger, nullable=False),
    Column("close", BigInteger, nullable=False),
    # the platform's quotes in the bucket; 0 = a bucket of the venue's history (backfill)
    Column("ticks", BigInteger, nullable=False),
    PrimaryKeyConstraint("asset", "interval", "bucket_ms", name="pk_candles"),
)

cursor_table = Table(
    "candle_cursor",
    metadata,
    Column("stream_key", String(200), primary_key=True),
    # the id of the last entry whose quotes are in the candles
    Column("last_id", String(48), nullable=False),
    # how many entries the stream had ever been given up to and including last_id (Redis's entries-added
    # counts the same): a stream whose trimmed head is longer than this lost entries the builder never read
    Column("entries_read", BigInteger, nullable=True),
)

gaps_table = Table(
    "candle_gaps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stream_key", String(200), nullable=False),
    # the cursor when the gap was found, and the first entry read after it: entries between were trimmed
    Column("after_id", String(48), nullable=False),
    Column("resumed_id", String(48), nullable=False),
    Column("noted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class CursorMoved(RuntimeError):
    """The saved cursor is not where this builder left it: someone else advanced it."""


@dataclass(frozen=True, slots=True)
class Gap:
    after_id: str
    resumed_id: str


def make_engine(database_url: str) -> AsyncEngine:
    return create_async_engine(asyncpg_url(database_url), pool_size=4, max_overflow=2, pool_pre_ping=True)


@dataclass(frozen=True, slots=True)
class Cursor:
    last_id: str
    # None until the first batch: where a new builder starts counting
    entries_read: int | None


async def load_cursor(engine: AsyncEngine, stream_key: str, start: str) -> Cursor:
    """The saved cursor of `stream_key`, created at `start` if there is none."""
    c = cursor_table.c
    async with engine.begin() as conn:
        await conn.execute(
            pg_insert(cursor_table).values(stream_key=stream_key, last_id=start).on_conflict_do_nothing()
        )
        row = (await conn.execute(select(c.last_id, c.entries_read).where(c.stream_key == stream_key))).one()
    return Cursor(row.last_id, row.entries_read)


# rows per INSERT: 8 parameters each, well below PostgreSQL's 32,767 per statement
UPSERT_CHUNK = 2000


def _upsert(rows: list[dict[str, object]]) -> ReturningInsert[Any]:
    stmt = pg_insert(candles_table).values(rows)
    old, new = candles_table.c, stmt.excluded
    backfilled = old.ticks == 0
    return stmt.on_conflict_do_update(
        constraint="pk_candles",
        set_={
            "open": case((backfilled, new.open), else_=old.open),
            "high": case((backfilled, new.high), else_=func.greatest(old.high, new.high)),
            "low": case((backfilled, new.low), else_=func.least(old.low, new.low)),
            "close": new.close,
            "ticks": old.ticks + new.ticks,
        },
    ).returning(*candles_table.c)


def _rows(candles: dict[BucketKey, Candle]) -> list[dict[str, object]]:
    return [
        {
            "asset": asset,
            "interval": interval,
            "bucket_ms": start,
            "open": c.open,
            "high": c.high,
            "low": c.low,
            "close": c.close,
            "ticks": c.ticks,
        }
        for (asset, interval, start), c in candles.items()
    ]


async def commit_batch(
    engine: AsyncEngine,
    stream_key: str,
    after: Cursor,
    to: Cursor,
    candles: dict[BucketKey, Candle],
    gap: Gap | None = None,
) -> list[tuple[BucketKey, Candle]]:
    """Merge one batch's candles and move the cursor from `after` to `to`, in one transaction; returns the
    merged rows as they now stand. Raises CursorMoved (nothing written) if the saved cursor is no longer
    `after`."""
    async with engine.begin() as conn:
        moved = await conn.execute(
            update(cursor_table)
            .where(cursor_table.c.stream_key == stream_key, cursor_table.c.last_id == after.last_id)
            .values(last_id=to.last_id, entries_read=to.entries_read)
        )
        if moved.rowcount != 1:
            raise CursorMoved(f"cursor of {stream_key} is no longer {after.last_id}")
        if gap is not None:
            await conn.execute(
                gaps_table.insert().values(stream_key=stream_key, after_id=gap.after_id, resumed_id=gap.resumed_id)
            )
        rows = _rows(candles)
        merged = []
        for start in range(0, len(rows), UPSERT_CHUNK):
            result = await conn.execute(_upsert(rows[start : start + UPSERT_CHUNK]))
            merged.extend(_candle_rows(result.all()))
    return merged


def _candle_rows(rows: Iterable[Any]) -> list[tuple[BucketKey, Candle]]:
    return [((r.asset, r.interval, r.bucket_ms), Candle(r.open, r.high, r.low, r.close, r.ticks)) for r in rows]


async def insert_history(engine: AsyncEngine, candles: dict[BucketKey, Candle]) -> int:
    """Backfilled buckets (ticks 0) where no row exists yet; returns how many were added."""
    rows = _rows({key: Candle(c.open, c.high, c.low, c.close, 0) for key, c in candles.items()})
    if not rows:
        return 0
    added = 0
    async with engine.begin() as conn:
        for start in range(0, len(rows), UPSERT_CHUNK):
            chunk = rows[start : start + UPSERT_CHUNK]
            stmt = pg_insert(candles_table).values(chunk).on_conflict_do_nothing().returning(candles_table.c.bucket_ms)
            added += len((await conn.execute(stmt)).all())
    return added


async def read_candles(
    conn: AsyncConnection, asset: str, interval: str, limit: int, before_ms: int | None
) -> list[tuple[int, Candle]]:
    """The newest `limit` buckets of (asset, interval) starting before `before_ms`, oldest first."""
    c = candles_table.c
    query = select(c.bucket_ms, c.open, c.high, c.low, c.close, c.ticks).where(c.asset == asset, c.interval == interval)
    if before_ms is not None:
        query = query.where(c.bucket_ms < before_ms)
    rows = (await conn.execute(query.order_by(c.bucket_ms.desc()).limit(limit))).all()
    return [(row.bucket_ms, Candle(row.open, row.high, row.low, row.close, row.ticks)) for row in reversed(rows)]


async def read_all(engine: AsyncEngine) -> dict[BucketKey, Candle]:
    """Every candle (tests and tools)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(candles_table))).all()
    return dict(_candle_rows(rows))


async def read_gaps(engine: AsyncEngine, stream_key: str) -> list[Gap]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(gaps_table.c.after_id, gaps_table.c.resumed_id)
                .where(gaps_table.c.stream_key == stream_key)
                .order_by(gaps_table.c.id)
            )
        ).all()
    return [Gap(row.after_id, row.resumed_id) for row in rows]


def touched(candles: Iterable[BucketKey]) -> set[tuple[str, str]]:
    """The (asset, interval) pairs a batch touched."""
    return {(asset, interval) for asset, interval, _ in candles}
