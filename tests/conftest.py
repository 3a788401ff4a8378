"""Fixtures that hand tests real servers: Redis, PostgreSQL (a fresh database per test session) and a
MongoDB-protocol server. `make test` makes sure Redis and PostgreSQL are up; MongoDB comes from
MONGODB_URL or a throwaway SecantusDB started here. Nothing is mocked; a server that is down fails the
test that needs it (it is never skipped)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pymongo
import pytest
import redis.asyncio as aioredis

from tests.support.net import host_port, is_listening
from tests.support.processes import start_secantus

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


# A test's markers follow its folder, so no test file has to remember one: everything under tests/integration
# and tests/e2e needs real servers (`integration`), tests/e2e also starts every service (`e2e`), tests/chaos
# injects faults under load (`chaos`, `make chaos`);
# `-m "not integration"` selects exactly tests/unit.
FOLDER_MARKERS = {"integration": ("integration",), "e2e": ("integration", "e2e"), "chaos": ("integration", "chaos")}
TESTS_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(TESTS_DIR).parts[0] if item.path.is_relative_to(TESTS_DIR) else ""
        for marker in FOLDER_MARKERS.get(folder, ()):
            item.add_marker(marker)


def _require(url: str, default_port: int, what: str) -> None:
    host, port = host_port(url, default_port)
    if not is_listening(host, port):
        pytest.fail(f"{what} is not reachable at {host}:{port}; `make test` starts it (scripts/services.sh)")


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def redis_url() -> str:
    _require(REDIS_URL, 6379, "Redis")
    return REDIS_URL


@pytest.fixture
def key_prefix() -> str:
    """A namespace for this test's Redis keys: tests share one Redis and must not see each other."""
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis_client(redis_url: str, key_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{key_prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database (plain `postgresql://` URL), dropped when the block ends."""
    _require(DATABASE_URL, 5432, "PostgreSQL")
    name = f"exness_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(DATABASE_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(DATABASE_URL, name)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def mongodb_url(artifacts_dir: Path) -> Iterator[str]:
    """MONGODB_URL when set, else a throwaway SecantusDB (MongoDB wire protocol) for the session."""
    url = os.environ.get("MONGODB_URL")
    if url:
        _require(url, 27017, "MongoDB")
        yield url
        return
    proc, url = start_secantus(artifacts_dir)
    try:
        yield url
    finally:
        proc.stop()


@pytest.fixture
def mongo_database(mongodb_url: str) -> Iterator[str]:
    """A database name of this test's own, dropped afterwards."""
    name = f"exness_test_{uuid.uuid4().hex[:10]}"
    yield name
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(mongodb_url)
    client.drop_database(name)
    client.close()
