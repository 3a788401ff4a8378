"""Account-event delivery latency: from the stream entry that caused an event to the event arriving on a
connected /ws/account socket, with many accounts connected, under the `make bench` kind of load, through
the whole platform as separate processes (bench.platform: fake Backpack on a random price path, pooler,
engine, gateway).

    .venv/bin/python -m bench.account_events_latency [--accounts 1000] [--connections 16] [--duration 30]
                                                     [--scenario mixed] [--signup] [--profile]

The accounts are made straight in the engine with tokens signed by the gateway's secret
(bench.platform.trading_accounts; --signup: through POST /signup, whose bcrypt takes minutes for 1,000
on 2 shared cores). Every account holds one socket (`since: 0`; after a drop it reconnects with `since` =
the last seq it got). Meanwhile wrk runs bench/wrk/mesh.lua against the same accounts, as `make bench` does: the mixed
scenario by default (open 40%, close 30%, GET /trade/open 15%, GET /balance 15%), one connection per wrk
thread, so every thread goes round-robin over all the accounts; each open causes POSITION_OPENED and
BALANCE, each close POSITION_CLOSED and BALANCE.

The figure is, per event whose entry was added after the load started, `receive time - ts`: `ts` is the
event's stream time (the Redis clock at the XADD of the entry that caused it, on this host) and the
receive time is this process's wall clock when its socket hands it the message. So it covers the XADD,
the entry waiting in the stream, the engine's read and apply, the group commit to PostgreSQL (an event
goes out only once committed), the engine's fan-out on StreamAccountEvents, the gateway's routing, JSON
and socket write, and this process's own event loop: at least the "engine applied -> socket" time of
the performance goal. The bench's own loop lag is printed beside it (`listener_loop_lag_ms`).

Every socket checks the sequence numbers: `duplicated` counts events at or below the last seq it got,
`lost` the seqs it skipped plus, once the load has drained, those below the account's last committed
seq in PostgreSQL that never arrived. Both must be 0."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import websockets

from bench import wrk_report
from bench.platform import Platform

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "wrk" / "mesh.lua"
# sockets opening at once (each one's catch-up is a ListAccountEvents call)
CONNECT_CONCURRENCY = 50
# how long to wait, after the load, for every committed event to arrive
DRAIN_SECONDS = 60.0
LOOP_TICK_SECONDS = 0.01
GOAL_P99_MS = 50.0


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _distribution(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    figures = {f"p{round(q * 100)}": round(_percentile(ordered, q), 1) for q in (0.5, 0.9, 0.99)}
    return figures | {"max": round(ordered[-1], 1)}


@dataclass
class Tally:
    """What all the sockets saw."""

    measure_from_ms: float = float("inf")  # events with an earlier ts are not timed (the deposits)
    latencies: list[float] = field(default_factory=list)
    events: int = 0
    duplicated: int = 0
    skipped: int = 0
    reconnects: int = 0
    resyncs: int = 0


class Listener:
    """One account's socket, reconnecting with `since` after a drop."""

    def __init__(self, url: str, token: str, user_id: str, tally: Tally) -> None:
        self.url, self.token, self.user_id, self.tally = url, token, user_id, tally
        self.subscribed = asyncio.Event()
        self.last_seq = 0

    async def run(self) -> None:
        while True:
            try:
                async with websockets.connect(self.url, max_queue=None, open_timeout=60) as socket:
                    await socket.send(json.dumps({"type": "auth", "token": self.token, "since": self.last_seq}))
                    async for text in socket:
                        self.receive(json.loads(text), time.time() * 1000)
            except (websockets.ConnectionClosed, OSError, TimeoutError):
                pass
            self.tally.reconnects += 1
            await asyncio.sleep(0.5)

    def receive(self, message: dict[str, Any], arrived_ms: float) -> None:
        kind, seq = message["type"], message["seq"]
        if kind == "SUBSCRIBED":
            self.subscribed.set()
            return
        if kind == "RESYNC":  # only when `since` cannot be resumed: counted, never expected here
            self.tally.resyncs += 1
            self.last_seq = seq
            self.subscribed.set()
            return
        tally = self.tally
        tally.events += 1
        if seq <= self.last_seq:
            tally.duplicated += 1
            return
        tally.skipped += seq - self.last_seq - 1
        self.last_seq = seq
        if message["ts"] >= tally.measure_from_ms:
            tally.latencies.append(arrived_ms - message["ts"])


