"""Running the real gateway (`python -m gateway`) next to a real engine process for tests and benchmarks,
and feeding prices the way the pooler does (PRICE_UPDATE commands on the stream, PriceUpdate on pub/sub)."""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2

from mesh.stream_codec import encode_command, encode_price_update
from tests.support.net import free_port
from tests.support.processes import ManagedProcess, wait_http_ok

JWT_SECRET = "test-secret-" + "x" * 32


def start_gateway(env: dict[str, str], log_dir: Path, *, wait: bool = True,
                  timeout: float = 60.0) -> tuple[ManagedProcess, str]:
    """Start `python -m gateway` on a free loopback port; with `wait`, return once /readyz says 200."""
    port = free_port()
    full_env = {"GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port), "JWT_SECRET": JWT_SECRET,
                "AUTH_RATE_LIMIT": "off", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
                "GATEWAY_ID": f"gw-{uuid.uuid4().hex[:8]}", "SHUTDOWN_GRACE_SECONDS": "5", **env}
    proc = ManagedProcess([sys.executable, "-m", "gateway"], log_dir / f"gateway-{port}.log", env=full_env).start()
    base_url = f"http://127.0.0.1:{port}"
    if wait:
        try:
            wait_ready(base_url, proc, timeout)
        except BaseException:
            proc.stop()
            raise
    return proc, base_url


def wait_ready(base_url: str, proc: ManagedProcess, timeout: float = 60.0) -> None:
    wait_http_ok(f"{base_url}/readyz", proc, timeout)


@dataclass(frozen=True)
class Quote:
    asset: str
    buy: int
    sell: int
    decimal: int = 4


def price_update(quotes: list[Quote], published_at_ms: int | None = None) -> market_pb2.PriceUpdate:
    now = published_at_ms or int(time.time() * 1000)
    return market_pb2.PriceUpdate(
        quotes=[market_pb2.Quote(asset=q.asset, buy_price=q.buy, sell_price=q.sell, decimal=q.decimal,
                                 venue_time_ms=now) for q in quotes],
        published_at_ms=now, source="test")


async def feed_engine(redis: aioredis.Redis, stream_key: str, quotes: list[Quote]) -> None:
    """What the pooler does for the engine: a PRICE_UPDATE Command on the stream."""
    command = commands_pb2.Command(request_id=str(uuid.uuid4()), price_update=price_update(quotes))
    await redis.xadd(stream_key, encode_command(command))  # type: ignore[arg-type]


async def publish_prices(redis: aioredis.Redis, channel: str, update: market_pb2.PriceUpdate) -> None:
    """What the pooler does for browsers: a PriceUpdate on pub/sub."""
    await redis.publish(channel, encode_price_update(update))


@dataclass
class Stack:
    """One engine and one gateway process sharing a namespaced stream."""
    engine: ManagedProcess
    engine_addr: str
    gateway: ManagedProcess
    base_url: str
    stream_key: str
    price_channel: str
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        self.gateway.stop()
        self.engine.stop()
