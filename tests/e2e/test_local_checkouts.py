"""Two clones of the repository on one machine, each running `make up` in turn (scripts/up.sh) against the
machine's Redis and PostgreSQL: each serves a signup and a trade over HTTP from state of its own, stops on
SIGINT (Ctrl-C) leaving nothing it started running, and `make reset` in one wipes its state and nothing of
the other's. The engines snapshot and trim their streams every second, so a clone that read the other's
stream (a log trimmed past a snapshot it does not have) would refuse to lead.

The clones share this checkout's .venv and node_modules through symbolic links (bootstrap uses a linked
one as it is), with this checkout's dependency files copied in so the install stamps match."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from harness.polling import poll_until
from tests.support.net import free_port, is_listening

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DEPENDENCY_FILES = ("pyproject.toml", "package.json", "package-lock.json", "requirements")
# settings a developer's shell (or the test run) may carry that would pick the clone's state for it
INHERITED = (
    "STREAM_KEY",
    "PRICE_CHANNEL",
    "CANDLE_CHANNEL",
    "DEAD_LETTER_STREAM",
    "DATABASE_URL",
    "MONGODB_URL",
    "MONGODB_DATABASE",
    "EXNESS_DATA_DIR",
    "LOCAL_MONGO_PORT",
    "JWT_SECRET",
    "SERVICES_STARTED_FILE",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
)
STARTUP_SECONDS = 180


def make_clone(root: Path, name: str) -> Path:
    clone = root / name
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    for item in DEPENDENCY_FILES:
        source = REPO / item
        if source.is_dir():
            shutil.rmtree(clone / item, ignore_errors=True)
            shutil.copytree(source, clone / item, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, clone / item)
    for shared in (".venv", "node_modules"):
        (clone / shared).symlink_to(REPO / shared, target_is_directory=True)
    return clone


@dataclass
class Checkout:
    path: Path
    redis_url: str
    gateway_port: int = 0
    ports: tuple[int, ...] = ()
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.path.parent / f"{self.path.name}-make.log"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}/api/v1"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in INHERITED}
        return {
            **env,
            "CI": "true",
            "REDIS_URL": self.redis_url,
            "POSTGRES_ADMIN_URL": ADMIN_URL,
            "FEED": "sim",
            "SIM_SEED": "1",
            "LOG_FORMAT": "text",
            "SNAPSHOT_INTERVAL_SECONDS": "1",
            "SNAPSHOT_KEEP": "1",
        }

    def make(self, target: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "-s", target],
            cwd=self.path,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def up(self, **extra_env: str) -> None:
        gateway, grpc, metrics, pooler, mongo, candles, candle_metrics = (free_port() for _ in range(7))
        self.gateway_port, self.ports = gateway, (gateway, grpc, metrics, pooler, mongo, candles, candle_metrics)
        env = {
            **self.env(),
            "GATEWAY_PORT": str(gateway),
            "ENGINE_GRPC_PORT": str(grpc),
            "ENGINE_METRICS_PORT": str(metrics),
            "POOLER_HTTP_PORT": str(pooler),
            "CANDLES_GRPC_PORT": str(candles),
            "CANDLES_METRICS_PORT": str(candle_metrics),
            "LOCAL_MONGO_PORT": str(mongo),
            **extra_env,
        }
        with self.log.open("ab") as log:
            # its own session, with SIGINT at its default as in a terminal, so a group SIGINT is a Ctrl-C
            self.proc = subprocess.Popen(
                ["make", "up"],
                cwd=self.path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def ctrl_c(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=120)

    @property
    def checkout_id(self) -> str:
        return (self.path / ".data" / "checkout_id").read_text().strip()


def _processes_of(directory: Path) -> dict[int, str]:
    """Every process whose working directory or command line is inside `directory`, by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd == str(directory) or cwd.startswith(f"{directory}/") or str(directory) in cmdline:
            found[int(entry.name)] = f"{entry.name} (cwd {cwd}): {cmdline[:200]}"
    return found


def _wait_until_gone(checkout: Checkout) -> list[str]:
    """make exits as soon as it is interrupted; up.sh then stops what it started. Returns what remains."""

    def remaining() -> list[str]:
        left = list(_processes_of(checkout.path).values())
        return left + [f"port {port} still listening" for port in checkout.ports if is_listening("127.0.0.1", port)]

    try:
        poll_until(lambda: not remaining(), "every process and port of the checkout gone", 90, interval=0.2)
    except TimeoutError:
        return remaining()
    return []


