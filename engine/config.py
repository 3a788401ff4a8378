"""Configuration of the engine process (`python -m engine`), read from the environment. Names are the
ones in docs and k8s manifests: ENGINE_GRPC_PORT, DATABASE_URL, MONGODB_URL, SNAPSHOT_INTERVAL_SECONDS, …"""

from __future__ import annotations

import socket
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from pydantic import Field, field_validator

from engine.domain import Rules
from mesh.settings import CommonSettings


class EngineSettings(CommonSettings):
    engine_grpc_port: int = Field(default=50051, ge=0, le=65535)
    # Interface the gRPC and metrics servers bind to; tests use 127.0.0.1.
    engine_bind_host: str = "0.0.0.0"
    # Consumer name in the stream's consumer group, and the holder name written into the lease.
    engine_instance_name: str = Field(default_factory=socket.gethostname)
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    mongodb_url: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str = "exness"
    snapshot_interval_seconds: float = Field(default=15.0, gt=0)
    snapshot_keep: int = Field(default=3, ge=1)
    max_leverage: int = Field(default=100, ge=1)
    # Decimal text, e.g. "0.005"; parsed exactly (never through float).
    maintenance_margin_rate: str = "0"
    price_stale_after_ms: int = Field(default=5000, ge=0)
    max_open_positions_per_account: int = Field(default=1_000, ge=1)
    # pending LIMIT/STOP orders one account may hold (422 TOO_MANY_ORDERS beyond); 0 = no pending orders
    max_pending_orders_per_account: int = Field(default=100, ge=0, le=10_000)
    engine_metrics_port: int = Field(default=9101, ge=0, le=65535)
    lease_ttl_ms: int = Field(default=5000, ge=200)
    dead_letter_stream: str = "stream:engine:dead"
    consumer_group: str = "engine"
    read_batch_size: int = Field(default=500, ge=1, le=10_000)
    # Operator override, dangerous: lead although the stream has lost entries the engine never applied
    # (a trim past the snapshot). The state then silently misses whatever those entries did.
    engine_accept_log_gap: bool = False

    @field_validator("maintenance_margin_rate")
    @classmethod
    def _rate_parses(cls, value: str) -> str:
        _exact_fraction(value)
        return value

    @property
    def lease_key(self) -> str:
        # namespaced by the stream: one writer per stream (per shard)
        return f"{self.stream_key}:lease"

    def rules(self) -> Rules:
        return Rules(
            assets=self.asset_specs,
            max_leverage=self.max_leverage,
            maintenance_margin_rate=_exact_fraction(self.maintenance_margin_rate),
            price_stale_after_ms=self.price_stale_after_ms,
            max_open_positions_per_account=self.max_open_positions_per_account,
            max_pending_orders_per_account=self.max_pending_orders_per_account,
        )


def _exact_fraction(text: str) -> Fraction:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"MAINTENANCE_MARGIN_RATE {text!r} is not a decimal number") from None
    if not number.is_finite() or not 0 <= number < 1:
        raise ValueError(f"MAINTENANCE_MARGIN_RATE {text!r} must be in [0, 1)")
    return Fraction(number)
