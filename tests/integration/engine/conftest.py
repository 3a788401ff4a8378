"""Fixtures of the engine's integration tests: the environment of an engine process wired to this test's
Redis keys, the session's PostgreSQL database and this test's MongoDB database."""

from __future__ import annotations

import pytest

from engine.config import EngineSettings


@pytest.fixture
def engine_env(redis_url: str, key_prefix: str, postgres_url: str, mongodb_url: str,
               mongo_database: str) -> dict[str, str]:  # fmt: skip
    return {
        "REDIS_URL": redis_url,
        "STREAM_KEY": f"{key_prefix}stream:engine",
        "DEAD_LETTER_STREAM": f"{key_prefix}stream:engine:dead",
        "DATABASE_URL": postgres_url,
        "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": mongo_database,
        "MAINTENANCE_MARGIN_RATE": "0.005",
    }


@pytest.fixture
def engine_settings(engine_env: dict[str, str]) -> EngineSettings:
    """The same configuration in this process (for the reference state's rules)."""
    return EngineSettings(**{name.lower(): value for name, value in engine_env.items()})