def _serve_one_trade(checkout: Checkout) -> tuple[str, str]:
    """Sign a user up and open a position over HTTP; returns (email, order id)."""
    assert checkout.proc is not None
    email = f"checkout-{uuid.uuid4().hex[:8]}@example.com"
    proc = checkout.proc
    with httpx.Client(base_url=checkout.api, timeout=10) as client:
        token = ""

        def trade_served() -> str | None:
            nonlocal token
            if proc.poll() is not None:
                pytest.fail(f"make up exited with {proc.returncode}:\n{checkout.output()[-6000:]}")
            if not token:
                signup = client.post("/signup", json={"email": email, "password": "correct horse 1"})
                if signup.status_code != 201:
                    return None
                token = signup.json()["token"]
            order = client.post(
                "/trade/create",
                headers={"Authorization": f"Bearer {token}"},
                json={"asset": "BTC_USDC", "side": "LONG", "quantity": "0.01", "leverage": 5},
            )
            if order.status_code != 201:
                return None
            order_id: str = order.json()["trade"]["id"]
            opened = client.get("/trade/open", headers={"Authorization": f"Bearer {token}"})
            assert opened.status_code == 200, opened.text
            assert [o["id"] for o in opened.json()["orders"]] == [order_id]
            return order_id

        try:
            # httpx.HTTPError: not listening yet
            served = poll_until(
                trade_served, "a trade served", STARTUP_SECONDS, interval=0.2, ignore=(httpx.HTTPError,)
            )
        except TimeoutError as exc:
            pytest.fail(f"{exc}:\n{checkout.output()[-6000:]}")
        return email, served


def _signin_status(checkout: Checkout, email: str) -> int:
    with httpx.Client(base_url=checkout.api, timeout=10) as client:
        return client.post("/signin", json={"email": email, "password": "correct horse 1"}).status_code


async def _redis_keys(url: str, prefix: str) -> list[bytes]:
    client = aioredis.Redis.from_url(url)
    try:
        return [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    finally:
        await client.aclose()


async def _database_exists(name: str) -> bool:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def _clean_up(*checkouts: Checkout) -> None:
    for checkout in checkouts:
        if checkout.proc is not None and checkout.proc.poll() is None:
            os.killpg(checkout.proc.pid, signal.SIGTERM)
            checkout.proc.wait(timeout=60)
        if _wait_until_gone(checkout):
            # a failed run must not leave its servers to the next test (they live in this clone only)
            for pid in _processes_of(checkout.path):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if (checkout.path / ".data").exists():
            checkout.make("reset")


@pytest.fixture
def checkouts(tmp_path: Path, redis_url: str) -> Iterator[tuple[Checkout, Checkout]]:
    pair = (Checkout(make_clone(tmp_path, "first"), redis_url), Checkout(make_clone(tmp_path, "second"), redis_url))
    try:
        yield pair
    finally:
        _clean_up(*pair)


def test_two_checkouts_one_after_the_other_each_serve_from_their_own_state_and_reset_alone(
    checkouts: tuple[Checkout, Checkout],
    redis_url: str,
) -> None:
    first, second = checkouts
    users = []
    for checkout in (first, second):
        checkout.up()
        users.append(_serve_one_trade(checkout))
        if checkout is second:
            # the first checkout's user lives in the first checkout's database only
            assert _signin_status(second, users[0][0]) == 401
        checkout.ctrl_c()
        left = _wait_until_gone(checkout)
        assert not left, f"`make up` left these running after Ctrl-C: {left}\n{checkout.output()[-4000:]}"
        # every service stopped by itself in time (the engine's final snapshot needs its MongoDB server,
        # which the Ctrl-C must not have stopped under it): honcho had to kill nothing
        assert "SIGKILL" not in checkout.output(), checkout.output()[-4000:]
        assert not (checkout.path / ".data" / "run" / "started").exists()

    ids = first.checkout_id, second.checkout_id
    assert ids[0] != ids[1]
    for checkout_id in ids:
        assert asyncio.run(_redis_keys(redis_url, f"exness:{checkout_id}:")), "the checkout's stream is in Redis"
        assert asyncio.run(_database_exists(f"exness_{checkout_id}"))

    reset = first.make("reset")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert asyncio.run(_redis_keys(redis_url, f"exness:{ids[0]}:")) == []
    assert not asyncio.run(_database_exists(f"exness_{ids[0]}"))
    assert not (first.path / ".data").exists()
    # nothing of the second checkout's went with it
    assert asyncio.run(_redis_keys(redis_url, f"exness:{ids[1]}:"))
    assert asyncio.run(_database_exists(f"exness_{ids[1]}"))
    assert second.checkout_id == ids[1] and (second.path / ".data" / "mongo" / "db").exists()


def test_a_failed_start_stops_every_server_it_started_even_redis(tmp_path: Path, redis_url: str) -> None:
    """No Redis answers at REDIS_URL, so `make up` starts one (and a SecantusDB); the engine then refuses its
    settings and exits, honcho stops the others, and up.sh must stop both servers before it exits."""
    redis_port = free_port()
    checkout = Checkout(make_clone(tmp_path, "failing"), f"redis://127.0.0.1:{redis_port}/0")
    try:
        checkout.up(MAX_LEVERAGE="0")
        assert checkout.proc is not None
        assert checkout.proc.wait(timeout=STARTUP_SECONDS) != 0
        output = checkout.output()
        assert f"starting redis-server on 127.0.0.1:{redis_port}" in output and "starting SecantusDB" in output
        # a Redis at a machine port serves every checkout: its log must not live in (and go with) this one
        redis_dir = output.split(f"starting redis-server on 127.0.0.1:{redis_port} (data in ", 1)[1].split(")")[0]
        assert not Path(redis_dir).resolve().is_relative_to(checkout.path.resolve()), redis_dir
        checkout.ports += (redis_port,)
        left = _wait_until_gone(checkout)
        assert not left, f"a failed `make up` left these running: {left}\n{output[-4000:]}"
    finally:
        _clean_up(checkout)
