"""Running the real gateway (`python -m gateway`) next to a real engine process for tests: the process
start-up and the price feeding live in `harness` (benchmarks use them too); `Stack` is one engine and one
gateway together."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.gateway_process import JWT_SECRET, start_gateway, wait_ready
from harness.prices import Quote, feed_engine, price_update, publish_prices
from harness.processes import ManagedProcess

__all__ = [
    "JWT_SECRET",
    "Quote",
    "Stack",
    "feed_engine",
    "price_update",
    "publish_prices",
    "start_gateway",
    "wait_ready",
]


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
