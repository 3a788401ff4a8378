"""Helpers for the engine's integration tests: building Command entries, a producer that keeps a
reference TradingState in step with the stream (the uninterrupted run every engine result is compared
with), and a gateway-like StreamReplies client that reconnects across engine restarts."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import grpc
import redis.asyncio as aioredis
from exness.common.v1 import trading_pb2
from exness.engine.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    commands_pb2,
    engine_service_pb2,
    engine_service_pb2_grpc,
    orders_pb2,
)
from exness.market.v1 import market_pb2

from engine import orders_wire, translate
from engine.config import EngineSettings
from engine.domain import TradingState
from engine.event_store import event_row
from harness.polling import apoll_until
from mesh.stream_codec import decode_entry, encode_command


def create_account(user_id: str, email: str, balance: int = 1_000_000, **envelope: Any) -> commands_pb2.Command:
    return commands_pb2.Command(
        user_id=user_id, create_account=commands_pb2.CreateAccount(email=email, starting_balance_cents=balance),
        **_envelope(envelope),
    )  # fmt: skip


def open_position(user_id: str, asset: str, side: str, quantity: int, leverage: int, *, stop_loss: int = 0,
                  take_profit: int = 0, **envelope: Any) -> commands_pb2.Command:  # fmt: skip
    return commands_pb2.Command(
        user_id=user_id,
        open_position=commands_pb2.OpenPosition(
            asset=asset, side=trading_pb2.Side.Value(f"SIDE_{side}"), quantity=quantity, leverage=leverage,
            slippage_bps=100, stop_loss=stop_loss, take_profit=take_profit,
        ),
        **_envelope(envelope),
    )  # fmt: skip


def close_position(user_id: str, position_id: str, **envelope: Any) -> commands_pb2.Command:
    return commands_pb2.Command(
        user_id=user_id, close_position=commands_pb2.ClosePosition(position_id=position_id), **_envelope(envelope)
    )


def place_order(user_id: str, asset: str, side: str, order_type: str, price: int, quantity: int, leverage: int,
                *, stop_loss: int = 0, take_profit: int = 0, expires_at_ms: int = 0,
                **envelope: Any) -> commands_pb2.Command:  # fmt: skip
    return commands_pb2.Command(
        user_id=user_id,
        place_order=commands_pb2.PlaceOrder(
            asset=asset, side=trading_pb2.Side.Value(f"SIDE_{side}"), type=orders_pb2.OrderType.Value(
                f"ORDER_TYPE_{order_type}"), price=price, quantity=quantity, leverage=leverage, stop_loss=stop_loss,
            take_profit=take_profit, expires_at_ms=expires_at_ms, price_decimal=4,
        ),
        **_envelope(envelope),
    )  # fmt: skip


def cancel_order(user_id: str, order_id: str, **envelope: Any) -> commands_pb2.Command:
    return commands_pb2.Command(
        user_id=user_id, cancel_order=commands_pb2.CancelOrder(order_id=order_id), **_envelope(envelope)
    )


def price_update(prices: dict[str, tuple[int, int]]) -> commands_pb2.Command:
    """prices: asset -> (buy_price, sell_price), scale 4."""
    quotes = [market_pb2.Quote(asset=a, buy_price=b, sell_price=s, decimal=4) for a, (b, s) in prices.items()]
    return commands_pb2.Command(price_update=market_pb2.PriceUpdate(quotes=quotes, source="sim"))


def _envelope(values: dict[str, Any]) -> dict[str, Any]:
    values.setdefault("request_id", uuid.uuid4().hex)
    return values


class Producer:
    """XADDs commands and applies each entry, with the id Redis gave it, to a reference state."""

    def __init__(self, client: aioredis.Redis, stream_key: str, settings: EngineSettings) -> None:
        self.client = client
        self.stream_key = stream_key
        self.reference = TradingState(settings.rules())
        # request_id -> the reply an uninterrupted engine gives (proto), for commands with a reply_to
        self.expected: dict[str, commands_pb2.Reply] = {}
        self.closed_rows: dict[str, dict[str, Any]] = {}
        # order id -> its order_history row, for every order the reference run ended
        self.order_rows: dict[str, dict[str, Any]] = {}
        # (user id, seq) -> the account_events row of the uninterrupted run, in the order it made them
        self.event_rows: dict[tuple[str, int], dict[str, Any]] = {}
        self.last_id = "0-0"
        self.entries = 0

    async def send(self, command: commands_pb2.Command) -> str:
        entry_id = (await self.client.xadd(self.stream_key, encode_command(command))).decode()
        self.observe(entry_id, encode_command(command))
        return entry_id

    async def send_raw(self, fields: dict[str, bytes]) -> str:
        entry_id = (await self.client.xadd(self.stream_key, fields)).decode()
        self.observe(entry_id, fields)
        return entry_id

    def observe(self, entry_id: str, fields: dict[str, bytes]) -> None:
        self.last_id = entry_id
        self.entries += 1
        try:
            command = decode_entry(fields)
            domain_command = translate.command_from_proto(command)
        except (ValueError, translate.MalformedCommand):
            return
        outcome = self.reference.apply(domain_command, entry_id=entry_id, time_ms=int(entry_id.split("-")[0]),
                                       idempotency_key=command.idempotency_key)  # fmt: skip
        for trade in outcome.closed_trades:
            self.closed_rows[trade.id] = translate.closed_trade_row(trade)
        for finished in outcome.finished_orders:
            self.order_rows[finished.order.id] = orders_wire.order_history_row(finished)
        for event in outcome.events:
            self.event_rows[(event.user_id, event.seq)] = event_row(event)
        if outcome.reply is not None and command.request_id:
            self.expected[command.request_id] = translate.reply_to_proto(
                outcome.reply, request_id=command.request_id, stream_id=entry_id, state=self.reference
            )


class ReplyClient:
    """A gateway's StreamReplies call that reconnects (same gateway_id) whenever the engine goes away."""

    def __init__(self, address: str, gateway_id: str | None = None) -> None:
        self.address = address
        self.gateway_id = gateway_id or f"gw-{uuid.uuid4().hex[:8]}"
        self.replies: dict[str, commands_pb2.Reply] = {}
        self.connected = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ReplyClient:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.connected.wait(), 60)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with grpc.aio.insecure_channel(self.address) as channel:
                    stub = engine_service_pb2_grpc.EngineServiceStub(channel)
                    request = engine_service_pb2.StreamRepliesRequest(gateway_id=self.gateway_id, accepts_batches=True)
                    call = stub.StreamReplies(request)
                    await call.initial_metadata()
                    self.connected.set()
                    async for response in call:
                        async with self._arrived:
                            for reply in response.replies:
                                self.replies[reply.request_id] = reply
                            self._arrived.notify_all()
            except grpc.aio.AioRpcError:
                pass
            self.connected.clear()
            await asyncio.sleep(0.1)

    async def wait_for(self, request_id: str, within: float = 30) -> commands_pb2.Reply:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: request_id in self.replies), within)
        return self.replies[request_id]


