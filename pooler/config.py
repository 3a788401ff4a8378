"""The pooler's configuration (environment variables; names as in README.md "Configuration", plus feed tuning knobs
with FEED_ names whose defaults suit the live venue)."""

from __future__ import annotations

import urllib.parse
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mesh.settings import CommonSettings

LIVE_URL = "wss://ws.backpack.exchange"


class PoolerSettings(CommonSettings):
    # auto: live Backpack, falling back to the simulation while it is unreachable
    feed: Literal["auto", "backpack", "fake", "sim"] = "auto"
    # the venue's websocket; with FEED=fake, the local fake server's ws:// URL
    backpack_ws_url: str = LIVE_URL
    publish_interval_ms: int = Field(default=100, ge=1, le=60_000)
    spread_bps: int = Field(default=100, ge=0, le=10_000)
    # a quote not confirmed by the feed for this long is not published
    quote_max_age_ms: int = Field(default=5000, ge=1)
    pooler_http_port: int = Field(default=9102, ge=0, le=65535)
    pooler_http_host: str = "0.0.0.0"
    # seed of the simulated random walk; unset = a different walk each run
    sim_seed: int | None = None
    # a sim tick per asset this often
    sim_interval_ms: int = Field(default=100, ge=1)

    # reconnect delays: exponential from the initial one, capped, with jitter
    feed_backoff_initial_ms: int = Field(default=500, ge=1)
    feed_backoff_max_ms: int = Field(default=30_000, ge=1)
    # a connection that delivered data this long resets the backoff
    feed_stable_seconds: float = Field(default=60.0, ge=0)
    # no frame at all for this long = a dead socket (the 1 Hz ticker subscription keeps a live one busy)
    feed_watchdog_seconds: float = Field(default=15.0, gt=0)
    # a subscribed symbol with no frame after this long is probably unknown to the venue (it stays silent)
    feed_subscribe_timeout_seconds: float = Field(default=10.0, gt=0)
    # auto: fall back to the simulation once live has been down this long (at start: after the first failure)
    feed_fallback_after_seconds: float = Field(default=5.0, ge=0)
    feed_open_timeout_seconds: float = Field(default=10.0, gt=0)
    # the bounded queue between the socket and the normaliser
    feed_queue_size: int = Field(default=10_000, ge=1)

    @field_validator("backpack_ws_url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"BACKPACK_WS_URL must be a ws:// or wss:// URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _fake_needs_local_url(self) -> PoolerSettings:
        if self.feed == "fake" and self.backpack_ws_url == LIVE_URL:
            raise ValueError("FEED=fake needs BACKPACK_WS_URL set to the fake server, e.g. ws://127.0.0.1:9103")
        if self.feed_backoff_max_ms < self.feed_backoff_initial_ms:
            raise ValueError("FEED_BACKOFF_MAX_MS must be >= FEED_BACKOFF_INITIAL_MS")
        return self
