"""Account events through the real engine process and PostgreSQL: a StreamAccountEvents subscriber gets
every committed event of a run (opens, a manual close, a partial close, new levels, a stop-loss and a
liquidation) in order, exactly as an uninterrupted reference run numbers them; ListAccountEvents resumes
after any sequence number and answers `resync` past the last one; the statement pages reconcile with the
balance; after a SIGKILL the restarted engine commits no event twice and the subscriber, refilled from
the table, has each event exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import grpc
import pytest
import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2, engine_service_pb2, engine_service_pb2_grpc, events_pb2

from engine.config import EngineSettings
from engine.event_store import event_from_row
from harness.polling import apoll_until
from tests.integration.engine.support import (
    Producer,
    ReplyClient,
    close_position,
    create_account,
    open_position,
    price_update,
)
from tests.support import engine_process
from tests.support.engine_process import start_engine, wait_serving
from tests.support.processes import ManagedProcess

BTC = (600_500_000, 600_000_000)
DIP = (588_500_000, 588_000_000)  # -2%: the 50x long is liquidated, the stop-loss at 59,000.0000 fires


class EventClient:
    """A gateway's StreamAccountEvents call that reconnects, and after each (re)connect refills what it may
    have missed from ListAccountEvents, keeping each account's events by sequence number (duplicates
    dropped, as the gateway does)."""

    def __init__(self, address: str, users: list[str]) -> None:
        self.address, self.users = address, users
        self.events: dict[str, dict[int, events_pb2.AccountEvent]] = {user: {} for user in users}
        self.received = 0
        self.connects = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EventClient:
        self._task = asyncio.create_task(self._run())
        await apoll_until(lambda: self.connects > 0 or None, "the event stream to open", 60)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def _keep(self, event: events_pb2.AccountEvent) -> None:
        self.received += 1
        if event.user_id in self.events:
            self.events[event.user_id].setdefault(event.seq, event)

    async def _run(self) -> None:
        while True:
            try:
                async with grpc.aio.insecure_channel(self.address) as channel:
                    stub = engine_service_pb2_grpc.EngineServiceStub(channel)
                    call = stub.StreamAccountEvents(engine_service_pb2.StreamAccountEventsRequest(gateway_id="t"))
                    await call.initial_metadata()
                    for user in self.users:
                        await self._refill(stub, user)
                    self.connects += 1
                    async for response in call:
                        for event in response.events:
                            self._keep(event)
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)

    async def _refill(self, stub: engine_service_pb2_grpc.EngineServiceStub, user: str) -> None:
        while True:
            after = max(self.events[user], default=0)
            page = await stub.ListAccountEvents(
                engine_service_pb2.ListAccountEventsRequest(user_id=user, after_seq=after, limit=3)
            )
            assert not page.resync
            for event in page.events:
                self._keep(event)
            if not page.more:
                return

    def of(self, user: str) -> list[events_pb2.AccountEvent]:
        return [self.events[user][seq] for seq in sorted(self.events[user])]


def _expected(producer: Producer, user: str) -> list[events_pb2.AccountEvent]:
    return [event_from_row(row) for (owner, _), row in producer.event_rows.items() if owner == user]


async def _caught_up(client: EventClient, producer: Producer, users: list[str]) -> bool:
    return all(client.of(user) == _expected(producer, user) for user in users)


async def _statement(stub: engine_service_pb2_grpc.EngineServiceStub, user: str) -> list[events_pb2.AccountEvent]:
    lines: list[events_pb2.AccountEvent] = []
    token = ""
    while True:
        page = await stub.ListStatement(engine_service_pb2.ListStatementRequest(user_id=user, page_size=2,
                                                                               page_token=token))  # fmt: skip
        lines.extend(page.lines)
        token = page.next_page_token
        if not token:
            return lines


async def test_events_are_delivered_once_resumable_and_reconcile_across_a_sigkill(
    engine_env: dict[str, str], engine_settings: EngineSettings, redis_client: aioredis.Redis, key_prefix: str,
    artifacts_dir: Path,
) -> None:  # fmt: skip
    env = engine_process.engine_env({**engine_env, "SNAPSHOT_INTERVAL_SECONDS": "0.5"})
    proc, address = start_engine(env, artifacts_dir)
    producer = Producer(redis_client, env["STREAM_KEY"], engine_settings)
    alice, bob = f"{key_prefix}alice", f"{key_prefix}bob"
    try:
        async with ReplyClient(address) as replies, EventClient(address, [alice, bob]) as client:
            gw = replies.gateway_id
            await producer.send(create_account(alice, "alice@example.com"))
            await producer.send(create_account(bob, "bob@example.com"))
            await producer.send(price_update({"BTC_USDC": BTC}))
            for name, user, leverage, stop_loss in (("a", alice, 5, 0), ("b", alice, 50, 0),
                                                    ("c", bob, 5, 590_000_000), ("d", bob, 2, 0)):  # fmt: skip
                await producer.send(open_position(user, "BTC_USDC", "LONG", 200_000, leverage, stop_loss=stop_loss,
                                                  reply_to=gw, request_id=name))  # fmt: skip
            ids = {name: (await replies.wait_for(name)).position_opened.position.id for name in "abcd"}
            await producer.send(close_position(alice, ids["a"], reply_to=gw, request_id="close-a"))
            partial = close_position(bob, ids["d"], reply_to=gw, request_id="part-d")
            partial.close_position.quantity = 100_000
            await producer.send(partial)
            amend = commands_pb2.Command(
                user_id=bob,
                reply_to=gw,
                request_id="amend-d",
                amend_position=commands_pb2.AmendPosition(position_id=ids["d"], take_profit=650_000_000),
            )
            await producer.send(amend)
            assert (await replies.wait_for("amend-d")).WhichOneof("result") == "position_amended"
            await producer.send(price_update({"BTC_USDC": DIP}))
            await apoll_until(lambda: _caught_up(client, producer, [alice, bob]), "every event delivered", 30)
            kinds = [e.kind for e in client.of(alice) + client.of(bob)]
            closes = [e.position_closed.reason for e in client.of(alice) + client.of(bob) if e.position_closed.id]
            assert {events_pb2.ACCOUNT_EVENT_KIND_POSITION_UPDATED, events_pb2.ACCOUNT_EVENT_KIND_BALANCE} <= set(kinds)
            assert sorted(closes) == [1, 2, 4]  # MANUAL, STOP_LOSS, LIQUIDATION
            assert client.received == sum(len(client.of(u)) for u in (alice, bob))  # nothing came twice yet

            async with grpc.aio.insecure_channel(address) as channel:
                stub = engine_service_pb2_grpc.EngineServiceStub(channel)
                after = await stub.ListAccountEvents(
                    engine_service_pb2.ListAccountEventsRequest(user_id=bob, after_seq=2)
                )
                assert list(after.events) == _expected(producer, bob)[2:] and not after.resync
                beyond = await stub.ListAccountEvents(
                    engine_service_pb2.ListAccountEventsRequest(user_id=bob, after_seq=99)
                )
                assert beyond.resync and not beyond.events
                for user in (alice, bob):
                    lines = await _statement(stub, user)
                    account = await stub.GetAccount(engine_service_pb2.GetAccountRequest(user_id=user))
                    assert [line.seq for line in lines] == sorted((line.seq for line in lines), reverse=True)
                    assert lines[-1].balance.cause == events_pb2.BALANCE_CAUSE_DEPOSIT
                    assert sum(line.balance.amount_cents for line in lines) == account.account.balance_cents
                    assert lines[0].balance.balance_cents == account.account.balance_cents
                with pytest.raises(grpc.aio.AioRpcError) as bad:
                    await stub.ListStatement(engine_service_pb2.ListStatementRequest(user_id=bob, page_token="x!"))
                assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT

            # SIGKILL: the restarted engine replays what its snapshot lacks; no event is committed twice and
            # the subscriber, refilled after reconnecting, still has each one once
            proc.kill()
            await producer.send(open_position(alice, "BTC_USDC", "SHORT", 100_000, 3, reply_to=gw, request_id="e"))
            proc = ManagedProcess(proc.args, proc.log_path, env=env).start()
            await asyncio.to_thread(wait_serving, address, proc)
            await replies.wait_for("e")
            await producer.send(close_position(alice, (await replies.wait_for("e")).position_opened.position.id))
            await apoll_until(lambda: client.connects >= 2 or None, "the event stream to reconnect", 60)
            await apoll_until(lambda: _caught_up(client, producer, [alice, bob]), "events after the restart", 60)
    finally:
        proc.stop()
