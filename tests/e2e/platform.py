"""The whole mesh as separate OS processes for end-to-end tests: the fake Backpack server (the price
source, driven through its HTTP control port), the pooler (FEED=fake), the engine, the candle builder
(backfilling from the fake's klines) and the gateway, all on free loopback ports, against the real Redis,
PostgreSQL and MongoDB-protocol servers."""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.candles_process import start_candles
from tests.support.engine_process import start_engine
from tests.support.net import free_port, wait_listening
from tests.support.processes import ManagedProcess, wait_http_ok


@dataclass
class Platform:
    log_dir: Path
    common_env: dict[str, str]
    engine_env: dict[str, str]
    gateway_port: int = field(default_factory=free_port)
    fake_port: int = field(default_factory=free_port)
    pooler_port: int = field(default_factory=free_port)
    fake: ManagedProcess | None = None
    pooler: ManagedProcess | None = None
    engine: ManagedProcess | None = None
    engine_address: str = ""
    gateway: ManagedProcess | None = None
    candles: ManagedProcess | None = None
    candles_port: int = field(default_factory=free_port)
    jwt_secret: str = field(default_factory=lambda: uuid.uuid4().hex * 2)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}/api/v1"

    @property
    def ws_prices(self) -> str:
        return f"ws://127.0.0.1:{self.gateway_port}/ws/prices"

    def start_fake(self) -> None:
        self.fake = ManagedProcess(
            [sys.executable, "-m", "pooler.fake_backpack", "--port", str(self.fake_port), "--seed", "7"],
            self.log_dir / "fake_backpack.log",
        ).start()
        wait_listening("127.0.0.1", self.fake_port, what="fake Backpack")
        # the test sets every price itself: no random path
        self.control("pause")

    def control(self, action: str, **query: str) -> dict[str, object]:
        response = httpx.get(f"http://127.0.0.1:{self.fake_port}/control/{action}", params=query, timeout=5)
        response.raise_for_status()
        result: dict[str, object] = response.json()
        return result

    def start_pooler(self) -> None:
        env = {
            **self.common_env,
            "FEED": "fake",
            "BACKPACK_WS_URL": f"ws://127.0.0.1:{self.fake_port}",
            "POOLER_HTTP_HOST": "127.0.0.1",
            "POOLER_HTTP_PORT": str(self.pooler_port),
            "PUBLISH_INTERVAL_MS": "100",
        }
        self.pooler = ManagedProcess([sys.executable, "-m", "pooler"], self.log_dir / "pooler.log", env).start()
        # its /healthz turns 200 only once quotes flow, and the test has not chosen any prices yet
        wait_listening("127.0.0.1", self.pooler_port, what="pooler health port")

    def start_engine(self) -> None:
        self.engine, self.engine_address = start_engine({**self.common_env, **self.engine_env}, self.log_dir)
        # the restarted engine must come back on the same address, where the gateway looks for it
        self.engine_env["ENGINE_GRPC_PORT"] = self.engine_address.rsplit(":", 1)[1]

    def start_candles(self) -> None:
        env = {
            **self.common_env,
            "DATABASE_URL": self.engine_env["DATABASE_URL"],
            "CANDLES_GRPC_PORT": str(self.candles_port),
            "CANDLES_BACKFILL_URL": f"http://127.0.0.1:{self.fake_port}",
        }
        self.candles, _ = start_candles(env, self.log_dir)

    def start_gateway(self) -> None:
        env = {
            **self.common_env,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.gateway_port),
            "ENGINE_ADDR": self.engine_address,
            "CANDLES_ADDR": f"127.0.0.1:{self.candles_port}",
            "DATABASE_URL": self.engine_env["DATABASE_URL"],
            "JWT_SECRET": self.jwt_secret,
            "GATEWAY_ID": f"gw-{uuid.uuid4().hex[:6]}",
            "AUTH_RATE_LIMIT": "1000/minute",
            "ENGINE_REPLY_TIMEOUT_MS": "3000",
        }
        self.gateway = ManagedProcess([sys.executable, "-m", "gateway"], self.log_dir / "gateway.log", env).start()
        wait_http_ok(f"http://127.0.0.1:{self.gateway_port}/readyz", self.gateway)

    def stop(self) -> None:
        for proc in (self.gateway, self.candles, self.pooler, self.engine, self.fake):
            if proc is not None:
                proc.stop()
