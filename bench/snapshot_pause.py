"""How long a snapshot holds the engine's event loop, on a state of 100,000 accounts and 200,000 open
positions (each opened under an idempotency key, so 200,000 remembered replies too).

It measures:
- the capture the engine does on the loop (`TradingState.capture_in_slices`, the loop free between
  its slices): wall and CPU time of its longest slice, over several runs;
- for contrast, the whole `snapshot()` encoding, which is what the loop used to do;
- the gaps an asyncio loop sees while snapshots are taken the engine's way (capture on the loop, then JSON
  text piece by piece, zlib and SHA-256 in a worker thread, as engine.snapshotting does): a ticker task
  sleeps 1 ms at a time and records each gap, during the capture and during the encoding. The worker
  thread holds the GIL in turns of `sys.getswitchinterval()` (5 ms), and longer only while one C call runs;
- the same ticker beside a thread running plain bytecode for as long (the least a computing thread costs
  the loop on this machine), and with nothing else running (the machine's own noise);
- with --holds, the writer thread's longest GIL holds in CPU time, found by tracing one encoding (a few
  minutes): what to read on a loaded machine, where the ticker's wall-clock gaps are mostly the scheduler.

    .venv/bin/python -m bench.snapshot_pause [--accounts 100000] [--positions 200000] [--runs 20]
        [--snapshots 3] [--holds]

The machine is shared: the load average is printed with the figures."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import Any, TypeVar

from engine.domain import CreateAccount, OpenPosition, PriceUpdate, Quote, Side, TradingState, default_rules
from engine.snapshots import encode_chunks

ASSET, DECIMAL = "BTC_USDC", 4
BUY, SELL = 1_194_168_450, 1_182_345_000
T = TypeVar("T")


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


class Gaps:
    """The gaps a ticker task sees between its 1 ms sleeps: how long the loop was held each time."""

    def __init__(self) -> None:
        self.gaps: list[float] = []

    @property
    def longest(self) -> float:
        return max(self.gaps, default=0.0)

    def over(self, seconds: float) -> int:
        return sum(gap > seconds for gap in self.gaps)

    def __str__(self) -> str:
        return f"longest {self.longest * 1000:.2f} ms, {self.over(0.010)} of {len(self.gaps)} gaps over 10 ms"


async def _ticking(gaps: Gaps, until: asyncio.Event) -> None:
    last = time.perf_counter()
    while not until.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        gaps.gaps.append(now - last - 0.001)
        last = now


async def _during(work: Callable[[], Awaitable[T]]) -> tuple[Gaps, T]:
    """The ticker's gaps while `work` runs."""
    gaps, done = Gaps(), asyncio.Event()
    task = asyncio.create_task(_ticking(gaps, done))
    await asyncio.sleep(0.01)
    gaps.gaps.clear()
    try:
        result = await work()
    finally:
        done.set()
        await task
    return gaps, result


async def _idle(seconds: float) -> Gaps:
    """No snapshot at all: what the shared machine's scheduler alone costs (with other processes on both
    cores, the loop's thread is simply not run for a while)."""
    gaps, _ = await _during(lambda: asyncio.sleep(seconds))
    return gaps


async def _busy(seconds: float) -> Gaps:
    """A thread running plain bytecode for as long: the least any thread that computes costs the loop (it
    takes the GIL back after the switch interval, and the OS must run the loop's thread to hand it over)."""

    def spin() -> None:
        stop = time.perf_counter() + seconds
        while time.perf_counter() < stop:
            pass

    gaps, _ = await _during(lambda: asyncio.to_thread(spin))
    return gaps


async def _capture_on_loop(state: TradingState) -> Any:
    for capture in _sliced(state):
        if capture is not None:
            return capture
        await asyncio.sleep(0)
    raise AssertionError("the capture returned nothing")


async def _snapshot(state: TradingState) -> tuple[Gaps, Gaps, float]:
    """One snapshot the engine's way: (the loop's gaps during the capture, during the encoding, the
    encoding's wall time in seconds)."""
    capturing, capture = await _during(lambda: _capture_on_loop(state))
    held = [capture]
    del capture

    async def encode() -> float:
        started = time.perf_counter()
        gc.disable()  # as engine.snapshotting does while it writes
        try:
            chunks, _ = await asyncio.to_thread(
                lambda: encode_chunks({"last_applied_id": "1000-1", "state": held.pop()})
            )
        finally:
            gc.enable()
        assert chunks
        return time.perf_counter() - started

    encoding, seconds = await _during(encode)
    return capturing, encoding, seconds


def _longest_holds(state: TradingState, shown: int = 8) -> list[tuple[float, str]]:
    """Encode one capture in a thread under a trace and profile hook, and return the longest stretches of
    the thread's CPU time with no Python line, call or return and no C call starting or ending: the longest
    the thread can hold the GIL (a C call holds it throughout, unless it lets go, as zlib and hashlib do for
    big buffers: those show here too, an overestimate). CPU time, so the machine's load shows less than in
    the ticker's wall-clock gaps; everything runs ~20x slower under the hooks, the C calls themselves not."""
    holds: list[tuple[float, str]] = []
    last = [0.0]

    def hook(frame: FrameType, event: str, arg: Any) -> Any:
        now = time.thread_time()
        if now - last[0] > 0.001:
            holds.append((now - last[0], f"{event} {frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"))
        last[0] = time.thread_time()
        return hook

    held = [state.capture()]

    def encode() -> None:
        gc.disable()
        sys.setprofile(hook)
        sys.settrace(hook)
        last[0] = time.thread_time()
        try:
            encode_chunks({"last_applied_id": "1000-1", "state": held.pop()})
        finally:
            sys.settrace(None)
            sys.setprofile(None)
            gc.enable()

    thread = threading.Thread(target=encode)
    thread.start()
    thread.join()
    return sorted(holds, reverse=True)[:shown]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--positions", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--snapshots", type=int, default=3, help="snapshots taken the engine's way")
    parser.add_argument("--holds", action="store_true", help="also trace the writer's longest GIL holds (slow)")
    args = parser.parse_args()
    print(f"building {args.accounts:,} accounts, {args.positions:,} positions ...", flush=True)
    state = _state(args.accounts, args.positions)
    gc.freeze()  # as engine.recovery does after a replay
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores, shared)", flush=True)

    walls, cpus = _capture_times(state, args.runs)
    print(f"capture on the loop, longest of its slices ({args.runs} runs): wall {_ms(walls)}; CPU {_ms(cpus)}")
    wall = time.perf_counter()
    state.snapshot()
    old_ms = (time.perf_counter() - wall) * 1000
    print(f"whole snapshot() encoding (the old on-loop capture, for contrast): {old_ms:.0f} ms", flush=True)
    print(f"loop gaps, 1 ms ticker (switch interval {sys.getswitchinterval() * 1000:.0f} ms):")
    longest = 0.0
    for number in range(1, args.snapshots + 1):
        capturing, encoding, seconds = asyncio.run(_snapshot(state))
        print(f"  snapshot {number}: during the capture {capturing}; during the encoding ({seconds:.2f} s in the "
              f"writer thread) {encoding}", flush=True)  # fmt: skip
        longest = max(longest, seconds)
    print(f"  a thread running plain bytecode for as long: {asyncio.run(_busy(longest))}")
    print(f"  no snapshot, over as long (the machine's own noise): {asyncio.run(_idle(longest))}")
    print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
    if args.holds:
        print("the writer thread's longest GIL holds (CPU ms, traced):")
        for seconds, where in _longest_holds(state):
            print(f"  {seconds * 1000:7.2f} ms  before {where}")


if __name__ == "__main__":
    main()
