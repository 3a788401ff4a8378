"""Alembic environment of the engine's own tables (closed trades), with the engine's own version table."""

from engine.trade_rows import metadata
from engine.trades import VERSION_TABLE
from mesh.postgres import run_migrations

run_migrations(metadata, VERSION_TABLE)
