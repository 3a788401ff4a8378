"""How long each read and status RPC holds the engine's event loop: the servicers of engine.servicers
called on a state of 100,000 accounts and 200,000 open positions, plus one account holding
`--cap` positions (the per-account cap) and, for contrast, one holding 100,000. The time of one call is
the synchronous work between its awaits (the only await, Redis for GetStatus's lag, is stubbed), plus
the response's protobuf encoding, which gRPC also does on the loop; measured as CPU time of the thread.

    .venv/bin/python -m bench.read_loop_cost [--accounts 100000] [--positions 200000] [--cap 1000]"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time
from types import SimpleNamespace
from typing import Any

from exness.engine.v1 import admin_service_pb2, engine_service_pb2

from engine.domain import CreateAccount, OpenPosition, PriceUpdate, Quote, Side, TradingState, default_rules
from engine.servicers import AdminServicer, EngineServicer
from engine.snapshots import SnapshotInfo, encode_body

ASSET, DECIMAL = "BTC_USDC", 4
BUY, SELL = 1_194_168_450, 1_182_345_000


class _Context:
    async def abort(self, code: object, details: str) -> None:
        raise RuntimeError(f"{code}: {details}")


def _state(accounts: int, positions: int, heavy: dict[str, int]) -> TradingState:
    rules = default_rules()
    cap_fields = [f.name for f in dataclasses.fields(rules) if "open_positions" in f.name]
    if cap_fields:  # the per-account cap, lifted so the contrast account can be built
        rules = dataclasses.replace(rules, **{cap_fields[0]: max(heavy.values()) + 1})
    state = TradingState(rules)
    entry = 0

    def apply(command: Any) -> None:
        nonlocal entry
        entry += 1
        state.apply(command, entry_id=f"1000-{entry}", time_ms=1000)

    for n in range(accounts):
        apply(CreateAccount(f"user-{n}", f"user-{n}@example.com", 10**12))
    for user in heavy:
        apply(CreateAccount(user, f"{user}@example.com", 10**14))
    apply(PriceUpdate((Quote(ASSET, BUY, SELL, DECIMAL),)))
    for n in range(positions):
        apply(OpenPosition(f"user-{n % accounts}", ASSET, Side.LONG if n % 2 else Side.SHORT, 1_000, 10, 100, 0, 0, 0))
    for user, count in heavy.items():
        for _ in range(count):
            apply(OpenPosition(user, ASSET, Side.LONG, 1_000, 10, 100, 0, 0, 0))
    return state


async def _timed(call: Any, runs: int) -> str:
    """CPU time of the calling thread per call (what the call holds the loop for on an idle core; wall
    time on a shared machine adds whatever else runs)."""
    samples = []
    for _ in range(runs):
        started = time.thread_time()
        response = await call()
        response.SerializeToString()
        samples.append((time.thread_time() - started) * 1000)
    return f"CPU median {statistics.median(samples):7.3f} ms, max {max(samples):7.3f} ms ({runs} calls)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--positions", type=int, default=200_000)
    parser.add_argument("--cap", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    heavy = {"at-cap": args.cap, "no-cap": 100_000}
    print(f"building {args.accounts:,} accounts, {args.positions:,} positions, accounts with "
          f"{args.cap:,} and 100,000 positions ...")  # fmt: skip
    state = _state(args.accounts, args.positions, heavy)
    started = time.thread_time()
    body = state.snapshot()
    capture = time.thread_time() - started
    started = time.thread_time()
    _, digest = encode_body({"last_applied_id": "1000-1", "state": body, "pending_trades": []})
    encoding = time.thread_time() - started

    async def figures() -> tuple[int, int]:
        return 0, 0

    info = SnapshotInfo("1000-1@0", "1000-1", 0, 0, args.accounts, digest)
    engine = SimpleNamespace(
        serving_state=lambda: state, state=state, leader=True, instance_name="bench", last_applied_id="1000-9",
        stream_figures=figures, last_snapshot=info, writer=SimpleNamespace(pending={}),
        hub=SimpleNamespace(gateway_ids=[]), commands_applied=0, emails={},
    )  # fmt: skip
    reads, admin, context = EngineServicer(engine), AdminServicer(engine), _Context()  # type: ignore[arg-type]
    print(f"state.snapshot() (on the loop) {capture * 1000:,.0f} ms; encoding + compressing + hashing it "
          f"(the snapshot's worker thread) {encoding * 1000:,.0f} ms")  # fmt: skip
    calls = {
        "GetStatus": lambda: admin.GetStatus(admin_service_pb2.GetStatusRequest(), context),
        "GetPrices": lambda: reads.GetPrices(engine_service_pb2.GetPricesRequest(), context),
    }
    for user, count in heavy.items():
        calls[f"GetAccount ({count:,} positions)"] = lambda u=user: reads.GetAccount(
            engine_service_pb2.GetAccountRequest(user_id=u), context
        )
        for size in (0, 500):
            calls[f"ListPositions page_size={size or 'default'} ({count:,} positions)"] = lambda u=user, s=size: (
                reads.ListPositions(engine_service_pb2.ListPositionsRequest(user_id=u, page_size=s), context)
            )

    async def measure() -> None:
        for name, call in calls.items():
            print(f"{name:55s} {await _timed(call, args.runs)}")

    asyncio.run(measure())


if __name__ == "__main__":
    main()
