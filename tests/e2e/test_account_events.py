"""End to end, every service its own process, the fake Backpack as the price source: a client holds
WS /ws/account while its positions are stopped out and liquidated by the prices the test scripts; the
engine and then the gateway are SIGKILLed mid-run, and the client, reconnecting with `since` whenever its
socket drops, has seen every event of its account exactly once and in order; the events match the REST
answers (closed trades, balance, statement) to the cent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websockets

from harness.polling import apoll_until
from tests.e2e.platform import Platform
from tests.e2e.test_trading_journey import (
    START,
    Trader,
    assert_closed,
    assert_opened,
    driving_prices,
    platform_buy,
)

pytestmark = pytest.mark.e2e


class EventSocket:
    """A careful client of /ws/account: keeps every message it receives, and when the socket drops
    (a gateway restart) reconnects with `since` = the last sequence number it received."""

    def __init__(self, mesh: Platform, token: str) -> None:
        self.url = f"ws://127.0.0.1:{mesh.gateway_port}/api/v1/ws/account"
        self.token = token
        self.received: list[dict[str, Any]] = []
        self.control: list[dict[str, Any]] = []
        self.connections = 0

    @property
    def last_seq(self) -> int:
        return self.received[-1]["seq"] if self.received else 0

    async def run(self) -> None:
        while True:
            with contextlib.suppress(OSError, websockets.ConnectionClosed, websockets.InvalidHandshake):
                async with websockets.connect(self.url) as socket:
                    await socket.send(json.dumps({"type": "auth", "token": self.token, "since": self.last_seq}))
                    self.connections += 1
                    async for text in socket:
                        message = json.loads(text)
                        if message["type"] in ("SUBSCRIBED", "RESYNC"):
                            self.control.append(message)
                        else:
                            self.received.append(message)
            await asyncio.sleep(0.2)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.received if event["type"] == kind]


@contextlib.asynccontextmanager
async def holding(socket: EventSocket) -> AsyncIterator[EventSocket]:
    task = asyncio.create_task(socket.run())
    try:
        yield socket
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _statement(trader: Trader) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await trader.read("/account/statement", limit="3", **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        lines += body["entries"]
        if (cursor := body["nextCursor"]) is None:
            return lines


async def _seen_up_to(socket: EventSocket, seq: int) -> None:
    await apoll_until(lambda: socket.last_seq >= seq or None, f"the client to see event {seq}", 60)


async def test_a_client_sees_each_event_once_across_engine_and_gateway_sigkills(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.api, timeout=20) as api, driving_prices(platform) as prices:
        await prices.set(api, "BTC_USDC", "100000", "100000")
        trader = Trader(platform, api)
        await trader.signup()
        async with holding(EventSocket(platform, trader.token)) as socket:
            await _seen_up_to(socket, 1)  # the deposit
            btc_buy = platform_buy("100000")
            liquidating = assert_opened(
                await trader.open(asset="BTC_USDC", side="LONG", quantity="0.02", leverage=50), "LONG", btc_buy,
                "0.02", 50,
            )  # fmt: skip
            stopping = assert_opened(
                await trader.open(asset="BTC_USDC", side="LONG", quantity="0.01", leverage=10, stopLoss="99500"),
                "LONG", btc_buy, "0.01", 10,
            )  # fmt: skip
            await _seen_up_to(socket, 5)

            # the stop-loss fires at 99,400; the engine is SIGKILLed right after and restarts
            await prices.set(api, "BTC_USDC", "99400", "99400")
            stopped = await trader.wait_closed(stopping["id"])
            stop_credit = assert_closed(stopped, "STOP_LOSS", Decimal("99400"), btc_buy, "0.01")
            assert platform.engine is not None
            platform.engine.kill(signal.SIGKILL)
            await asyncio.to_thread(platform.start_engine)

            # 98,500: below the 50x position's liquidation level; then the gateway is SIGKILLed
            await prices.set(api, "BTC_USDC", "98500", "98500")
            liquidated = await trader.wait_closed(liquidating["id"])
            assert assert_closed(liquidated, "LIQUIDATION", Decimal("98500"), btc_buy, "0.02") == 0
            assert platform.gateway is not None
            platform.gateway.kill(signal.SIGKILL)
            await asyncio.to_thread(platform.start_gateway)

            # after both restarts: one more position opened and closed by hand
            manual = (await trader.open(asset="BTC_USDC", side="SHORT", quantity="0.01", leverage=5)).json()["trade"]
            closed = await trader.close(manual["id"])
            assert closed.status_code == 201, closed.text
            lines = await _statement(trader)
            await _seen_up_to(socket, lines[0]["seq"])

        # each event exactly once, in order, without a gap; the socket was reopened after the gateway's death
        assert [event["seq"] for event in socket.received] == list(range(1, lines[0]["seq"] + 1))
        assert socket.connections >= 2 and all(m["type"] == "SUBSCRIBED" for m in socket.control)
        kinds = [event["type"] for event in socket.received]
        assert kinds.count("POSITION_OPENED") == kinds.count("POSITION_CLOSED") == 3

        # the events are the REST answers to the cent
        history = {trade["id"]: trade for trade in await trader.closed_orders()}
        assert {event["trade"]["id"]: event["trade"] for event in socket.of("POSITION_CLOSED")} == history
        reasons = sorted(trade["reason"] for trade in history.values())
        assert reasons == ["LIQUIDATION", "MANUAL", "STOP_LOSS"]
        balance = await trader.balance()
        movements = socket.of("BALANCE")
        assert movements[-1]["balance"] == balance["balance"] and movements[-1]["usedMargin"] == 0
        assert sum(event["amount"] for event in movements) == balance["balance"]
        assert movements[0]["amount"] == START
        assert [(line["seq"], line["type"], line["amount"], line["balanceAfter"]) for line in lines] == [
            (event["seq"], event["cause"], event["amount"], event["balance"]) for event in reversed(movements)
        ]
        assert stop_credit in [event["amount"] for event in movements if event["cause"] == "POSITION_CLOSED"]
