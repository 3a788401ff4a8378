"""Reads and status calls of the Engine in this process against real Redis, MongoDB and PostgreSQL: none
does work proportional to the state or to an account's positions on the engine's loop. GetStatus reports
the newest snapshot's hash (computed with the snapshot, off the loop) with the entry it belongs to, and
ListPositions serves one bounded page in opening order; the status's stream lag reads only what Redis
cannot count."""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

import grpc
import pytest
import redis.asyncio as aioredis
from exness.engine.v1 import admin_service_pb2, engine_service_pb2

from engine.config import EngineSettings
from engine.domain import TradingState
from engine.lifecycle import Engine
from engine.servicers import AdminServicer, EngineServicer, encode_position_token
from engine.stream import StreamLog
from engine.trade_rows import encode_page_token
from harness.polling import apoll_until
from tests.integration.engine.in_process import running_engine
from tests.integration.engine.support import Producer, close_position, create_account, open_position, price_update

BTC = (600_500_000, 600_000_000)  # buy 60,050.0000 / sell 60,000.0000


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, details)
        self.code = code


class FakeContext:
    """Stands in for grpc.aio.ServicerContext: abort raises, as the real one does."""

    async def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        raise Aborted(code, details)


async def _applied(engine: Engine, entry_id: str) -> None:
    await apoll_until(lambda: engine.last_applied_id == entry_id, f"the engine to apply {entry_id}", 60)


def _refuse(*_: Any) -> NoReturn:
    raise AssertionError("the live state was serialised on the engine's loop")


@pytest.fixture
def quiet_settings(engine_settings: EngineSettings) -> EngineSettings:
    """No scheduled snapshot in the middle of a test."""
    return engine_settings.model_copy(update={"snapshot_interval_seconds": 3600.0})


async def test_status_reports_the_snapshot_hash_without_hashing_the_state(
    quiet_settings: EngineSettings, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    producer = Producer(redis_client, quiet_settings.stream_key, quiet_settings)
    async with running_engine(quiet_settings) as engine:
        for i in range(300):
            await producer.send(create_account(f"a{i}", f"a{i}@example.com"))
        await _applied(engine, producer.last_id)
        info = await engine.take_snapshot()
        # the snapshot's hash is the hash of exactly the state at its last_applied_id
        assert info.last_applied_id == producer.last_id
        assert info.state_hash == producer.reference.state_hash() == engine.state.state_hash()  # type: ignore[union-attr]
        await producer.send(create_account("later", "later@example.com"))
        await _applied(engine, producer.last_id)

        with monkeypatch.context() as patch:
            patch.setattr(TradingState, "snapshot", _refuse)
            patch.setattr(TradingState, "state_hash", _refuse)
            current = await AdminServicer(engine).GetStatus(admin_service_pb2.GetStatusRequest(), FakeContext())
        assert current.leader and current.last_applied_id == producer.last_id
        assert current.state_hash == info.state_hash and current.state_hash_id == info.last_applied_id
        assert current.state_hash_id != current.last_applied_id
        admin = AdminServicer(engine)
        snapshot_reply = await admin.TakeSnapshot(admin_service_pb2.TakeSnapshotRequest(), FakeContext())
        assert snapshot_reply.last_applied_id == producer.last_id
        assert snapshot_reply.state_hash == producer.reference.state_hash()

    # a restarted engine reports the hash of the snapshot it restored (kept in its manifest)
    async with running_engine(quiet_settings) as engine:
        with monkeypatch.context() as patch:
            patch.setattr(TradingState, "state_hash", _refuse)
            current = await AdminServicer(engine).GetStatus(admin_service_pb2.GetStatusRequest(), FakeContext())
        assert current.state_hash_id == current.last_applied_id == producer.last_id
        assert current.state_hash == producer.reference.state_hash()


async def test_positions_are_listed_a_bounded_page_at_a_time(
    quiet_settings: EngineSettings, redis_client: aioredis.Redis
) -> None:
    producer = Producer(redis_client, quiet_settings.stream_key, quiet_settings)
    async with running_engine(quiet_settings) as engine:
        # a user of its own: the closed trade below goes to the session's shared PostgreSQL database
        user = f"pager-{uuid.uuid4().hex[:8]}"
        await producer.send(create_account(user, f"{user}@example.com"))
        await producer.send(price_update({"BTC_USDC": BTC}))
        opened = [await producer.send(open_position(user, "BTC_USDC", "LONG", 100_000, 10)) for _ in range(230)]
        await _applied(engine, producer.last_id)
        ids = [f"pos-{entry_id}" for entry_id in opened]
        assert [p.id for p in producer.reference.positions_of(user)] == ids
        servicer, context = EngineServicer(engine), FakeContext()

        async def page(size: int = 0, token: str = "") -> engine_service_pb2.ListPositionsResponse:
            request = engine_service_pb2.ListPositionsRequest(user_id=user, page_size=size, page_token=token)
            return await servicer.ListPositions(request, context)

        # absent page_size: the default page, not the whole account
        first = await page()
        assert [v.position.id for v in first.positions] == ids[:100] and first.next_page_token
        assert first.positions[0].current_price == BTC[1]
        # a position of the next page closes, another opens, between two calls: nothing repeats or is skipped
        await producer.send(close_position(user, ids[150]))
        late = await producer.send(open_position(user, "BTC_USDC", "LONG", 100_000, 10))
        await _applied(engine, producer.last_id)
        second = await page(token=first.next_page_token)
        third = await page(token=second.next_page_token)
        assert [v.position.id for v in second.positions] == ids[100:150] + ids[151:201]
        assert [v.position.id for v in third.positions] == [*ids[201:], f"pos-{late}"]
        assert third.next_page_token == ""
        exact = await page(size=230)
        assert len(exact.positions) == 230 and exact.next_page_token == ""
        assert len((await page(size=500)).positions) == 230

        for bad in (dict(size=501), dict(token="not-a-token"), dict(token=encode_position_token(0)[:-2] + "!!")):
            with pytest.raises(Aborted) as refused:
                await page(**bad)  # type: ignore[arg-type]
            assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        # a token of another kind (a closed-trades token) is refused, not misread
        with pytest.raises(Aborted) as foreign:
            await page(token=encode_page_token(1, "x"))
        assert foreign.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_status_lag_counts_only_the_entries_redis_cannot(redis_client: aioredis.Redis, key_prefix: str) -> None:
    """GetStatus's lag: Redis gives the group's lag; only the gap between the last applied and the last
    delivered entry is counted by reading it (on the loop), so a small count bound is enough."""
    log = StreamLog(redis_client, f"{key_prefix}stream", "engine", "e0", f"{key_prefix}dead")
    await log.ensure_group()
    ids = [(await redis_client.xadd(log.stream_key, {"n": str(n)})).decode() for n in range(40)]
    assert len(await log.read_new(20, 10)) == 20  # delivered up to ids[19]; 20 entries not read yet
    assert await log.lag_after(ids[19], cap=10) == 20
    # applied only up to ids[14]: 5 delivered but not applied + 20 unread, whatever the count bound
    assert await log.lag_after(ids[14], cap=10) == 25
    assert await log.lag_after(None, cap=10) == 20
