"""Engine pipeline benchmark: the engine as its own process (`python -m engine`) with real Redis,
PostgreSQL and a MongoDB-protocol server.

    .venv/bin/python -m bench.engine_pipeline [--commands 20000] [--recovery-entries 100000]

1. Throughput: a producer XADDs (pipelined) a mix of opens, closes and price updates as fast as the
   replies come back, at most one round (2,000 requests) ahead, as a gateway with bounded in-flight
   requests would; a gateway-like client receives every reply on StreamReplies. commands/s = commands with a reply /
   (last reply - first XADD). Closes are replied to only after their row is committed to PostgreSQL.
2. Latency at a steady rate below saturation: XADD -> reply on StreamReplies, p50/p99.
3. Recovery: the engine is stopped (SIGTERM writes a snapshot), N entries are added to the stream, and
   a new engine is started: time from process start to health SERVING (Python start, snapshot restore,
   XRANGE replay of the N entries, catch-up), plus the replay time the engine logs itself.

REDIS_URL and DATABASE_URL default to the local servers (a throwaway database is created and dropped);
MONGODB_URL if set, else a throwaway SecantusDB is started."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import grpc
import redis.asyncio as aioredis
from exness.common.v1 import trading_pb2
from exness.engine.v1 import commands_pb2, engine_service_pb2, engine_service_pb2_grpc
from exness.market.v1 import market_pb2

from harness.engine_process import engine_env, start_engine
from harness.polling import apoll_until
from harness.processes import ManagedProcess, start_secantus, wait_serving
from mesh.stream_codec import encode_command

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
USERS = 1_000
BTC_MID = 600_000_000


def _price(tick: int) -> commands_pb2.Command:
    sell = BTC_MID + (tick % 200 - 100) * 10_000  # +-0.17%: keeps positions open
    return commands_pb2.Command(
        price_update=market_pb2.PriceUpdate(
            quotes=[market_pb2.Quote(asset="BTC_USDC", buy_price=sell + sell // 100, sell_price=sell, decimal=4)]
        )
    )


def _open(user: int, request_id: str, reply_to: str) -> commands_pb2.Command:
    return commands_pb2.Command(
        request_id=request_id, reply_to=reply_to, user_id=f"user-{user}",
        open_position=commands_pb2.OpenPosition(asset="BTC_USDC", side=trading_pb2.SIDE_LONG if user % 2 else
                                                trading_pb2.SIDE_SHORT, quantity=100_000, leverage=10),
    )  # fmt: skip


def _close(user: int, position_id: str, request_id: str, reply_to: str) -> commands_pb2.Command:
    return commands_pb2.Command(
        request_id=request_id,
        reply_to=reply_to,
        user_id=f"user-{user}",
        close_position=commands_pb2.ClosePosition(position_id=position_id),
    )


def _create(user: int, request_id: str = "", reply_to: str = "") -> commands_pb2.Command:
    return commands_pb2.Command(
        request_id=request_id,
        reply_to=reply_to,
        user_id=f"user-{user}",
        create_account=commands_pb2.CreateAccount(email=f"user-{user}@bench.example", starting_balance_cents=10**9),
    )


class Replies:
    def __init__(self, address: str) -> None:
        self.address = address
        self.gateway_id = f"bench-{uuid.uuid4().hex[:6]}"
        self.received: dict[str, float] = {}
        self.kinds: dict[str, int] = {}
        self.messages = 0
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await self._ready.wait()

    async def _run(self) -> None:
        async with grpc.aio.insecure_channel(self.address) as channel:
            call = engine_service_pb2_grpc.EngineServiceStub(channel).StreamReplies(
                engine_service_pb2.StreamRepliesRequest(gateway_id=self.gateway_id, accepts_batches=True)
            )
            await call.initial_metadata()
            self._ready.set()
            async for response in call:
                now = time.perf_counter()
                # one `reply` per message (engines before batching) or a batch of `replies`
                batch = [response.reply] if response.HasField("reply") else response.replies
                self.messages += 1
                for reply in batch:
                    self.received[reply.request_id] = now
                    kind = reply.WhichOneof("result") or "none"
                    self.kinds[kind] = self.kinds.get(kind, 0) + 1

    async def wait_count(self, count: int, within: float = 300) -> None:
        # a short interval: the time the last reply arrived is measured, not when the poll noticed it
        await apoll_until(lambda: len(self.received) >= count, f"{count} replies", within, interval=0.005)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def _xadd_all(client: aioredis.Redis, stream: str, commands: list[commands_pb2.Command],
                    sent_at: dict[str, float] | None = None, chunk: int = 200) -> list[str]:  # fmt: skip
    ids: list[str] = []
    for start in range(0, len(commands), chunk):
        pipe = client.pipeline(transaction=False)
        part = commands[start : start + chunk]
        for command in part:
            pipe.xadd(stream, encode_command(command))
        now = time.perf_counter()
        if sent_at is not None:
            for command in part:
                if command.request_id:
                    sent_at[command.request_id] = now
        ids += [i.decode() for i in await pipe.execute()]
    return ids


async def throughput(client: aioredis.Redis, stream: str, address: str, commands: int) -> dict[str, object]:
    replies = Replies(address)
    await replies.start()
    gw = replies.gateway_id
    await _xadd_all(client, stream, [_create(u) for u in range(USERS)] + [_price(0)])
    # one open position per user first, so that every close in the measured mix has a position to close
    ids = await _xadd_all(client, stream, [_open(u, f"warm-{u}", gw) for u in range(USERS)])
    await replies.wait_count(USERS)
    open_ids = [f"pos-{entry_id}" for entry_id in ids]
    # the measured mix, round by round: each user closes its position and opens a new one; a price tick
    # every 10 users. Stream order guarantees a round's closes see the previous round's opens.
    expected = len(replies.received)
    sent = 0
    started = time.perf_counter()
    while sent < commands:
        plan: list[commands_pb2.Command] = []
        for user in range(USERS):
            plan.append(_close(user, open_ids[user], f"c-{sent}-{user}", gw))
            plan.append(_open(user, f"o-{sent}-{user}", gw))
            if user % 10 == 0:
                plan.append(_price(sent + user))
        # a gateway has a bounded number of requests in flight; so does this producer (one round ahead)
        await replies.wait_count(expected - 2 * USERS)
        ids = await _xadd_all(client, stream, plan)
        opens = [i for c, i in zip(plan, ids, strict=True) if c.WhichOneof("body") == "open_position"]
        open_ids = [f"pos-{entry_id}" for entry_id in opens]
        sent += len(plan)
        expected += 2 * USERS
    last_xadd = time.perf_counter()
    await replies.wait_count(expected)
    elapsed = max(replies.received.values()) - started
    lag_zero_after = await _lag_zero_after(client, stream, last_xadd)
    await replies.stop()
    return {
        "entries": sent,
        "replies": expected - USERS,
        "seconds": round(elapsed, 3),
        "entries_per_s": round(sent / elapsed),
        "replies_per_s": round((expected - USERS) / elapsed),
        "replies_per_message": round(len(replies.received) / max(1, replies.messages), 1),
        "lag_zero_after_last_xadd_s": lag_zero_after,
        "reply_kinds": replies.kinds,
    }


async def _lag_zero_after(client: aioredis.Redis, stream: str, since: float) -> float:
    """Seconds from `since` (the load's last XADD) until the engine's consumer group has every entry
    delivered (lag 0) and acknowledged (pending 0), polled every 5 ms."""
    while True:
        group = next(g for g in await client.xinfo_groups(stream) if g["name"] in (b"engine", "engine"))
        if group.get("lag") == 0 and group["pending"] == 0:
            return round(time.perf_counter() - since, 3)
        await asyncio.sleep(0.005)


async def latency(client: aioredis.Redis, stream: str, address: str, rate: int, count: int) -> dict[str, object]:
    replies = Replies(address)
    await replies.start()
    gw = replies.gateway_id
    sent_at: dict[str, float] = {}
    interval = 1 / rate
    next_at = time.perf_counter()
    for i in range(count):
        user = USERS + i
        await _xadd_all(client, stream, [_create(user, f"lat-{i}", gw)], sent_at)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    await replies.wait_count(count)
    samples = sorted((replies.received[r] - sent_at[r]) * 1000 for r in sent_at)
    await replies.stop()
    return {
        "rate_per_s": rate,
        "commands": count,
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 2),
        "max_ms": round(samples[-1], 2),
    }


async def recovery(client: aioredis.Redis, env: dict[str, str], log_dir: Path, proc: ManagedProcess,
                   entries: int) -> dict[str, object]:  # fmt: skip
    proc.stop()  # SIGTERM: final snapshot at the current end of the stream
    stream = env["STREAM_KEY"]
    base = 10_000
    plan: list[commands_pb2.Command] = []
    for i in range(entries):
        user = base + i // 3
        kind = i % 3
        plan.append(_create(user) if kind == 0 else _price(i) if kind == 1 else _open(user, "", ""))
    await _xadd_all(client, stream, plan, chunk=1_000)
    started = time.perf_counter()
    restarted = ManagedProcess(proc.args, proc.log_path, env=env).start()
    await asyncio.to_thread(wait_serving, f"127.0.0.1:{env['ENGINE_GRPC_PORT']}", restarted, 600)
    elapsed = time.perf_counter() - started
    replay = [json.loads(line) for line in restarted.output().splitlines() if '"replay done"' in line][-1]
    restore = [json.loads(line) for line in restarted.output().splitlines() if '"restored snapshot"' in line][-1]
    restarted.stop()
    return {
        "entries_after_snapshot": replay["replayed"],
        "start_to_serving_s": round(elapsed, 2),
        "restore_s": restore["seconds"],
        "replay_s": replay["seconds"],
        "replay_entries_per_s": round(replay["replayed"] / replay["seconds"]),
    }


async def main(args: argparse.Namespace) -> None:
    log_dir = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    mongo_proc = None
    mongodb_url = os.environ.get("MONGODB_URL")
    if not mongodb_url:
        mongo_proc, mongodb_url = start_secantus(log_dir)
    database = f"exness_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(DATABASE_URL)
    await admin.execute(f'CREATE DATABASE "{database}"')
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    client = aioredis.Redis.from_url(REDIS_URL)
    env = engine_env({
        "REDIS_URL": REDIS_URL, "STREAM_KEY": f"{prefix}stream:engine", "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": database, "DATABASE_URL": DATABASE_URL.rsplit("/", 1)[0] + f"/{database}",
        "SNAPSHOT_INTERVAL_SECONDS": "15", "LOG_LEVEL": "WARNING" if not args.verbose else "INFO",
        "LEASE_TTL_MS": "5000",
    })  # fmt: skip
    # the recovery step reads the engine's own replay log lines
    env["LOG_LEVEL"] = "INFO"
    proc, address = start_engine(env, log_dir)
    try:
        result = {
            "throughput": await throughput(client, env["STREAM_KEY"], address, args.commands),
            "latency": await latency(client, env["STREAM_KEY"], address, args.rate, args.latency_commands),
        }
        print(json.dumps(result, indent=2), flush=True)
        result["recovery"] = await recovery(client, env, log_dir, proc, args.recovery_entries)
        print(json.dumps(result["recovery"], indent=2), flush=True)
    finally:
        proc.stop()
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
        if mongo_proc:
            mongo_proc.stop()
    print(f"engine logs: {log_dir}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=500, help="commands/s of the latency run")
    parser.add_argument("--latency-commands", type=int, default=2_000)
    parser.add_argument("--recovery-entries", type=int, default=100_000)
    parser.add_argument("--verbose", action="store_true")
    asyncio.run(main(parser.parse_args()))
