"""Alembic environment of the engine's own tables (closed trades). Runs online against DATABASE_URL
through asyncpg, with the engine's own version table so it never collides with the gateway's."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from engine.trades import VERSION_TABLE, asyncpg_url, metadata

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    engine = create_async_engine(asyncpg_url(config.get_main_option("sqlalchemy.url") or ""))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the engine's migrations run online only (engine.trades.upgrade_schema)")
asyncio.run(run_async())
