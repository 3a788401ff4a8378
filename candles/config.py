"""Configuration of the candle builder (`python -m candles`), read from the environment: CANDLES_GRPC_PORT,
DATABASE_URL, CANDLES_BACKFILL_URL, ... (README.md, Configuration)."""

from __future__ import annotations

import urllib.parse

from pydantic import Field, field_validator

from mesh.settings import CommonSettings

BACKPACK_REST_URL = "https://api.backpack.exchange"


class CandleSettings(CommonSettings):
    candles_grpc_port: int = Field(default=50061, ge=0, le=65535)
    candles_metrics_port: int = Field(default=9104, ge=0, le=65535)
    # interface the gRPC and metrics servers bind to; tests and `make up` use 127.0.0.1
    candles_bind_host: str = "0.0.0.0"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    # Redis pub/sub channel the live candles go to after each commit (the gateway's CANDLE messages)
    candle_channel: str = "ws:candle:update"
    # entries per read and per transaction
    candles_batch_size: int = Field(default=1000, ge=1, le=10_000)
    # the venue's REST base URL whose /api/v1/klines backfills history on start (and after a gap);
    # "" switches backfill off (e.g. with the simulated feed, whose prices are not the venue's)
    candles_backfill_url: str = BACKPACK_REST_URL
    # buckets of history asked for per asset and interval on start (one klines call each)
    candles_backfill_buckets: int = Field(default=500, ge=1, le=1000)

    @field_validator("candles_backfill_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("CANDLES_BACKFILL_URL must be an http:// or https:// URL, or empty (no backfill)")
        return value.rstrip("/")
