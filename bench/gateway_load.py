"""Gateway load benchmark: create-order throughput and latency through the real gateway process
(uvicorn) and the real engine process, with real Redis, PostgreSQL and a MongoDB-protocol server.

    .venv/bin/python -m bench.gateway_load [--orders-per-level 1200] [--levels 1,16,64]

For each concurrency level, N httpx.AsyncClient workers (one connection each) POST /api/v1/trade/create
back to back, rotating over 64 signed-up users (an order's reply lists the user's open positions, so no
account is allowed to pile up hundreds); a background task XADDs a PRICE_UPDATE every 100 ms as the pooler
would. Throughput = orders answered 201 / wall time of the level; latency = per-request time seen by the
client (p50, p99). In the same run the same client load hits a trivial FastAPI endpoint
(bench.gateway_ceiling) under the same uvicorn: that is the ceiling of FastAPI + uvicorn + this client on
this machine. Everything shares the machine's cores (client, gateway, engine, Redis, PostgreSQL).

REDIS_URL and DATABASE_URL default to the local servers (a throwaway database is created and dropped);
MONGODB_URL if set, else a throwaway SecantusDB is started."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as aioredis

from harness.engine_process import start_engine
from harness.gateway_process import start_gateway
from harness.prices import Quote, feed_engine
from harness.processes import ManagedProcess, free_port, start_secantus, wait_listening

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BTC = Quote("BTC_USDC", buy=1_010_000_000, sell=1_000_000_000)
ORDER = {"asset": "BTC_USDC", "side": "LONG", "quantity": "0.001", "leverage": 100}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to split the machine's work between processes."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_level(
    url: str, headers: list[dict[str, str]], body: dict[str, object], concurrency: int, total: int
) -> tuple[float, list[float], int]:
    """`concurrency` workers share `total` requests; returns (requests/s, latencies in s, failures)."""
    latencies: list[float] = []
    failures = 0
    remaining = total

    async def worker(index: int) -> None:
        nonlocal remaining, failures
        # each worker rotates over its share of the users, so no account piles up hundreds of positions
        mine = headers[index::concurrency]
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=30) as client:
            await client.post(url, headers=mine[0], json=body)  # connect + warm up, not counted
            sent = 0
            while remaining > 0:
                remaining -= 1
                sent += 1
                started = time.perf_counter()
                response = await client.post(url, headers=mine[sent % len(mine)], json=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 201:
                    failures += 1
                    if failures <= 3:
                        print(f"  unexpected {response.status_code}: {response.text[:200]}", file=sys.stderr)

    started = time.perf_counter()
    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    elapsed = time.perf_counter() - started
    return (len(latencies) - failures) / elapsed, latencies, failures


async def feed_prices(redis: aioredis.Redis, stream_key: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await feed_engine(redis, stream_key, [BTC])
        await asyncio.sleep(0.1)


async def main_async(args: argparse.Namespace) -> None:
    levels = [int(level) for level in args.levels.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    database = f"bench_gw_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(DATABASE_URL)
    await admin.execute(f'CREATE DATABASE "{database}"')
    database_url = DATABASE_URL.rpartition("/")[0] + f"/{database}"
    prefix = f"bench:gw{uuid.uuid4().hex[:8]}:"
    stream_key = f"{prefix}stream:engine"
    common = {
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": database_url,
        "STREAM_KEY": stream_key,
        "PRICE_CHANNEL": f"{prefix}ws:price:update",
        "LOG_LEVEL": "WARNING",
    }
    secantus = None
    mongodb_url = os.environ.get("MONGODB_URL")
    if not mongodb_url:
        secantus, mongodb_url = start_secantus(workdir)
    redis = aioredis.Redis.from_url(REDIS_URL)
    processes: list[ManagedProcess] = []
    stop_feed = asyncio.Event()
    feeder: asyncio.Task[None] | None = None
    try:
        engine, engine_addr = start_engine(
            {**common, "MONGODB_URL": mongodb_url, "MONGODB_DATABASE": database}, workdir
        )
        processes.append(engine)
        gateway, base_url = start_gateway({**common, "ENGINE_ADDR": engine_addr}, workdir)
        processes.append(gateway)
        ceiling_port = free_port()
        ceiling = ManagedProcess(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.gateway_ceiling:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(ceiling_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            workdir / "ceiling.log",
        ).start()
        processes.append(ceiling)
        wait_listening("127.0.0.1", ceiling_port, timeout=60, what="ceiling app")

        feeder = asyncio.create_task(feed_prices(redis, stream_key, stop_feed))
        users = max(levels)
        print(f"signing up {users} users ...", flush=True)
        async with httpx.AsyncClient(base_url=f"{base_url}/api/v1", timeout=60) as api:
            semaphore = asyncio.Semaphore(8)

            async def signup(index: int) -> dict[str, str]:
                async with semaphore:
                    response = await api.post(
                        "/signup", json={"email": f"bench{index}@example.com", "password": "benchmark-password"}
                    )
                response.raise_for_status()
                return {"Authorization": f"Bearer {response.json()['token']}"}

            headers = await asyncio.gather(*(signup(index) for index in range(users)))

        rows = []
        cpu_rows = []
        for concurrency in levels:
            total = max(args.orders_per_level, concurrency * 10)
            before = [cpu_seconds(proc.proc.pid) for proc in (gateway, engine)] + [time.process_time()]  # type: ignore[union-attr]
            rate, latencies, failures = await run_level(
                f"{base_url}/api/v1/trade/create", headers, ORDER, concurrency, total
            )
            after = [cpu_seconds(proc.proc.pid) for proc in (gateway, engine)] + [time.process_time()]  # type: ignore[union-attr]
            cpu_rows.append((concurrency, *((b - a) / total * 1000 for a, b in zip(before, after, strict=True))))
            ceiling_rate, ceiling_latencies, _ = await run_level(
                f"http://127.0.0.1:{ceiling_port}/echo", headers, ORDER, concurrency, total
            )
            rows.append(
                (
                    concurrency,
                    total,
                    failures,
                    rate,
                    percentile(latencies, 0.5),
                    percentile(latencies, 0.99),
                    ceiling_rate,
                    percentile(ceiling_latencies, 0.5),
                    percentile(ceiling_latencies, 0.99),
                )
            )
            print(
                f"clients={concurrency:3d} orders={total} failed={failures} create-order {rate:7.1f}/s "
                f"p50 {percentile(latencies, 0.5) * 1000:6.2f} ms p99 {percentile(latencies, 0.99) * 1000:6.2f} ms"
                f" | trivial endpoint {ceiling_rate:7.1f}/s p50 {percentile(ceiling_latencies, 0.5) * 1000:6.2f} ms"
                f" p99 {percentile(ceiling_latencies, 0.99) * 1000:6.2f} ms",
                flush=True,
            )
        print()
        print("| clients | orders | create-order/s | p50 | p99 | trivial FastAPI/s | p50 | p99 | ratio |")
        print("|---|---|---|---|---|---|---|---|---|")
        for concurrency, total, failures, rate, p50, p99, c_rate, c_p50, c_p99 in rows:
            print(
                f"| {concurrency} | {total} ({failures} failed) | {rate:,.0f} | {p50 * 1000:.2f} ms | "
                f"{p99 * 1000:.2f} ms | {c_rate:,.0f} | {c_p50 * 1000:.2f} ms | {c_p99 * 1000:.2f} ms | "
                f"{rate / c_rate:.0%} |"
            )
        print()
        print("| clients | gateway CPU per order | engine CPU per order | client CPU per order |")
        print("|---|---|---|---|")
        for concurrency, gateway_ms, engine_ms, client_ms in cpu_rows:
            print(f"| {concurrency} | {gateway_ms:.2f} ms | {engine_ms:.2f} ms | {client_ms:.2f} ms |")
        print(
            f"(mean create-order p50 over the levels: {statistics.fmean(r[4] for r in rows) * 1000:.2f} ms; "
            f"{os.cpu_count()} cores shared by every process)"
        )
    finally:
        stop_feed.set()
        if feeder:
            await feeder
        for proc in reversed(processes):
            proc.stop()
        if secantus:
            secantus.stop()
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders-per-level", type=int, default=1200)
    parser.add_argument("--levels", default="1,16,64")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
