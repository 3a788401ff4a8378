"""Alembic environment of the gateway's tables (users), with the gateway's own version table."""

from gateway.db import VERSION_TABLE, Base
from mesh.postgres import run_migrations

run_migrations(Base.metadata, VERSION_TABLE)
