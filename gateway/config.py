"""Gateway configuration from the environment (names as in the team conventions: GATEWAY_PORT,
ENGINE_ADDR, DATABASE_URL, JWT_SECRET, DEV_MODE, ...)."""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
from functools import cached_property

from pydantic import Field, SecretStr, field_validator, model_validator

from mesh.postgres import asyncpg_url
from mesh.settings import CommonSettings

_RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*$")


def _default_gateway_id() -> str:
    return f"{socket.gethostname()}-{secrets.token_hex(4)}"


def parse_rate(text: str) -> tuple[int, int] | None:
    """`"10/minute"` -> (10, 60); `"off"` -> None (no limit)."""
    if text.strip().lower() in {"off", "none", "0"}:
        return None
    match = _RATE.match(text.lower())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"rate {text!r} is not like '10/minute' (units: second, minute, hour, day) or 'off'")
    return int(match.group(1)), _RATE_UNITS[match.group(2)]


def trusted_proxies(text: str) -> list[str]:
    """`"10.0.0.0/8, 127.0.0.1"` -> ["10.0.0.0/8", "127.0.0.1"]; each entry an address, a network or "*"."""
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    for entry in entries:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address, a CIDR or '*'") from None
    return entries


class GatewaySettings(CommonSettings):
    gateway_port: int = Field(default=3000, ge=0, le=65535)
    # 0.0.0.0 in a container; tests bind 127.0.0.1
    gateway_host: str = "0.0.0.0"
    engine_addr: str = "127.0.0.1:50051"
    # the candle builder's gRPC CandleService (GET /api/v1/candles)
    candles_addr: str = "127.0.0.1:50061"
    # Redis pub/sub channel of the candle builder's live candles (CANDLE messages on /ws/prices)
    candle_channel: str = "ws:candle:update"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    jwt_secret: SecretStr | None = None
    dev_mode: bool = False
    jwt_ttl_seconds: int = Field(default=86400, gt=0)
    starting_balance_cents: int = Field(default=1_000_000, ge=0)
    engine_reply_timeout_ms: int = Field(default=5000, gt=0)
    # uvicorn worker processes, each a gateway of its own (gateway.__main__)
    gateway_workers: int = Field(default=1, ge=1, le=64)
    # admission of writes (gateway.admission): writes in flight across the platform, and this process's
    # loop lag; 0 switches a bound off
    gateway_max_in_flight: int = Field(default=256, ge=0, le=10_000)
    gateway_max_loop_lag_ms: int = Field(default=1000, ge=0)
    # names this instance in every command's reply_to and in its StreamReplies call
    gateway_id: str = Field(default_factory=_default_gateway_id, min_length=1)
    cors_origins: str = ""
    max_body_bytes: int = Field(default=65536, gt=0)
    auth_rate_limit: str = "10/minute"
    # signin attempts per e-mail address, whatever address they come from (an attacker rotating client
    # addresses still gets this many guesses at one account)
    signin_email_rate_limit: str = "20/hour"
    # /ws/account sockets one client address (an IPv6 client by its /64) may hold open on one gateway
    # process, authenticated or not: one address cannot open sockets for many users without bound
    max_account_sockets_per_client: int = Field(default=32, ge=1, le=100_000)
    # Comma-separated addresses or CIDRs of the proxies (e.g. the ingress controller's pods) whose
    # X-Forwarded-For names the client; from anyone else the header is ignored. "*" trusts everyone and is
    # only safe when nothing but the proxy can reach the gateway.
    forwarded_allow_ips: str = "127.0.0.1"

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        trusted_proxies(value)
        return value

    @field_validator("auth_rate_limit", "signin_email_rate_limit")
    @classmethod
    def _rate_parses(cls, value: str) -> str:
        parse_rate(value)
        return value

    @model_validator(mode="after")
    def _secret_required(self) -> GatewaySettings:
        if not self.dev_mode and (self.jwt_secret is None or not self.jwt_secret.get_secret_value()):
            raise ValueError("JWT_SECRET is required (set DEV_MODE=true to run with a throw-away secret)")
        return self

    @cached_property
    def signing_secret(self) -> str:
        """JWT_SECRET, or in dev mode without one a random secret (tokens die with the process)."""
        if self.jwt_secret is not None and self.jwt_secret.get_secret_value():
            return self.jwt_secret.get_secret_value()
        return secrets.token_urlsafe(32)

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def auth_rate(self) -> tuple[int, int] | None:
        return parse_rate(self.auth_rate_limit)

    @property
    def signin_email_rate(self) -> tuple[int, int] | None:
        return parse_rate(self.signin_email_rate_limit)

    @property
    def auth_rate_key_prefix(self) -> str:
        """Where the platform-wide auth rate limit keeps its buckets: beside the stream key, so one
        platform (or one test's namespace) shares them and another does not."""
        return f"{self.stream_key}:auth-rate:"

    @property
    def signin_email_rate_key_prefix(self) -> str:
        return f"{self.stream_key}:signin-email-rate:"

    @property
    def in_flight_key(self) -> str:
        """The hash where the platform's gateways share their in-flight counts (gateway.in_flight)."""
        return f"{self.stream_key}:in-flight"

    @property
    def async_database_url(self) -> str:
        """DATABASE_URL is a plain postgresql:// URL; SQLAlchemy needs the asyncpg dialect named."""
        return asyncpg_url(self.database_url)

    @property
    def reply_timeout_seconds(self) -> float:
        return self.engine_reply_timeout_ms / 1000
