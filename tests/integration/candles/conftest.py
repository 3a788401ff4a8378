"""Fixtures of the candle builder's integration tests: a PostgreSQL database of the test's own, migrated
by the builder's own migrations, and the test's stream key on the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from candles.service import MIGRATIONS_DIR
from candles.store import make_engine
from mesh.postgres import upgrade_to_head
from tests.conftest import DATABASE_URL


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def candles_db_url(postgres_url: str) -> Iterator[str]:
    """A fresh database with the candle builder's tables (dropped afterwards)."""
    name = f"exness_candles_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = f"{postgres_url.rpartition('/')[0]}/{name}"
    upgrade_to_head(MIGRATIONS_DIR, url)
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def candles_db(candles_db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(candles_db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def stream_key(key_prefix: str) -> str:
    return f"{key_prefix}stream:engine"
