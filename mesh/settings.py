"""Configuration shared by every service, read from the environment (pydantic-settings).

Each service subclasses `CommonSettings` with its own fields; names here are the environment variable
names in upper case (e.g. `redis_url` <- REDIS_URL). `load_settings` is how a service's `main` reads
them: a bad configuration is reported by variable name and reason, never with the values given (a
pydantic ValidationError's text repeats every input, passwords in URLs included)."""

from __future__ import annotations

import logging
import os
import sys
from typing import TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mesh.logging import configure_logging
from mesh.units import AssetSpec, parse_assets

# the exit status of a service refused by its configuration (distinct from a crash's 1)
CONFIG_EXIT_CODE = 2

SettingsT = TypeVar("SettingsT", bound="CommonSettings")

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

    @field_validator("log_level")
    @classmethod
    def _level_known(cls, value: str) -> str:
        if value.upper() not in logging.getLevelNamesMapping():
            raise ValueError("not a logging level (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
        return value

    @field_validator("assets")
    @classmethod
    def _assets_parse(cls, value: str) -> str:
        parse_assets(value)
        return value

    @property
    def asset_specs(self) -> dict[str, AssetSpec]:
        return parse_assets(self.assets)


def configuration_problems(exc: ValidationError) -> list[str]:
    """One line per problem, "VARIABLE: reason", without the offending value. A check across several
    variables (a model validator) has no single variable; its own message names them."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        names = ".".join(str(part) for part in error["loc"]).upper()
        reason = error["msg"].removeprefix("Value error, ")
        problems.append(f"{names}: {reason}" if names else reason)
    return problems


def load_settings(settings_cls: type[SettingsT], service: str) -> SettingsT:
    """The service's settings from the environment, with logging configured from them. On a bad
    configuration: one CRITICAL line naming each wrong variable and why, then exit CONFIG_EXIT_CODE."""
    try:
        settings = settings_cls()
    except ValidationError as exc:
        # LOG_FORMAT itself may be the bad variable: anything but "text" keeps the JSON default
        configure_logging(service, "INFO", "text" if os.environ.get("LOG_FORMAT") == "text" else "json")
        problems = configuration_problems(exc)
        logging.getLogger(service).critical(
            "invalid configuration: %s", "; ".join(problems), extra={"problems": problems}
        )
        sys.exit(CONFIG_EXIT_CODE)
    configure_logging(service, settings.log_level, settings.log_format)
    return settings
