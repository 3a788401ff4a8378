"""Start the candle builder (`python -m candles`) as a separate process on free loopback ports, for tests
and benchmarks; returns once its gRPC health is SERVING.

    proc, address = start_candles({"REDIS_URL": ..., "STREAM_KEY": ..., "DATABASE_URL": ...,
                                   "CANDLES_BACKFILL_URL": ""}, artifacts_dir)

Unset names get test-friendly values: free ports, CANDLE_CHANNEL beside STREAM_KEY, no backfill."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.processes import ManagedProcess, free_port, wait_serving


def candles_env(env: dict[str, str]) -> dict[str, str]:
    stream_key = env.get("STREAM_KEY", "stream:engine")
    prefix = stream_key.removesuffix("stream:engine")
    defaults = {
        "CANDLES_BIND_HOST": "127.0.0.1",
        "CANDLES_GRPC_PORT": str(free_port()),
        "CANDLES_METRICS_PORT": str(free_port()),
        "CANDLE_CHANNEL": f"{prefix}ws:candle:update",
        "CANDLES_BACKFILL_URL": "",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    return {**defaults, **env}


def start_candles(env: dict[str, str], log_dir: Path, timeout: float = 60.0) -> tuple[ManagedProcess, str]:
    full_env = candles_env(env)
    address = f"127.0.0.1:{full_env['CANDLES_GRPC_PORT']}"
    log_path = Path(log_dir) / f"candles-{full_env['CANDLES_GRPC_PORT']}.log"
    proc = ManagedProcess([sys.executable, "-m", "candles"], log_path, env=full_env, name="candles").start()
    try:
        wait_serving(address, proc, timeout)
    except BaseException:
        proc.stop()
        raise
    return proc, address
