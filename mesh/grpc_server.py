"""A grpc.aio server with what every internal gRPC service needs: `grpc.health.v1` health, server
reflection (so operators can use grpcurl), keepalive, and graceful shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

log = logging.getLogger(__name__)

SERVER_OPTIONS = [
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_receive_message_length", 8 << 20),
]


@dataclass(frozen=True)
class ServiceBinding:
    """One servicer: its full name (e.g. `exness.engine.v1.EngineService`) and how to register it."""

    name: str
    register: Callable[[grpc.aio.Server], None]


class GrpcServer:
    """Owns the aio server and its health servicer; `port` is the bound port (useful with port 0)."""

    def __init__(self, bindings: Iterable[ServiceBinding], address: str) -> None:
        self.bindings = list(bindings)
        self.server = grpc.aio.server(options=SERVER_OPTIONS)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        for binding in self.bindings:
            binding.register(self.server)
        names = [b.name for b in self.bindings]
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server)
        self.port = self.server.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"cannot bind gRPC server to {address}")

    async def start(self) -> None:
        await self.server.start()
        log.info("gRPC server listening", extra={"port": self.port, "services": [b.name for b in self.bindings]})

    async def set_serving(self, serving: bool) -> None:
        """Health of the whole server ("") and of each service."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ["", *(b.name for b in self.bindings)]:
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        """Report NOT_SERVING, refuse new calls and let in-flight ones finish within `grace` seconds."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        log.info("gRPC server stopped")


async def wait_for_shutdown_signal() -> signal.Signals:
    """Block until SIGTERM or SIGINT arrives; returns which one.

    The handlers stay installed for the rest of the loop's life: a second signal during the graceful
    shutdown (an impatient Ctrl-C, a supervisor repeating SIGTERM) is logged and ignored instead of
    raising KeyboardInterrupt wherever the code happens to be, e.g. halfway through applying a command.
    SIGKILL remains the way to stop a process at once; recovery handles that."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def on_signal(sig: signal.Signals) -> None:
        if received.done():
            log.warning("already shutting down; signal ignored (SIGKILL stops at once)", extra={"signal": sig.name})
        else:
            received.set_result(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    sig = await received
    log.info("shutdown signal received", extra={"signal": sig.name})
    return sig
