"""A server built by mesh's factory answers grpc.health.v1, lists its services through reflection (the
protocol grpcurl speaks) and shuts down gracefully on SIGTERM. The server runs as its own process."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.polling import poll_until
from tests.support.grpc_reflection_client import call_unary, list_services
from tests.support.net import free_port, wait_listening
from tests.support.processes import ManagedProcess

ADMIN = "exness.engine.v1.EngineAdminService"


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[ManagedProcess, str]]:
    port = free_port()
    proc = ManagedProcess(
        [sys.executable, "-m", "tests.support.demo_grpc_server", str(port)], tmp_path / "demo.log"
    ).start()
    wait_listening("127.0.0.1", port, what="demo gRPC server")
    yield proc, f"127.0.0.1:{port}"
    proc.stop()


def test_health_reports_serving_for_the_server_and_each_service(demo_server: tuple[ManagedProcess, str]) -> None:
    _, address = demo_server
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", ADMIN):
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5, wait_for_ready=True)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as missing:
            stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_services_and_calls_a_method_like_grpcurl(demo_server: tuple[ManagedProcess, str]) -> None:
    _, address = demo_server
    assert list_services(address) == sorted(
        [ADMIN, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"]
    )
    status = call_unary(address, f"{ADMIN}/GetStatus")
    assert status == {"instanceName": "demo", "leader": True, "streamLag": "3"}


def test_sigterm_shuts_down_gracefully(demo_server: tuple[ManagedProcess, str]) -> None:
    proc, _ = demo_server
    assert proc.stop(timeout=10) == 0
    assert "STOPPED CLEANLY" in proc.output()


def test_a_second_signal_during_shutdown_is_ignored(demo_server: tuple[ManagedProcess, str]) -> None:
    proc, _ = demo_server
    assert proc.proc is not None
    proc.proc.send_signal(signal.SIGTERM)
    poll_until(lambda: "SHUTTING DOWN" in proc.output(), "the server to start shutting down", 10, interval=0.02)
    proc.proc.send_signal(signal.SIGINT)
    assert proc.proc.wait(timeout=10) == 0
    assert "STOPPED CLEANLY" in proc.output()
    assert "signal ignored" in proc.output()
