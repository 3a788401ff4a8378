"""The checks every fault test ends with, and the figures it reports:

- the engine caught up with the whole stream and committed every closed trade;
- an independent replay of the stream (a fresh TradingState fed every entry, in order) has the engine's
  state hash: the stream and the engine's state agree;
- every acknowledged operation is the replay's reply to that very entry (lost: 0), and each idempotency key
  opened at most one position, closed at most one trade, placed or cancelled at most one order, however
  often it was retried (doubled: 0);
- PostgreSQL holds exactly the replay's closed trades, each once;
- each account reconciles to the cent from outside the engine's arithmetic: starting balance, minus the
  margins still locked and the reserves of its pending orders, plus what every closed trade in PostgreSQL
  returned (credited minus margin), equals the balance the engine reports;
- the account events in PostgreSQL are exactly the replay's, each once, numbered 1..n per account with no
  gap, and each account's statement (its BALANCE events: the deposit first) sums to its balance;
- the pending orders the clients placed and cancelled: tests/chaos/verify_orders.py."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import redis.asyncio as aioredis
from exness.engine.v1 import engine_service_pb2, engine_service_pb2_grpc, events_pb2

from engine.config import EngineSettings
from harness.polling import apoll_until
from tests.chaos.load import START_BALANCE, Load
from tests.chaos.verify_orders import verify_orders
from tests.integration.engine.support import Producer, applied_state_hash, wait_applied

REPORT_FILE = "chaos-report.jsonl"


@dataclass
class Figures:
    scenario: str
    faults: int
    operations_acknowledged: int = 0
    attempts: int = 0
    retries: int = 0
    stream_entries: int = 0
    closed_trades: int = 0
    accounts_reconciled: int = 0
    lost: int = 0
    doubled: int = 0
    recovery_seconds: dict[str, float] = field(default_factory=dict)
    # the clients' pending orders: placed, cancelled, filled, ... (tests/chaos/verify_orders.py)
    orders: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


async def verify(load: Load, figures: Figures, *, address: str, redis_url: str, settings: EngineSettings,
                 postgres_url: str, other_users: tuple[str, ...] = ()) -> Figures:  # fmt: skip
    """`other_users`: accounts the test made besides the clients' (also START_BALANCE), reconciled too."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        producer = Producer(client, settings.stream_key, settings)
        for entry_id, fields in await client.xrange(settings.stream_key):
            producer.observe(entry_id.decode(), fields)
    finally:
        await client.aclose()
    assert producer.entries > 0 and not producer.last_id.startswith("0-")
    await wait_applied(address, producer.last_id, within=120, committed=True)
    assert await applied_state_hash(address, producer.last_id, committed=True) == producer.reference.state_hash()

    acknowledged = load.acknowledged
    lost = [a.request_id for a in acknowledged if producer.expected.get(a.request_id) != a.reply]
    effects: dict[str, set[str]] = defaultdict(set)
    for request_id, reply in producer.expected.items():
        kind = reply.WhichOneof("result")
        if kind == "position_opened":
            effects[request_id.partition("#")[0]].add(reply.position_opened.position.id)
        elif kind == "position_closed":
            effects[request_id.partition("#")[0]].add(reply.position_closed.trade.id)
        elif kind == "order_placed":
            effects[request_id.partition("#")[0]].add(reply.order_placed.order.id)
        elif kind == "order_cancelled":
            effects[request_id.partition("#")[0]].add(reply.order_cancelled.order.order.id)
    doubled = [key for key, ids in effects.items() if len(ids) > 1]

    rows = await _closed_rows(postgres_url, load.prefix)
    assert rows == {trade_id: row for trade_id, row in producer.closed_rows.items()}
    clients_users = [user for c in load.clients for user in c.users]
    users = clients_users + list(other_users)
    figures.accounts_reconciled = await _reconcile(address, users, rows)
    events = await _verify_events(postgres_url, address, producer, load.prefix, users)
    figures.extra["account_events"] = len(events)
    figures.orders = await verify_orders(acknowledged, producer, postgres_url, address, clients_users, rows, events)
    figures.operations_acknowledged = len(acknowledged)
    figures.attempts = sum(c.log.attempts for c in load.clients)
    figures.retries = sum(c.log.retries for c in load.clients)
    figures.stream_entries = producer.entries
    figures.closed_trades = len(rows)
    figures.lost, figures.doubled = len(lost), len(doubled)
    assert not lost, f"acknowledged operations not in the stream's replay: {lost[:5]}"
    assert not doubled, f"idempotency keys applied twice: {doubled[:5]}"
    return figures