async def _loop_lag(lags: list[float]) -> None:
    """How late this process's event loop runs a 10 ms timer (ms): the listeners' own share of the figure."""
    while True:
        before = time.monotonic()
        await asyncio.sleep(LOOP_TICK_SECONDS)
        lags.append((time.monotonic() - before - LOOP_TICK_SECONDS) * 1000)


async def _connect_all(listeners: list[Listener]) -> list[asyncio.Task[None]]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def start(listener: Listener) -> asyncio.Task[None]:
        async with gate:
            task = asyncio.create_task(listener.run())
            await asyncio.wait_for(listener.subscribed.wait(), 120)
            return task

    return list(await asyncio.gather(*(start(listener) for listener in listeners)))


async def _committed_seqs(database_url: str) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT user_id, max(seq) AS seq FROM account_events GROUP BY user_id")
    finally:
        await connection.close()
    return {row["user_id"]: row["seq"] for row in rows}


async def _drain(listeners: list[Listener], database_url: str) -> int:
    """Wait until every socket got its account's last committed event; the seqs still missing then."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        committed = await _committed_seqs(database_url)
        missing = sum(max(0, committed.get(listener.user_id, 0) - listener.last_seq) for listener in listeners)
        if not missing or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(0.2)


def _wrk_command(args: argparse.Namespace, url: str) -> list[str]:
    # mixed: a thread per connection, so each goes round-robin over every account (mesh.lua BENCH_PER_OP)
    threads = args.connections if args.scenario == "mixed" else min(args.connections, 2)
    return ["wrk", "-t", str(threads), "-c", str(args.connections), "-d", f"{args.duration}s",
            "--timeout", "10s", "-s", str(LUA), url]  # fmt: skip


async def _load(args: argparse.Namespace, platform: Platform, tokens_file: Path) -> dict[str, Any]:
    out = platform.workdir / "wrk.json"
    env = {**os.environ, "BENCH_SCENARIO": args.scenario, "BENCH_TOKENS": str(tokens_file), "BENCH_OUT": str(out),
           "BENCH_PER_OP": "1" if args.scenario == "mixed" else "0", "BENCH_RUN": uuid.uuid4().hex[:8]}  # fmt: skip
    with (platform.workdir / "wrk.txt").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *_wrk_command(args, platform.gateway_url), env=env, stdout=log, stderr=subprocess.STDOUT
        )
        profilers = await _start_profilers(args, platform)
        await proc.wait()
        for profiler in profilers:
            await profiler.wait()
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({proc.returncode}): {(platform.workdir / 'wrk.txt').read_text()[-2000:]}")
    result = wrk_report.parse_wrk_result(out.read_text())
    return {
        "scenario": args.scenario, "connections": args.connections, "duration_s": round(result.duration_s, 1),
        "requests": result.requests, "requests_per_s": round(result.requests / result.duration_s),
        "request_ms": {f"p{p:g}": round(wrk_report.from_distribution(result.percentiles_us, p) / 1000, 1)
                       for p in (50.0, 99.0)},
        "statuses": result.statuses,
        "socket_errors": {k: v for k, v in result.socket_errors.items() if v},
        # a close's reply waits for the same group commit as its events: the part of the path they share
        "reply_ms": {op: _distribution([us / 1000 for us in result.samples_us.get(op, [])])
                     for op in ("open", "close") if result.samples_us.get(op)},
    }  # fmt: skip


async def _start_profilers(args: argparse.Namespace, platform: Platform) -> list[asyncio.subprocess.Process]:
    """--profile: py-spy on the gateway and the engine for the load's duration (flame graphs and collapsed
    stacks for bench.profile_summary, in the work directory)."""
    if not args.profile:
        return []
    py_spy = str(Path(sys.executable).parent / "py-spy")
    commands = [
        [py_spy, "record", "--pid", str(platform.processes[name].pid), "--duration", str(args.duration),
         "--nonblocking", "--output", str(platform.workdir / f"{name}.{kind}"), "--format", fmt]
        for name in ("gateway", "engine") for kind, fmt in (("svg", "flamegraph"), ("collapsed", "raw"))
    ]  # fmt: skip
    return [
        await asyncio.create_subprocess_exec(*command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for command in commands
    ]


async def _measure(args: argparse.Namespace, platform: Platform, tokens: list[str]) -> dict[str, Any]:
    url = platform.gateway_url.replace("http://", "ws://") + "/api/v1/ws/account"
    tally = Tally()
    listeners = [
        Listener(url, token, jwt.decode(token, platform.jwt_secret, algorithms=["HS256"])["sub"], tally)
        for token in tokens
    ]
    tokens_file = platform.workdir / "tokens.txt"
    tokens_file.write_text("\n".join(tokens) + "\n")
    lags: list[float] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        print(f"... opening {len(listeners)} sockets", file=sys.stderr)
        tasks = await _connect_all(listeners)
        tasks.append(asyncio.create_task(_loop_lag(lags)))
        print(f"... {args.scenario} load: {args.connections} connections for {args.duration} s", file=sys.stderr)
        tally.measure_from_ms = time.time() * 1000
        load = await _load(args, platform, tokens_file)
        lag_during = list(lags)
        missing = await _drain(listeners, platform.database_url)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "accounts": len(listeners), "load": load, "events_timed": len(tally.latencies),
        "events_received": tally.events, "lost": tally.skipped + missing, "duplicated": tally.duplicated,
        "reconnects": tally.reconnects, "resyncs": tally.resyncs,
        "latency_ms": _distribution(tally.latencies), "listener_loop_lag_ms": _distribution(lag_during),
    }  # fmt: skip


def _raise_fd_limit(accounts: int) -> None:
    """A socket per account here and in the gateway (which inherits the limit), plus wrk's and the rest."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * accounts + 4096
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.account_events_latency",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--accounts", type=int, default=1_000, help="accounts, one socket each (default 1000)")
    parser.add_argument("--scenario", choices=("mixed", "create"), default="mixed", help="mesh.lua load")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--duration", type=int, default=30, help="seconds of load (default 30)")
    parser.add_argument("--signup", action="store_true", help="accounts through POST /signup (bcrypt: slow)")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway and engine during the load")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed: `bash bench/bootstrap.sh` installs it (as `make bench` does)")
    given = argv if argv is not None else sys.argv[1:]
    command = " ".join([".venv/bin/python -m bench.account_events_latency", *map(shlex.quote, given)])
    _raise_fd_limit(args.accounts)
    workdir = Path(tempfile.mkdtemp(prefix="bench-events-"))
    platform = Platform(workdir)
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        platform.start(lambda step: print(f"... {step}", file=sys.stderr))
        group = f"events-{platform.prefix.split(':')[1]}"
        if args.signup:
            print(f"... signing up {args.accounts} accounts (bcrypt)", file=sys.stderr)
            tokens = platform.signup(args.accounts, group)
        else:
            print(f"... creating {args.accounts} accounts in the engine", file=sys.stderr)
            tokens = platform.trading_accounts(args.accounts, group)
        result = asyncio.run(_measure(args, platform, tokens))
    finally:
        platform.stop()
    result |= {
        "goal": f"p99 <= {GOAL_P99_MS:g} ms, 0 lost, 0 duplicated",
        "met": bool(result["latency_ms"]) and result["latency_ms"]["p99"] <= GOAL_P99_MS
        and result["lost"] == 0 and result["duplicated"] == 0,
        "load_average": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
        "cpus": os.cpu_count(), "workdir": str(workdir),
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    print(f"reproduce: {command}")


if __name__ == "__main__":
    main()
