"""Configuration shared by every service, read from the environment (pydantic-settings).

Each service subclasses `CommonSettings` with its own fields; names here are the environment variable
names in upper case (e.g. `redis_url` <- REDIS_URL)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mesh.units import AssetSpec, parse_assets

DEFAULT_ASSETS = "BTC_USDC:4:0.00001,ETH_USDC:4:0.0001,SOL_USDC:4:0.01"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis stream carrying every command and price update to the engine.
    stream_key: str = "stream:engine"
    # Pub/sub channel carrying serialized PriceUpdate messages to the gateways.
    price_channel: str = "ws:price:update"
    # SYMBOL:DECIMAL:STEP, comma separated: the traded assets, their price scale and quantity step.
    assets: str = DEFAULT_ASSETS
    log_level: str = "INFO"
    # "json" for machines (default), "text" for people at a terminal.
    log_format: str = "json"
    # Seconds a service waits for in-flight work on SIGTERM before it exits.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    @field_validator("assets")
    @classmethod
    def _assets_parse(cls, value: str) -> str:
        parse_assets(value)
        return value

    @property
    def asset_specs(self) -> dict[str, AssetSpec]:
        return parse_assets(self.assets)