async def status(address: str) -> admin_service_pb2.GetStatusResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = admin_service_pb2_grpc.EngineAdminServiceStub(channel)
        return await stub.GetStatus(admin_service_pb2.GetStatusRequest(), timeout=10)


async def take_snapshot(address: str) -> admin_service_pb2.TakeSnapshotResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = admin_service_pb2_grpc.EngineAdminServiceStub(channel)
        return await stub.TakeSnapshot(admin_service_pb2.TakeSnapshotRequest(), timeout=60)


async def applied_state_hash(address: str, entry_id: str, within: float = 60, committed: bool = False) -> str:
    """The engine's state hash once it has applied `entry_id` (see wait_applied): the hash TakeSnapshot
    returns, of exactly the state at its last_applied_id (GetStatus reports only the newest snapshot's)."""
    await wait_applied(address, entry_id, within, committed)
    snapshot = await take_snapshot(address)
    assert snapshot.last_applied_id == entry_id, "entries were applied after the awaited one"
    return snapshot.state_hash


async def wait_applied(address: str, entry_id: str, within: float = 60,
                       committed: bool = False) -> admin_service_pb2.GetStatusResponse:  # fmt: skip
    """Poll GetStatus until the engine has applied `entry_id` (tolerating restarts in between) and, with
    `committed`, until every closed trade is in PostgreSQL."""

    async def applied() -> admin_service_pb2.GetStatusResponse | None:
        current = await status(address)
        caught_up = current.leader and current.last_applied_id == entry_id
        return current if caught_up and (not committed or current.pending_trade_rows == 0) else None

    what = f"the engine at {address} to apply {entry_id}" + (" and commit its trades" if committed else "")
    return await apoll_until(applied, what, within, ignore=(grpc.aio.AioRpcError,))
