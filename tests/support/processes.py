"""Starting and stopping helper server processes (SecantusDB, the services themselves) in tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.net import free_port, wait_listening

BIN_DIR = Path(sys.executable).parent


class ManagedProcess:
    """A child process in its own process group, with its output captured to a log file."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        log.close()
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit within `timeout`; returns the exit code."""
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


def start_secantus(log_dir: Path) -> tuple[ManagedProcess, str]:
    """A throwaway in-memory MongoDB-protocol server on a free loopback port; returns it and its URL."""
    port = free_port()
    proc = ManagedProcess(
        [str(BIN_DIR / "secantusd-py"), "--host", "127.0.0.1", "--port", str(port),
         "--storage-path", ":memory:", "--log-level", "WARNING"],
        log_dir / "secantus.log",
    ).start()
    try:
        wait_listening("127.0.0.1", port, timeout=60, what="SecantusDB")
    except TimeoutError:
        proc.stop()
        raise
    return proc, f"mongodb://127.0.0.1:{port}"


def wait_http_ok(url: str, proc: ManagedProcess, timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200; fails at once if `proc` exits, and shows its log on a timeout."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.proc is not None and proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.proc.returncode}:\n{proc.output()[-4000:]}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready within {timeout}s (last: {last})\n{proc.output()[-4000:]}")
