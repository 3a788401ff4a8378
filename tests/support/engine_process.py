"""The engine as a process for tests: lives in `harness.engine_process` (benchmarks use it too)."""

from harness.engine_process import engine_env, start_engine
from harness.processes import wait_serving

__all__ = ["engine_env", "start_engine", "wait_serving"]
