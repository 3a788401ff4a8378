"""Start the gateway (`python -m gateway`) as a separate process on a free loopback port, for tests and
benchmarks; it talks to an engine started with `harness.engine_process`."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from harness.processes import ManagedProcess, free_port, wait_http_ok

JWT_SECRET = "test-secret-" + "x" * 32


def start_gateway(
    env: dict[str, str], log_dir: Path, *, wait: bool = True, timeout: float = 60.0
) -> tuple[ManagedProcess, str]:
    """Start `python -m gateway` on a free loopback port; with `wait`, return once /readyz says 200."""
    port = free_port()
    full_env = {
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "JWT_SECRET": JWT_SECRET,
        "AUTH_RATE_LIMIT": "off",
        "SIGNIN_EMAIL_RATE_LIMIT": "off",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "GATEWAY_ID": f"gw-{uuid.uuid4().hex[:8]}",
        "SHUTDOWN_GRACE_SECONDS": "5",
        **env,
    }
    proc = ManagedProcess(
        [sys.executable, "-m", "gateway"], log_dir / f"gateway-{port}.log", env=full_env, name="gateway"
    ).start()
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
