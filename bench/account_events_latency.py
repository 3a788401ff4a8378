"""Account-event delivery latency: from the stream entry that caused an event to the event arriving on a
connected /ws/account socket, with many accounts connected, through the whole platform as separate
processes (bench.platform: fake Backpack, pooler, engine, gateway).

    .venv/bin/python -m bench.account_events_latency [--accounts 1000] [--orders 2000] [--rate 200]

Every account holds one socket (`since: 0`); orders are spread over the accounts at `--rate` per second
(POST /trade/create, each causes POSITION_OPENED and BALANCE). An event's `ts` is its entry's stream time
(the Redis clock at XADD, on this host), so `receive time - ts` covers the whole path: the XADD, the
engine's read and apply, the group commit to PostgreSQL, StreamAccountEvents, the gateway and the
socket. That is at least the "engine apply -> socket" time the performance goal names. For the goal's
conditions run it while `make bench` loads the platform (another terminal), on a quiet machine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.platform import Platform
from harness.polling import apoll_until

ORDER = {"asset": "BTC_USDC", "side": "LONG", "quantity": "0.0001", "leverage": 10}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Listener:
    """One account's socket: every event's latency (ms) is appended to `latencies`."""

    def __init__(self, url: str, token: str, latencies: list[float]) -> None:
        self.url, self.token, self.latencies = url, token, latencies
        self.subscribed = asyncio.Event()
        self.events = 0

    async def run(self) -> None:
        async with websockets.connect(self.url, max_queue=None) as socket:
            await socket.send(json.dumps({"type": "auth", "token": self.token, "since": 0}))
            async for text in socket:
                arrived_ms = time.time() * 1000
                message: dict[str, Any] = json.loads(text)
                if message["type"] == "SUBSCRIBED":
                    self.subscribed.set()
                elif message["type"] not in ("RESYNC",):
                    self.events += 1
                    if message["seq"] > 1:  # the deposit was committed before the socket opened
                        self.latencies.append(arrived_ms - message["ts"])


async def _orders(api: str, tokens: list[str], count: int, rate: float) -> int:
    sent = 0
    async with httpx.AsyncClient(base_url=api, timeout=30, limits=httpx.Limits(max_connections=64)) as client:
        pending: set[asyncio.Task[httpx.Response]] = set()
        started = time.monotonic()
        for n in range(count):
            token = random.choice(tokens)
            headers = {"Authorization": f"Bearer {token}"}
            pending.add(asyncio.create_task(client.post("/trade/create", json=ORDER, headers=headers)))
            # paced: the n-th order leaves at n / rate seconds
            delay = started + (n + 1) / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        for response in await asyncio.gather(*pending):
            sent += response.status_code == 201
    return sent


async def _measure(platform: Platform, tokens: list[str], orders: int, rate: float) -> dict[str, Any]:
    url = platform.gateway_url.replace("http://", "ws://") + "/api/v1/ws/account"
    latencies: list[float] = []
    listeners = [Listener(url, token, latencies) for token in tokens]
    tasks = [asyncio.create_task(listener.run()) for listener in listeners]
    try:
        await asyncio.wait_for(asyncio.gather(*(listener.subscribed.wait() for listener in listeners)), 120)
        accepted = await _orders(f"{platform.gateway_url}/api/v1", tokens, orders, rate)
        with contextlib.suppress(TimeoutError):
            # what is missing after a minute is reported as missing (events < events_expected)
            await apoll_until(lambda: len(latencies) >= 2 * accepted or None, "every event delivered", 60)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if not latencies:
        return {"accounts": len(tokens), "orders_accepted": accepted, "events": 0}
    return {
        "accounts": len(tokens), "orders_accepted": accepted, "events": len(latencies),
        "events_expected": 2 * accepted,
        **{f"p{int(q * 100)}_ms": round(_percentile(latencies, q), 1) for q in (0.5, 0.9, 0.99)},
        "max_ms": round(max(latencies), 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=200.0, help="orders per second")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-events-"))
    platform = Platform(workdir)
    try:
        platform.start(lambda step: print(f"... {step}", file=sys.stderr))
        print(f"... signing up {args.accounts} accounts", file=sys.stderr)
        tokens = platform.signup(args.accounts, f"events-{platform.prefix.split(':')[1]}")
        result = asyncio.run(_measure(platform, tokens, args.orders, args.rate))
        print(json.dumps(result, indent=2))
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
