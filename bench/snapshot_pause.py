"""How long a snapshot holds the engine's event loop, on a state of 100,000 accounts and 200,000 open
positions (each opened under an idempotency key, so 200,000 remembered replies too).

It measures three things:
- the capture the engine does on the loop (`TradingState.capture_in_slices`, the loop free between
  its slices): wall and CPU time of its longest slice, over several runs;
- for contrast, the whole `snapshot()` encoding, which is what the loop used to do;
- the longest stall an asyncio loop sees while one snapshot is taken the engine's way (capture on the
  loop, then JSON text piece by piece and zlib in a worker thread, as engine.snapshotting does): a ticker task
  sleeps 1 ms at a time and records the largest gap. The worker thread holds the GIL in turns of
  `sys.getswitchinterval()` (5 ms), so the loop waits up to about that per turn, never the whole encoding.

    .venv/bin/python -m bench.snapshot_pause [--accounts 100000] [--positions 200000] [--runs 20]

The machine is shared: the load average is printed with the figures."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

from engine.domain import CreateAccount, OpenPosition, PriceUpdate, Quote, Side, TradingState, default_rules
from engine.snapshots import encode_body

ASSET, DECIMAL = "BTC_USDC", 4
BUY, SELL = 1_194_168_450, 1_182_345_000


def _state(accounts: int, positions: int) -> TradingState:
    state = TradingState(default_rules())
    entry = 0

    def apply(command: Any, key: str = "") -> None:
        nonlocal entry
        entry += 1
        state.apply(command, entry_id=f"1000-{entry}", time_ms=1000, idempotency_key=key)

    for n in range(accounts):
        apply(CreateAccount(f"user-{n}", f"user-{n}@example.com", 10**12))
    apply(PriceUpdate((Quote(ASSET, BUY, SELL, DECIMAL),)))
    for n in range(positions):
        side = Side.LONG if n % 2 else Side.SHORT
        apply(OpenPosition(f"user-{n % accounts}", ASSET, side, 1_000, 10, 100, 0, 0, 0), key=f"k-{n}")
    return state


def _ms(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:.2f} ms, max {max(seconds) * 1000:.2f} ms"


def _sliced(state: TradingState) -> Iterator[Any]:
    """The engine's capture (engine.lifecycle._capture): its slices, then the StateCapture."""
    steps = state.capture_in_slices()
    while True:
        try:
            next(steps)
        except StopIteration as done:
            yield done.value
            return
        yield None


def _capture_times(state: TradingState, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU time of the longest slice of each capture."""
    walls, cpus = [], []
    for _ in range(runs):
        longest_wall = longest_cpu = 0.0
        steps = _sliced(state)
        while True:
            wall, cpu = time.perf_counter(), time.thread_time()
            done = next(steps)
            longest_cpu = max(longest_cpu, time.thread_time() - cpu)
            longest_wall = max(longest_wall, time.perf_counter() - wall)
            if done is not None:
                del done  # freed outside the timing (the engine frees it in the writer's thread)
                break
        walls.append(longest_wall)
        cpus.append(longest_cpu)
    return walls, cpus


async def _idle_stall(seconds: float) -> float:
    """The longest gap the same ticker sees with no snapshot at all: what the shared machine's scheduler
    alone costs (with other processes on both cores, the loop's thread is simply not run for a while)."""
    longest, started = 0.0, time.perf_counter()
    last = started
    while last - started < seconds:
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last - 0.001), now
    return longest


async def _loop_stall(state: TradingState) -> tuple[float, float, float]:
    """(longest loop stall, the capture's share of it, the whole snapshot's wall time), in seconds."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last - 0.001)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    captured = 0.0
    for capture in _sliced(state):
        captured = max(captured, time.perf_counter() - started)
        if capture is not None:
            break
        await asyncio.sleep(0)
        started = time.perf_counter()
    started = time.perf_counter()
    held = [capture]
    del capture
    gc.disable()  # as engine.snapshotting does while it writes
    blob, _ = await asyncio.to_thread(lambda: encode_body({"last_applied_id": "1000-1", "state": held.pop()}))
    gc.enable()
    whole = time.perf_counter() - started
    await asyncio.sleep(0.05)
    done.set()
    await task
    assert blob
    return max(gaps) + 0.0, captured, whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--positions", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(f"building {args.accounts:,} accounts, {args.positions:,} positions ...", flush=True)
    state = _state(args.accounts, args.positions)
    gc.freeze()  # as engine.recovery does after a replay
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores, shared)")

    walls, cpus = _capture_times(state, args.runs)
    print(f"capture on the loop, longest of its slices ({args.runs} runs): wall {_ms(walls)}; CPU {_ms(cpus)}")
    wall = time.perf_counter()
    state.snapshot()
    old_ms = (time.perf_counter() - wall) * 1000
    print(f"whole snapshot() encoding (the old on-loop capture, for contrast): {old_ms:.0f} ms")
    stall, captured, whole = asyncio.run(_loop_stall(state))
    idle = asyncio.run(_idle_stall(whole))
    print(
        f"one snapshot the engine's way: longest capture slice {captured * 1000:.2f} ms, longest loop stall "
        f"{stall * 1000:.2f} ms (switch interval {sys.getswitchinterval() * 1000:.0f} ms), encode+JSON+zlib in "
        f"the worker thread {whole:.2f} s"
    )
    print(f"longest loop stall with no snapshot, over as long (the machine's own noise): {idle * 1000:.2f} ms")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
