"""Closed-trade rows against a real PostgreSQL: every value the commands allow fits its column (leverage
is a uint32 in the commands), and a row the database refuses anyway is quarantined, loudly, while the
other rows of its group commit and every held close reply goes out."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from exness.engine.v1 import commands_pb2

from engine.metrics import EngineMetrics
from engine.trade_rows import TRADES, refused_by_database, row_problem, trade_key
from engine.trades import TradeStore, TradeWriter

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class RecordingHub:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, gateway_id: str, reply: commands_pb2.Reply) -> None:
        self.sent.append((gateway_id, reply.request_id))


def _row(trade_id: str, **changes: Any) -> dict[str, Any]:
    row = {
        "id": trade_id, "user_id": "u1", "asset": "BTC_USDC", "side": "LONG", "quantity": 100_000,
        "leverage": 10, "entry_price": 600_500_000, "close_price": 600_000_000, "margin_cents": 600,
        "pnl_cents": -5, "credited_cents": 595, "reason": "MANUAL", "decimal": 4, "opened_at_ms": 1,
        "closed_at_ms": 2, "stop_loss": 0, "take_profit": 0, "liquidation_price": 540_000_000,
    }  # fmt: skip
    row.update(changes)
    return row


@pytest.fixture
async def database_url(postgres_url: str) -> AsyncIterator[str]:
    """A database of this test's own (it adds a constraint to closed_trades)."""
    base, _, _ = postgres_url.rpartition("/")
    name = f"exness_rows_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_refused_rows_are_quarantined_and_the_rest_commits(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store, hub, metrics = TradeStore(database_url), RecordingHub(), EngineMetrics()
    writer = TradeWriter(store, hub, metrics)  # type: ignore[arg-type]
    try:
        await writer.flush_once()  # migrates the schema
        conn = await asyncpg.connect(database_url)
        try:
            # a refusal no check of the engine foresees (as a future constraint or column change could be)
            await conn.execute("ALTER TABLE closed_trades ADD CONSTRAINT no_test_asset CHECK (asset <> 'REFUSED')")
        finally:
            await conn.close()

        rows = [
            _row("t-ok-1"),
            _row("t-max-leverage", leverage=2**32 - 1),  # the largest leverage a command can carry
            _row("t-overflow", pnl_cents=2**63, credited_cents=2**63 + 595),  # beyond BIGINT
            _row("t-nul", user_id="u\x00"),  # PostgreSQL text cannot hold NUL
            _row("t-constraint", asset="REFUSED"),
            _row("t-ok-2", side="SHORT"),
        ]
        for row in rows:
            writer.add(row)
            writer.send_after_commit([trade_key(row["id"])], "gw", commands_pb2.Reply(request_id=f"r-{row['id']}"))
        assert row_problem(rows[0]) is None and row_problem(rows[1]) is None
        assert row_problem(rows[2]) and row_problem(rows[3])
        with caplog.at_level(logging.CRITICAL, logger="engine.trades"):
            await writer.flush_all()

        assert writer.pending == {} and writer.held == {}
        assert sorted(request_id for _, request_id in hub.sent) == sorted(f"r-{row['id']}" for row in rows)
        conn = await asyncpg.connect(database_url)
        try:
            committed = {r["id"]: r for r in await conn.fetch("SELECT * FROM closed_trades")}
            quarantined = {r["id"]: r for r in await conn.fetch("SELECT * FROM closed_trades_quarantine")}
        finally:
            await conn.close()
        assert sorted(committed) == ["t-max-leverage", "t-ok-1", "t-ok-2"]
        assert committed["t-max-leverage"]["leverage"] == 2**32 - 1
        assert sorted(quarantined) == ["t-constraint", "t-nul", "t-overflow"]
        for trade_id, kept in quarantined.items():
            assert json.loads(kept["row_json"]) == next(row for row in rows if row["id"] == trade_id)
            assert kept["error"]
        assert "no_test_asset" in quarantined["t-constraint"]["error"]
        critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
        assert sorted(r.row_id for r in critical) == sorted(quarantined)  # type: ignore[attr-defined]
        assert metrics.registry.get_sample_value("engine_trade_rows_quarantined_total") == 3
        assert metrics.registry.get_sample_value("engine_trade_rows_committed_total") == 3
    finally:
        await store.close()


async def test_a_refusal_no_check_foresaw_is_isolated_and_its_error_holds_no_row_value(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A value asyncpg cannot encode (here beyond BIGINT, past a kind whose check misses it) fails the
    group's one statement as a refusal: nothing of the group is written, the row is isolated and
    quarantined with the column named, and no log or quarantine error quotes a value of any row."""
    store, hub, metrics = TradeStore(database_url), RecordingHub(), EngineMetrics()
    writer = TradeWriter(store, hub, metrics)  # type: ignore[arg-type]
    unchecked = TRADES._replace(problem=lambda row: None)
    secret = 2**63 + 424_242
    rows = [_row("t-fine-1"), _row("t-unencodable", pnl_cents=secret), _row("t-fine-2"), _row("t-fine-3")]
    try:
        await writer.flush_once()  # migrates the schema
        with pytest.raises(Exception) as refused:
            await store.insert([(unchecked, row) for row in rows], epoch=0)
        assert refused_by_database(refused.value)
        assert "closed_trades.pnl_cents" in str(refused.value) and str(secret) not in repr(refused.value)

        for row in rows:
            writer.add(row, unchecked)
        with caplog.at_level(logging.INFO, logger="engine.trades"):
            await writer.flush_all()
        conn = await asyncpg.connect(database_url)
        try:
            committed = sorted(r["id"] for r in await conn.fetch("SELECT id FROM closed_trades"))
            quarantined = {r["id"]: r["error"] for r in await conn.fetch("SELECT * FROM closed_trades_quarantine")}
        finally:
            await conn.close()
        assert committed == ["t-fine-1", "t-fine-2", "t-fine-3"] and list(quarantined) == ["t-unencodable"]
        assert "closed_trades.pnl_cents" in quarantined["t-unencodable"]
        assert str(secret) not in quarantined["t-unencodable"]
        logged = [(r.getMessage(), getattr(r, "error", "")) for r in caplog.records]
        assert any("isolating" in message for message, _ in logged)
        assert not any(str(secret) in f"{message} {error}" for message, error in logged)
    finally:
        await store.close()


async def test_an_unreachable_database_is_not_a_refusal() -> None:
    # every row would fail alike: the writer must keep them and retry, not quarantine them
    store = TradeStore("postgresql://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(OSError) as failed:
            await store.insert([(TRADES, _row("t-1"))], epoch=3)
        assert not refused_by_database(failed.value)
    finally:
        await store.close()
