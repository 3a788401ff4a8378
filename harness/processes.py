"""Child processes for tests and benchmarks (`ManagedProcess`), free loopback ports, SecantusDB, and the
readiness checks `poll_until` waits on (a port listening, an HTTP 200, gRPC health SERVING)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.polling import NotYet, poll_until

BIN_DIR = Path(sys.executable).parent


class ManagedProcess:
    """A child process in its own process group, with its output captured to a log file."""

    def __init__(
        self, args: list[str], log_path: Path, env: dict[str, str] | None = None, name: str | None = None
    ) -> None:
        self.args = args
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.name = name or Path(args[0]).name
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM to its process group, then SIGKILL if it does not exit within `timeout`; returns the exit
        code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        socket.create_connection((host, port), timeout).close()
    except OSError:
        return False
    return True


# ---- checks for poll_until


def listening(port: int, host: str = "127.0.0.1") -> Callable[[], bool]:
    """Holds once something accepts TCP connections on host:port."""
    return lambda: is_listening(host, port)


def http_ok(url: str, predicate: Callable[[httpx.Response], bool] = lambda _: True) -> Callable[[], bool]:
    """Holds once GET `url` answers 200 (and `predicate` accepts the response)."""

    def check() -> bool:
        try:
            response = httpx.get(url, timeout=2)
        except httpx.HTTPError as exc:
            raise NotYet(repr(exc)) from exc
        if response.status_code != 200 or not predicate(response):
            raise NotYet(f"{response.status_code} {response.text[:200]}")
        return True

    return check


def engine_serving(address: str) -> Callable[[], bool]:
    """Holds once grpc.health.v1 at `address` reports the whole server SERVING (the engine leads and has
    caught up)."""

    def check() -> bool:
        with grpc.insecure_channel(address) as channel:
            try:
                status = (
                    health_pb2_grpc.HealthStub(channel)
                    .Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    .status
                )
            except grpc.RpcError as exc:
                raise NotYet(exc.code().name) from exc
        if status != health_pb2.HealthCheckResponse.SERVING:
            raise NotYet(health_pb2.HealthCheckResponse.ServingStatus.Name(status))
        return True

    return check


# ---- the named waits most callers want


def wait_listening(
    host: str, port: int, timeout: float = 30.0, what: str = "server", proc: ManagedProcess | None = None
) -> None:
    poll_until(listening(port, host), f"{what} listening on {host}:{port}", timeout, proc)


def wait_http_ok(url: str, proc: ManagedProcess | None = None, timeout: float = 60.0) -> None:
    poll_until(http_ok(url), f"200 from {url}", timeout, proc)


def wait_serving(address: str, proc: ManagedProcess | None = None, timeout: float = 60.0) -> None:
    poll_until(engine_serving(address), f"engine at {address} SERVING", timeout, proc)


def start_secantus(log_dir: Path) -> tuple[ManagedProcess, str]:
    """A throwaway in-memory MongoDB-protocol server on a free loopback port; returns it and its URL."""
    port = free_port()
    proc = ManagedProcess(
        [
            str(BIN_DIR / "secantusd-py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            ":memory:",
            "--log-level",
            "WARNING",
        ],
        log_dir / "secantus.log",
        name="secantus",
    ).start()
    try:
        wait_listening("127.0.0.1", port, timeout=60, what="SecantusDB", proc=proc)
    except BaseException:
        proc.stop()
        raise
    return proc, f"mongodb://127.0.0.1:{port}"
