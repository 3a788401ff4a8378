"""Helper server processes for tests: live in `harness.processes` (benchmarks use them too)."""

from harness.processes import BIN_DIR, ManagedProcess, start_secantus, wait_http_ok

__all__ = ["BIN_DIR", "ManagedProcess", "start_secantus", "wait_http_ok"]
