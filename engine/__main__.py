"""`python -m engine`: the engine process. gRPC (EngineService, EngineAdminService, health, reflection)
on ENGINE_GRPC_PORT, Prometheus metrics on ENGINE_METRICS_PORT, the consumer loop in between; SIGTERM
stops reading, finishes the batch, flushes closed trades, snapshots and stops gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from engine.config import EngineSettings
from engine.lifecycle import Engine
from engine.metrics import EngineMetrics
from engine.refusals import RefuseToLead
from engine.servicers import bindings
from mesh.grpc_server import GrpcServer, wait_for_shutdown_signal
from mesh.settings import load_settings

log = logging.getLogger("engine")


async def serve(settings: EngineSettings) -> int:
    metrics = EngineMetrics()
    metrics.serve(settings.engine_bind_host, settings.engine_metrics_port)
    engine = Engine(settings, metrics)
    server = GrpcServer(bindings(engine), f"{settings.engine_bind_host}:{settings.engine_grpc_port}")
    engine.on_serving_changed = server.set_serving
    await server.start()
    await server.set_serving(False)
    log.info("engine started", extra={
        "instance": settings.engine_instance_name, "grpc_port": server.port, "stream": settings.stream_key,
        "metrics_port": settings.engine_metrics_port,
    })  # fmt: skip
    engine_task = asyncio.create_task(engine.run(), name="engine")
    signal_task = asyncio.create_task(wait_for_shutdown_signal(), name="signals")
    await asyncio.wait({engine_task, signal_task}, return_when=asyncio.FIRST_COMPLETED)
    engine.stop()
    exit_code = 0
    try:
        await asyncio.wait_for(engine_task, timeout=settings.shutdown_grace_seconds + 60)
    except RefuseToLead:
        # already logged CRITICAL with what to do; a traceback would only bury that line
        exit_code = 2
    except Exception:
        log.exception("engine loop failed")
        exit_code = 1
    signal_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await signal_task
    await server.stop(grace=min(settings.shutdown_grace_seconds, 5.0))
    await engine.close()
    log.info("engine stopped", extra={"exit_code": exit_code})
    return exit_code


def main() -> None:
    settings = load_settings(EngineSettings, "engine")
    sys.exit(asyncio.run(serve(settings)))


if __name__ == "__main__":
    main()
