"""Alembic environment of the candle builder's own tables (candles, its cursor, its gaps), with its own
version table."""

from candles.store import VERSION_TABLE, metadata
from mesh.postgres import run_migrations

run_migrations(metadata, VERSION_TABLE)
