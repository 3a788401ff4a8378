"""The whole platform as separate OS processes for benchmarks, on free loopback ports: the fake Backpack
server on its random price path (prices move), the pooler (FEED=fake), the engine, the gateway, and the
trivial FastAPI app (the ceiling) under the same uvicorn settings. It uses the real Redis and PostgreSQL
(a throwaway database, a namespaced stream) and MONGODB_URL or a throwaway SecantusDB.

Processes, free ports and readiness checks come from `harness`, the package tests use too (benchmarks
import no test module)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import jwt
import redis
from exness.engine.v1 import commands_pb2

from harness.polling import poll_until
from harness.processes import ManagedProcess, engine_serving, free_port, http_ok, listening, start_secantus
from mesh.stream_codec import encode_command

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "benchmark-password"


@dataclass
class Platform:
    """Start with start(), stop with stop() (idempotent; cleans the Redis keys and drops the database)."""

    workdir: Path
    auth_rate_limit: str = "1000000/minute"
    # create-order never closes: a run of several minutes opens more than the default 1,000 per account
    max_open_positions_per_account: int = 1_000_000
    # orders never fail for want of margin, however long the run
    starting_balance_cents: int = 10**13
    prefix: str = field(default_factory=lambda: f"bench:{uuid.uuid4().hex[:10]}:")
    database: str = field(default_factory=lambda: f"bench_{uuid.uuid4().hex[:10]}")
    jwt_secret: str = field(default_factory=lambda: uuid.uuid4().hex * 2)
    gateway_port: int = field(default_factory=free_port)
    ceiling_port: int = field(default_factory=free_port)
    engine_grpc_port: int = field(default_factory=free_port)
    engine_metrics_port: int = field(default_factory=free_port)
    fake_port: int = field(default_factory=free_port)
    pooler_port: int = field(default_factory=free_port)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    _database_created: bool = False

    @property
    def stream_key(self) -> str:
        return f"{self.prefix}stream:engine"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def ceiling_url(self) -> str:
        return f"http://127.0.0.1:{self.ceiling_port}"

    @property
    def engine_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.engine_metrics_port}/metrics"

    @property
    def database_url(self) -> str:
        return DATABASE_URL.rpartition("/")[0] + f"/{self.database}"

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> ManagedProcess:
        proc = ManagedProcess(args, self.workdir / f"{name}.log", env, name=name).start()
        self.processes[name] = proc
        return proc

    def start(self, progress: Callable[[str], None] = lambda _: None) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        asyncio.run(self._admin(f'CREATE DATABASE "{self.database}"'))
        self._database_created = True
        mongodb_url = os.environ.get("MONGODB_URL")
        if not mongodb_url:
            progress("starting SecantusDB (MongoDB protocol)")
            secantus, mongodb_url = start_secantus(self.workdir)
            self.processes["secantus"] = secantus
        common = {
            "REDIS_URL": REDIS_URL,
            "STREAM_KEY": self.stream_key,
            "PRICE_CHANNEL": f"{self.prefix}ws:price",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": self.database_url,
        }

        progress("starting the fake Backpack feed (random price path)")
        fake = self._spawn(
            "fake-backpack",
            [sys.executable, "-m", "pooler.fake_backpack", "--port", str(self.fake_port), "--seed", "7"],
        )
        poll_until(listening(self.fake_port), "fake Backpack", 30, fake)

        progress("starting the engine")
        engine = self._spawn(
            "engine",
            [sys.executable, "-m", "engine"],
            {
                **common,
                "MONGODB_URL": mongodb_url,
                "MONGODB_DATABASE": self.database,
                "ENGINE_BIND_HOST": "127.0.0.1",
                "ENGINE_GRPC_PORT": str(self.engine_grpc_port),
                "ENGINE_METRICS_PORT": str(self.engine_metrics_port),
                "ENGINE_INSTANCE_NAME": f"engine-{self.prefix.split(':')[1]}",
                "DEAD_LETTER_STREAM": f"{self.stream_key}:dead",
                "MAX_OPEN_POSITIONS_PER_ACCOUNT": str(self.max_open_positions_per_account),
            },
        )
        engine_address = f"127.0.0.1:{self.engine_grpc_port}"
        poll_until(engine_serving(engine_address), "engine SERVING", 90, engine)

        progress("starting the pooler")
        pooler = self._spawn(
            "pooler",
            [sys.executable, "-m", "pooler"],
            {
                **common,
                "FEED": "fake",
                "BACKPACK_WS_URL": f"ws://127.0.0.1:{self.fake_port}",
                "POOLER_HTTP_HOST": "127.0.0.1",
                "POOLER_HTTP_PORT": str(self.pooler_port),
            },
        )
        # /healthz turns 200 once quotes flow
        poll_until(http_ok(f"http://127.0.0.1:{self.pooler_port}/healthz"), "pooler quotes", 60, pooler)

        progress("starting the gateway")
        gateway = self._spawn(
            "gateway",
            [sys.executable, "-m", "gateway"],
            {
                **common,
                "GATEWAY_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(self.gateway_port),
                "ENGINE_ADDR": engine_address,
                "JWT_SECRET": self.jwt_secret,
                "GATEWAY_ID": f"gw-{self.prefix.split(':')[1]}",
                "AUTH_RATE_LIMIT": self.auth_rate_limit,
                "STARTING_BALANCE_CENTS": str(self.starting_balance_cents),
                # every benchmark socket comes from 127.0.0.1: the per-address cap would refuse all but 32
                "MAX_ACCOUNT_SOCKETS_PER_CLIENT": "100000",
            },
        )
        poll_until(http_ok(f"{self.gateway_url}/readyz"), "gateway /readyz", 60, gateway)
        # orders need the engine to hold a BTC quote
        poll_until(
            http_ok(f"{self.gateway_url}/api/v1/prices", lambda r: "BTC_USDC" in r.text),
            "BTC_USDC price in the engine",
            60,
            gateway,
        )

        progress("starting the trivial FastAPI app (ceiling)")
        ceiling = self._spawn(
            "ceiling",
            [sys.executable, "-m", "bench.ceiling_server", "--port", str(self.ceiling_port)],
            {"LOG_LEVEL": "WARNING"},
        )
        poll_until(listening(self.ceiling_port), "ceiling app", 60, ceiling)

    def signup(self, count: int, group: str, concurrency: int = 4) -> list[str]:
        """Sign up `count` traders named after `group` (bcrypt: the slow part) and return their tokens."""
        from concurrent.futures import ThreadPoolExecutor

        def one(index: int) -> str:
            with httpx.Client(base_url=f"{self.gateway_url}/api/v1", timeout=60) as client:
                response = client.post(
                    "/signup", json={"email": f"{group}-{index}@bench.example.com", "password": PASSWORD}
                )
                response.raise_for_status()
                return str(response.json()["token"])

        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(one, range(count)))

    def trading_accounts(self, count: int, group: str, ttl_seconds: int = 86_400) -> list[str]:
        """`count` trading accounts made straight in the engine, and a token for each signed with the
        gateway's secret: for benchmarks that need more accounts than signup (bcrypt, ~0.25 s of CPU each:
        minutes for 1,000 on a shared machine) makes quickly. The engine half is signup's own (a
        CreateAccount XADDed, with the starting balance); there is no gateway user row, so signin does not
        know them, but trading, reads and the sockets need only the token. Returns once every account's
        opening DEPOSIT event is committed."""
        user_ids = [str(uuid.uuid4()) for _ in range(count)]
        client = redis.Redis.from_url(REDIS_URL)
        try:
            pipe = client.pipeline(transaction=False)
            for index, user_id in enumerate(user_ids):
                create = commands_pb2.CreateAccount(email=f"{group}-{index}@bench.example.com",
                                                    starting_balance_cents=self.starting_balance_cents)  # fmt: skip
                command = commands_pb2.Command(request_id=str(uuid.uuid4()), user_id=user_id, create_account=create)
                pipe.xadd(self.stream_key, encode_command(command))  # type: ignore[arg-type]
            pipe.execute()
        finally:
            client.close()
        poll_until(lambda: asyncio.run(self._deposits(user_ids)) == count, "the accounts' DEPOSIT events", 120)
        now = int(time.time())
        claims = {"iat": now, "exp": now + ttl_seconds}
        return [jwt.encode({"sub": user_id, **claims}, self.jwt_secret, algorithm="HS256") for user_id in user_ids]

    async def _deposits(self, user_ids: list[str]) -> int:
        connection = await asyncpg.connect(self.database_url)
        try:
            query = "SELECT count(*) FROM account_events WHERE user_id = ANY($1::text[]) AND seq = 1"
            return int(await connection.fetchval(query, user_ids))
        finally:
            await connection.close()

    def stop(self) -> None:
        for name in ("ceiling", "gateway", "pooler", "engine", "fake-backpack", "secantus"):
            if name in self.processes:
                self.processes[name].stop()
        client = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
        if self._database_created:
            asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
            self._database_created = False

    @staticmethod
    async def _admin(statement: str) -> None:
        connection = await asyncpg.connect(DATABASE_URL)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()
