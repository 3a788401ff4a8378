"""A grpc.aio server with what every internal gRPC service needs: `grpc.health.v1` health, server
reflection (so operators can use grpcurl), keepalive, graceful shutdown on SIGTERM/SIGINT, and
INVALID_ARGUMENT for a request that is not the method's message (grpcio would answer UNKNOWN and log an
error with a traceback for every such call)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

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
class _Undecodable:
    """What a request that failed to parse becomes, so the method can refuse it with a clear status."""

    error: str


async def _refuse(request: _Undecodable, context: grpc.aio.ServicerContext) -> None:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the request is not this method's message: {request.error}")


class RefuseUndecodableRequests(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps each method so bytes that do not parse as its request message are refused with
    INVALID_ARGUMENT: before a unary-request method runs, or when a streaming one reads that message."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        parse = handler.request_deserializer

        def tolerant(data: bytes) -> Any:
            try:
                return parse(data)
            except Exception as exc:  # any parse failure is the caller's
                return _Undecodable(f"{type(exc).__name__}: {exc}"[:200])

        serialize = handler.response_serializer
        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(
                _reading(handler.stream_stream), request_deserializer=tolerant, response_serializer=serialize
            )
        if handler.request_streaming:  # no such method here; left as grpcio serves it
            return handler
        if not handler.response_streaming:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary), request_deserializer=tolerant, response_serializer=serialize
            )
        return grpc.unary_stream_rpc_method_handler(
            _streaming(handler.unary_stream), request_deserializer=tolerant, response_serializer=serialize
        )


def _unary(behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, _Undecodable):
            await _refuse(request, context)
        return await behavior(request, context)

    return checked


def _reading(behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    """A bidirectional method (server reflection) whose requests are checked as it reads them."""

    async def checked(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async def parsed() -> AsyncIterator[Any]:
            async for request in requests:
                if isinstance(request, _Undecodable):
                    await _refuse(request, context)
                yield request

        async for item in behavior(parsed(), context):
            yield item

    return checked


def _streaming(behavior: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(behavior):

        async def generate(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if isinstance(request, _Undecodable):
                await _refuse(request, context)
            async for item in behavior(request, context):
                yield item

        return generate

    # a method that answers through context.write (grpc_health's Watch)
    async def write(request: Any, context: grpc.aio.ServicerContext) -> None:
        if isinstance(request, _Undecodable):
            await _refuse(request, context)
        await behavior(request, context)

    return write


@dataclass(frozen=True)
class ServiceBinding:
    """One servicer: its full name (e.g. `exness.engine.v1.EngineService`) and how to register it."""

    name: str
    register: Callable[[grpc.aio.Server], None]


class GrpcServer:
    """Owns the aio server and its health servicer; `port` is the bound port (useful with port 0)."""

    def __init__(self, bindings: Iterable[ServiceBinding], address: str) -> None:
        self.bindings = list(bindings)
        self.server = grpc.aio.server(options=SERVER_OPTIONS, interceptors=[RefuseUndecodableRequests()])
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
