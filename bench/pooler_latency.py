"""Pooler latency: from a bookTicker frame leaving the fake Backpack server to the first entry on the Redis
stream that carries that price (or a newer one), with the pooler as its own process (`python -m pooler`,
FEED=fake) and a real Redis.

    .venv/bin/python -m bench.pooler_latency [--frames 400] [--intervals 100,10] [--mean-gap-ms 80]

The fake sends BTC_USDC tops with strictly rising bids at random (exponential) gaps, mean 80 ms (about
the live BTC rate); a reader blocked in XREAD stamps every entry as it arrives. Frame -> stream therefore
includes the wait for the next publish tick, which dominates at the default 100 ms cadence; the run with
a 10 ms cadence shows the pipeline itself. Frame -> pooler ingest comes from the pooler's own
`pooler_feed_delay_seconds` histogram (receipt minus the frame's E), so it is given as bucket bounds."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import sys
import time
import urllib.request
import uuid
from decimal import Decimal

import redis.asyncio as aioredis

from harness.polling import apoll_until
from mesh.stream_codec import decode_entry
from pooler.fake_backpack import FakeBackpack
from pooler.pricepath import Top

START_BID = Decimal("60000.0")
TICK = Decimal("0.1")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _histogram_quantiles(metrics: str, quantiles: tuple[float, ...]) -> dict[float, str]:
    buckets = [
        (float(le), float(count))
        for le, count in re.findall(r'pooler_feed_delay_seconds_bucket\{le="([^"]+)",source="fake"\} (\S+)', metrics)
    ]
    total = buckets[-1][1] if buckets else 0
    result = {}
    for q in quantiles:
        bound = next((le for le, count in buckets if total and count >= q * total), float("inf"))
        result[q] = f"<= {bound * 1000:g} ms"
    return result


async def _run(redis_url: str, frames: int, interval_ms: int, mean_gap_ms: float, seed: int) -> dict[str, object]:
    prefix = f"bench:pooler:{uuid.uuid4().hex[:10]}:"
    stream = f"{prefix}stream:engine"
    fake = FakeBackpack(symbols=["BTC_USDC"], ticker_interval=0.5)
    fake.paused = True  # the bench drives the prices itself
    fake.sent_log = []
    await fake.start()
    http_port = _free_port()
    env = {
        **os.environ,
        "FEED": "fake",
        "BACKPACK_WS_URL": fake.url,
        "POOLER_HTTP_PORT": str(http_port),
        "REDIS_URL": redis_url,
        "STREAM_KEY": stream,
        "PRICE_CHANNEL": f"{prefix}ws:price:update",
        "ASSETS": "BTC_USDC:4:0.00001",
        "PUBLISH_INTERVAL_MS": str(interval_ms),
        "LOG_LEVEL": "WARNING",
    }
    pooler = await asyncio.create_subprocess_exec(sys.executable, "-m", "pooler", env=env, start_new_session=True)
    redis = aioredis.Redis.from_url(redis_url)
    arrivals: list[tuple[float, int]] = []  # (time.time() at XREAD, BTC sell price)
    try:

        def subscribed() -> bool:
            if pooler.returncode is not None:
                raise RuntimeError(f"the pooler exited with {pooler.returncode} before subscribing")
            return bool(fake.stats()["subscriptions"] == [["bookTicker.BTC_USDC", "ticker.BTC_USDC"]])

        await apoll_until(subscribed, "the pooler to subscribe to BTC_USDC", 30)

        finished = asyncio.Event()

        async def read() -> None:
            last_id = "0-0"  # the stream is new: read it from the start
            while not finished.is_set():
                reply = await redis.xread({stream: last_id}, block=200, count=100)
                now = time.time()
                for _, entries in reply:
                    for entry_id, fields in entries:
                        last_id = entry_id
                        for quote in decode_entry(fields).price_update.quotes:
                            arrivals.append((now, quote.sell_price))

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.2)
        rng = random.Random(seed)
        for i in range(frames):
            bid = START_BID + TICK * i
            await fake.publish_top(Top("BTC_USDC", bid, bid + TICK, Decimal("0.5"), Decimal("0.5")))
            await asyncio.sleep(rng.expovariate(1000 / mean_gap_ms))
        await asyncio.sleep(max(0.5, 3 * interval_ms / 1000))
        finished.set()
        await reader
        metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{http_port}/metrics")
    finally:
        os.killpg(pooler.pid, signal.SIGTERM)
        await asyncio.wait_for(pooler.wait(), timeout=15)
        await redis.delete(stream)
        await redis.aclose()
        await fake.stop()

    sent = fake.sent_log  # (symbol, bid, ask, time.time() after the frame was written)
    sent_at = [at for _, _, _, at in sent]
    delays: list[float] = []
    next_frame = 0
    for arrived, sell_price in sorted(arrivals):
        newest = int((Decimal(sell_price).scaleb(-4) - START_BID) / TICK)
        # every frame up to the newest one this entry reflects is now on the stream
        while next_frame <= newest and next_frame < len(sent_at):
            delays.append(arrived - sent_at[next_frame])
            next_frame += 1
    ingest = _histogram_quantiles(metrics, (0.5, 0.99))
    return {
        "interval_ms": interval_ms,
        "frames": len(sent_at),
        "measured": len(delays),
        "p50_ms": _percentile(delays, 0.5) * 1000,
        "p99_ms": _percentile(delays, 0.99) * 1000,
        "max_ms": max(delays) * 1000,
        "ingest_p50": ingest[0.5],
        "ingest_p99": ingest[0.99],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pooler_latency", description=__doc__)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--intervals", default="100,10", help="PUBLISH_INTERVAL_MS values to measure")
    parser.add_argument("--mean-gap-ms", type=float, default=80.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    print(
        f"pooler latency: {args.frames} BTC_USDC frames per run, mean gap {args.mean_gap_ms:g} ms, "
        f"pooler as a process, Redis {args.redis_url}"
    )
    print(
        f"{'PUBLISH_INTERVAL_MS':>19} {'frames':>6} {'measured':>8} {'frame->stream p50':>18} {'p99':>9} "
        f"{'max':>9}   frame->ingest p50 / p99"
    )
    for interval in (int(v) for v in args.intervals.split(",")):
        r = asyncio.run(_run(args.redis_url, args.frames, interval, args.mean_gap_ms, args.seed))
        print(
            f"{r['interval_ms']:>19} {r['frames']:>6} {r['measured']:>8} {r['p50_ms']:>15.1f} ms "
            f"{r['p99_ms']:>6.1f} ms {r['max_ms']:>6.1f} ms   {r['ingest_p50']} / {r['ingest_p99']}"
        )


if __name__ == "__main__":
    main()
