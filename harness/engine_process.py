"""Start the engine (`python -m engine`) as a separate process on free loopback ports, for tests and
benchmarks.

    proc, address = start_engine({"REDIS_URL": ..., "STREAM_KEY": f"{key_prefix}stream:engine",
                                  "DATABASE_URL": postgres_url, "MONGODB_URL": mongodb_url,
                                  "MONGODB_DATABASE": mongo_database}, artifacts_dir)
    ...
    proc.stop()   # SIGTERM: the engine flushes trades, snapshots and exits

Unset names get test-friendly values: DEAD_LETTER_STREAM and the lease follow STREAM_KEY's prefix, the
lease TTL is short (takeover in about a second), snapshots come every 2 s."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from harness.processes import ManagedProcess, free_port, wait_serving


def engine_env(env: dict[str, str]) -> dict[str, str]:
    """`env` completed with free ports and test defaults (what start_engine runs the process with)."""
    stream_key = env.get("STREAM_KEY", "stream:engine")
    defaults = {
        "ENGINE_BIND_HOST": "127.0.0.1",
        "ENGINE_GRPC_PORT": str(free_port()),
        "ENGINE_METRICS_PORT": str(free_port()),
        "ENGINE_INSTANCE_NAME": f"engine-{uuid.uuid4().hex[:6]}",
        "DEAD_LETTER_STREAM": f"{stream_key}:dead",
        "LEASE_TTL_MS": "1500",
        "SNAPSHOT_INTERVAL_SECONDS": "2",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "SHUTDOWN_GRACE_SECONDS": "10",
    }
    return {**defaults, **env}


def start_engine(
    env: dict[str, str], log_dir: Path, *, wait: bool = True, timeout: float = 60.0
) -> tuple[ManagedProcess, str]:
    """Start `python -m engine`; with `wait`, return once health is SERVING. Returns (process, "host:port")."""
    full_env = engine_env(env)
    address = f"127.0.0.1:{full_env['ENGINE_GRPC_PORT']}"
    log_path = Path(log_dir) / f"{full_env['ENGINE_INSTANCE_NAME']}-{full_env['ENGINE_GRPC_PORT']}.log"
    proc = ManagedProcess([sys.executable, "-m", "engine"], log_path, env=full_env, name="engine").start()
    if wait:
        try:
            wait_serving(address, proc, timeout)
        except BaseException:
            proc.stop()
            raise
    return proc, address
