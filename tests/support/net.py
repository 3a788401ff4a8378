"""Loopback ports and readiness waits for tests: live in `harness.processes` (benchmarks use them too)."""

from harness.processes import free_port, host_port, is_listening, wait_listening

__all__ = ["free_port", "host_port", "is_listening", "wait_listening"]