async def _closed_rows(postgres_url: str, prefix: str) -> dict[str, dict[str, Any]]:
    conn = await asyncpg.connect(postgres_url)
    try:
        found = await conn.fetch("SELECT * FROM closed_trades WHERE starts_with(user_id, $1)", prefix)
    finally:
        await conn.close()
    return {row["id"]: dict(row) for row in found}


async def _reconcile(address: str, users: list[str], rows: dict[str, dict[str, Any]]) -> int:
    returned: dict[str, int] = defaultdict(int)
    for row in rows.values():
        returned[row["user_id"]] += row["credited_cents"] - row["margin_cents"]
    async with grpc.aio.insecure_channel(address) as channel:
        stub = engine_service_pb2_grpc.EngineServiceStub(channel)
        for user in users:
            account = await stub.GetAccount(engine_service_pb2.GetAccountRequest(user_id=user), timeout=10)
            expected = START_BALANCE - account.used_margin_cents - account.reserved_margin_cents + returned[user]
            assert account.account.balance_cents == expected, (user, account.account.balance_cents, expected)
    return len(users)


async def _verify_events(
    postgres_url: str, address: str, producer: Producer, prefix: str, users: list[str]
) -> dict[tuple[str, int], dict[str, Any]]:
    """The account_events rows of the test, once checked."""
    expected = {key: row for key, row in producer.event_rows.items() if key[0].startswith(prefix)}

    async def committed() -> dict[tuple[str, int], dict[str, Any]] | None:
        conn = await asyncpg.connect(postgres_url)
        try:
            found = await conn.fetch("SELECT * FROM account_events WHERE starts_with(user_id, $1)", prefix)
        finally:
            await conn.close()
        rows = {(row["user_id"], row["seq"]): dict(row) for row in found}
        return rows if len(rows) >= len(expected) else None

    rows = await apoll_until(committed, "every account event committed to PostgreSQL", 60)
    assert rows.keys() == expected.keys(), sorted(rows.keys() ^ expected.keys())[:5]
    assert all(bytes(rows[key]["event"]) == bytes(row["event"]) for key, row in expected.items())
    seqs: dict[str, list[int]] = defaultdict(list)
    statement: dict[str, int] = defaultdict(int)
    for (user, seq), row in sorted(rows.items()):
        seqs[user].append(seq)
        event = events_pb2.AccountEvent.FromString(bytes(row["event"]))
        if event.HasField("balance"):
            statement[user] += event.balance.amount_cents
    assert all(numbers == list(range(1, len(numbers) + 1)) for numbers in seqs.values()), "a gap in the numbering"
    async with grpc.aio.insecure_channel(address) as channel:
        stub = engine_service_pb2_grpc.EngineServiceStub(channel)
        for user in users:
            account = await stub.GetAccount(engine_service_pb2.GetAccountRequest(user_id=user), timeout=10)
            assert statement[user] == account.account.balance_cents, (user, statement[user], account)
    return rows


def report(figures: Figures, artifacts_dir: Path) -> None:
    """Print the figures and append them to the session's report (tests/chaos/conftest.py prints it at the end)."""
    line = json.dumps(asdict(figures), sort_keys=True)
    print(f"CHAOS {line}")
    with (artifacts_dir / REPORT_FILE).open("a") as out:
        out.write(line + "\n")
