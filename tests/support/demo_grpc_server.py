"""A process built with mesh's gRPC server factory, for testing the factory itself: it serves a tiny
EngineAdminService implementation (fixed answers) plus health and reflection, and exits cleanly on
SIGTERM. Usage: python -m tests.support.demo_grpc_server PORT"""

from __future__ import annotations

import asyncio
import sys

import grpc
from exness.engine.v1 import admin_service_pb2, admin_service_pb2_grpc

from mesh.grpc_server import GrpcServer, ServiceBinding, wait_for_shutdown_signal
from mesh.logging import configure_logging


class FixedAdmin(admin_service_pb2_grpc.EngineAdminServiceServicer):
    async def GetStatus(
        self, request: admin_service_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> admin_service_pb2.GetStatusResponse:
        return admin_service_pb2.GetStatusResponse(instance_name="demo", leader=True, stream_lag=3)


async def main(port: int) -> None:
    configure_logging("demo", fmt="text")
    server = GrpcServer(
        [
            ServiceBinding(
                admin_service_pb2.DESCRIPTOR.services_by_name["EngineAdminService"].full_name,
                lambda s: admin_service_pb2_grpc.add_EngineAdminServiceServicer_to_server(FixedAdmin(), s),
            )
        ],
        f"127.0.0.1:{port}",
    )
    await server.start()
    await server.set_serving(True)
    print("READY", flush=True)
    await wait_for_shutdown_signal()
    print("SHUTTING DOWN", flush=True)
    # a shutdown that takes a moment, so a test can send a second signal into it
    await asyncio.sleep(0.5)
    await server.stop(grace=2)
    print("STOPPED CLEANLY", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
