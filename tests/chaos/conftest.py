"""Fixtures of the fault tests (`make chaos`): a private Redis with AOF on (`appendfsync always`) that a test
may kill and restart, the environment of engine processes wired to it, and the figures of every scenario
printed at the end of the session (and kept in the artifacts as chaos-report.jsonl)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.processes import ManagedProcess, free_port, wait_listening
from tests.chaos.verify import REPORT_FILE

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    """redis-server on a free loopback port, its AOF in a directory of its own."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: ManagedProcess | None = None

    def start(self) -> None:
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
                "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no"]  # fmt: skip
        self.proc = ManagedProcess(args, self.data_dir / "redis.log", name="redis").start()
        wait_listening("127.0.0.1", self.port, timeout=30, what="private Redis", proc=self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def chaos_prefix() -> str:
    return f"chaos{uuid.uuid4().hex[:8]}"


@pytest.fixture
def chaos_env(chaos_prefix: str, postgres_url: str, mongodb_url: str, mongo_database: str) -> dict[str, str]:
    """An engine's environment (REDIS_URL is the test's to add). Snapshots every second, and enough kept that
    the stream is never trimmed during a test: the checks replay it whole."""
    return {
        "STREAM_KEY": f"{chaos_prefix}:stream:engine",
        "DATABASE_URL": postgres_url,
        "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": mongo_database,
        "MAINTENANCE_MARGIN_RATE": "0.005",
        "SNAPSHOT_INTERVAL_SECONDS": "1",
        "SNAPSHOT_KEEP": "500",
        "LEASE_TTL_MS": "1500",
        "READ_BATCH_SIZE": "100",
    }


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reports = sorted(Path(terminalreporter.config._tmp_path_factory.getbasetemp()).glob(f"**/{REPORT_FILE}"))
    lines = [line for path in reports for line in path.read_text().splitlines()]
    if not lines:
        return
    terminalreporter.section("fault tests (docs/reliability.md)")
    for line in lines:
        figures = json.loads(line)
        terminalreporter.write_line(
            f"{figures['scenario']}: faults {figures['faults']}, operations {figures['operations_acknowledged']} "
            f"({figures['retries']} retries), entries {figures['stream_entries']}, closed trades "
            f"{figures['closed_trades']}, accounts {figures['accounts_reconciled']}, lost {figures['lost']}, "
            f"doubled {figures['doubled']}, pending orders {figures['orders']}, recovery {figures['recovery_seconds']} "
            f"{figures['extra'] or ''}"
        )
