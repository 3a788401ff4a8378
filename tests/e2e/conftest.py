"""The platform fixture: every service as its own process, torn down after the module. Each module's
platform has its own PostgreSQL database: candles are kept per asset and bucket, not per stream, so two
platforms sharing one would see each other's candles (and users, trades and events)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import fresh_database
from tests.e2e.platform import Platform


@pytest.fixture(scope="module")
def platform(
    redis_url: str,
    mongodb_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    yield from whole_platform(redis_url, mongodb_url, tmp_path_factory)


def whole_platform(
    redis_url: str,
    mongodb_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    venue_started: Callable[[Platform], None] = lambda mesh: None,
) -> Iterator[Platform]:
    """Every service as its own process on a fresh database and key prefix; `venue_started` runs once the
    fake venue is up and before anything listens to it (a module scripts venue history there)."""
    with fresh_database() as postgres_url:
        yield from _platform(redis_url, postgres_url, mongodb_url, tmp_path_factory, venue_started)


def _platform(
    redis_url: str,
    postgres_url: str,
    mongodb_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    venue_started: Callable[[Platform], None],
) -> Iterator[Platform]:
    prefix = f"e2e:{uuid.uuid4().hex[:10]}:"
    log_dir: Path = tmp_path_factory.mktemp("e2e-logs")
    common = {
        "REDIS_URL": redis_url,
        "STREAM_KEY": f"{prefix}stream:engine",
        "PRICE_CHANNEL": f"{prefix}ws:price:update",
        "CANDLE_CHANNEL": f"{prefix}ws:candle:update",
        "LOG_FORMAT": "json",
    }
    engine = {
        "DATABASE_URL": postgres_url,
        "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": f"e2e_{uuid.uuid4().hex[:10]}",
        "SNAPSHOT_INTERVAL_SECONDS": "3",
    }
    mesh = Platform(log_dir, common, engine)
    try:
        mesh.start_fake()
        venue_started(mesh)
        mesh.start_engine()
        mesh.start_pooler()
        mesh.start_candles()
        mesh.start_gateway()
        yield mesh
    finally:
        mesh.stop()
