"""Group commit cost: N calls of engine.trades.TradeStore.insert, each one fenced transaction of k rows
of mixed kinds (closed trades, ended orders, account events, in the proportions a close produces them),
against the local PostgreSQL (a throwaway database, migrated to head, dropped at the end). Prints the
engine's CPU (time.process_time: this process only, PostgreSQL's work is not in it) and wall time per
commit, median and p90, after a warm-up.

    .venv/bin/python -m bench.group_commit [--commits 2000] [--rows 8] [--warmup 200]

DATABASE_URL defaults to the local server."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from typing import Any

import asyncpg

from engine.event_store import EVENTS
from engine.row_kinds import RowKind
from engine.trade_rows import ORDERS, TRADES
from engine.trades import TradeStore, upgrade_schema

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# of every 8 rows: 2 closed trades, 1 ended order, 5 account events (a close's balance and position events)
MIX = (TRADES, EVENTS, EVENTS, ORDERS, EVENTS, TRADES, EVENTS, EVENTS)
EPOCH = 1


def _trade(n: int) -> dict[str, Any]:
    return {"id": f"trade-{n}", "user_id": f"user-{n % 100}", "asset": "BTC_USDC", "side": "LONG",
            "quantity": 100_000, "leverage": 10, "entry_price": 600_500_000, "close_price": 600_000_000,
            "margin_cents": 600, "pnl_cents": -5, "credited_cents": 595, "reason": "MANUAL", "decimal": 4,
            "opened_at_ms": 1, "closed_at_ms": 2 + n, "stop_loss": 0, "take_profit": 0,
            "liquidation_price": 540_000_000}  # fmt: skip


def _order(n: int) -> dict[str, Any]:
    return {"id": f"order-{n}", "user_id": f"user-{n % 100}", "asset": "BTC_USDC", "side": "LONG", "type": "LIMIT",
            "price": 600_000_000, "quantity": 100_000, "leverage": 10, "stop_loss": 0, "take_profit": 0,
            "reserved_cents": 600, "decimal": 4, "created_at_ms": 1, "expires_at_ms": 0, "status": "FILLED",
            "finished_at_ms": 2 + n, "position_id": f"pos-{n}", "fill_price": 600_000_000, "reject_reason": "",
            "message": ""}  # fmt: skip


def _event(n: int) -> dict[str, Any]:
    return {"user_id": f"user-{n % 100}", "seq": n, "time_ms": 2 + n, "kind": "BALANCE", "event": b"\x08\x01" * 40}


def _row(kind: RowKind, n: int) -> tuple[RowKind, dict[str, Any]]:
    make = {TRADES.name: _trade, ORDERS.name: _order, EVENTS.name: _event}[kind.name]
    return kind, make(n)


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_us": round(statistics.median(ordered) * 1e6),
            "p90_us": round(ordered[len(ordered) * 9 // 10] * 1e6),
            "mean_us": round(statistics.fmean(ordered) * 1e6)}  # fmt: skip


async def run(database_url: str, commits: int, rows: int, warmup: int) -> dict[str, Any]:
    await asyncio.to_thread(upgrade_schema, database_url)
    store = TradeStore(database_url, f"bench:{uuid.uuid4().hex[:8]}:stream:engine")
    cpu: list[float] = []
    wall: list[float] = []
    try:
        await store.claim_epoch(EPOCH)
        n = 0
        for commit in range(warmup + commits):
            group = [_row(MIX[(n + i) % len(MIX)], n + i) for i in range(rows)]
            n += rows
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            await store.insert(group, EPOCH)
            if commit >= warmup:
                cpu.append(time.process_time() - cpu_start)
                wall.append(time.perf_counter() - wall_start)
    finally:
        await store.close()
    return {"commits": commits, "rows_per_commit": rows, "cpu": _summary(cpu), "wall": _summary(wall)}


async def main(args: argparse.Namespace) -> None:
    database = f"exness_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(DATABASE_URL)
    await admin.execute(f'CREATE DATABASE "{database}"')
    try:
        result = await run(DATABASE_URL.rsplit("/", 1)[0] + f"/{database}", args.commits, args.rows, args.warmup)
        print(json.dumps(result, indent=2), flush=True)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.group_commit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=8, help="rows per commit, of mixed kinds")
    parser.add_argument("--warmup", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
