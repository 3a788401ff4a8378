"""The PostgreSQL and Alembic plumbing the engine and the gateway share: the one DATABASE_URL -> SQLAlchemy
URL conversion (and the plain URL asyncpg takes), running a service's migrations to head, and the body of
every service's `migrations/env.py`. Each service owns its tables, its migrations folder and its own Alembic version
table, so their migrations in one database never collide; nothing here knows which service calls it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

_SCHEMES = ("postgresql+asyncpg", "postgresql", "postgres")


def asyncpg_url(url: str) -> str:
    """DATABASE_URL is a plain postgresql:// URL (one setting for every service); SQLAlchemy needs the
    asyncpg driver named. Raises ValueError for any other scheme (the message leaves credentials out)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL must be a postgresql:// URL, got one without a scheme")
    if scheme not in _SCHEMES:
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got scheme {scheme!r}")
    return f"postgresql+asyncpg://{rest}"


def driver_url(url: str) -> str:
    """DATABASE_URL as asyncpg itself takes it (postgresql://), for a connection without SQLAlchemy.
    Raises ValueError as asyncpg_url does."""
    return "postgresql://" + asyncpg_url(url).partition("://")[2]


def upgrade_to_head(migrations_dir: Path, database_url: str) -> None:
    """`alembic upgrade head` for the migrations in `migrations_dir`. Blocking (env.py runs its own event
    loop): call it from a worker thread."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    # Alembic's config interpolates %: a password with one in it must reach the driver unchanged
    config.set_main_option("sqlalchemy.url", asyncpg_url(database_url).replace("%", "%%"))
    command.upgrade(config, "head")


def run_migrations(metadata: MetaData, version_table: str) -> None:
    """The whole of a service's `migrations/env.py`: online through asyncpg, or as SQL in offline mode."""
    url = context.config.get_main_option("sqlalchemy.url") or ""
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, version_table=version_table, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, version_table=version_table)
        with context.begin_transaction():
            context.run_migrations()

    async def run_online() -> None:
        engine = create_async_engine(asyncpg_url(url))
        try:
            async with engine.connect() as connection:
                await connection.run_sync(run)
        finally:
            await engine.dispose()

    asyncio.run(run_online())
