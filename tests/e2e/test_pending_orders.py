"""End to end, over HTTP only, every service its own process and the fake Backpack driving the prices:
pending LIMIT and STOP orders are placed, the engine is SIGKILLed between placement and fill, prices then
cross the order levels, the engine is SIGKILLed again right after the fills, and each order has filled
exactly once: one position each, one FILLED history row each, the money to the cent (computed here with
Decimal arithmetic, not the engine's code)."""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from typing import Any

import httpx
import pytest

from harness.polling import apoll_until
from tests.e2e.platform import Platform
from tests.e2e.test_trading_journey import (
    START,
    Trader,
    _until_answered,
    dollars,
    driving_prices,
    margin_cents,
    platform_buy,
    platform_sell,
)

pytestmark = pytest.mark.e2e


async def _history(trader: Trader) -> list[dict[str, Any]]:
    response = await trader.read("/orders/history")
    assert response.status_code == 200, response.text
    orders: list[dict[str, Any]] = response.json()["orders"]
    return orders


async def _kill_and_restart(platform: Platform) -> None:
    assert platform.engine is not None
    platform.engine.kill(signal.SIGKILL)
    await asyncio.to_thread(platform.start_engine)


async def test_orders_placed_before_an_engine_sigkill_fill_exactly_once_after_it(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.api, timeout=20) as api, driving_prices(platform) as prices:
        await prices.set(api, "ETH_USDC", "3000", "3000")  # platform buy 3030, sell 3000
        fay = Trader(platform, api)
        await fay.signup()
        limit_body = {"asset": "ETH_USDC", "side": "LONG", "type": "LIMIT", "price": "2900", "quantity": "1",
                      "leverage": 5}  # fmt: skip
        stop_body = {"asset": "ETH_USDC", "side": "SHORT", "type": "STOP", "price": "2950", "quantity": "0.5",
                     "leverage": 10}  # fmt: skip
        limit = await api.post("/orders", headers={**fay.auth, "Idempotency-Key": "fay-limit"}, json=limit_body)
        stop = await api.post("/orders", headers=fay.auth, json=stop_body)
        assert limit.status_code == 201 and stop.status_code == 201, (limit.text, stop.text)
        limit_order, stop_order = limit.json()["order"], stop.json()["order"]
        # reserves at the orders' own prices: $2,900 / 5 and $2,950 x 0.5 / 10
        reserved = margin_cents(Decimal(2900), "1", 5) + margin_cents(Decimal(2950), "0.5", 10)
        assert (limit_order["reservedMargin"], stop_order["reservedMargin"]) == (58_000, 14_750)
        assert (await fay.balance())["balance"] == START - reserved

        await _kill_and_restart(platform)  # between placement and fill
        again = await _until_answered(
            lambda: api.post("/orders", headers={**fay.auth, "Idempotency-Key": "fay-limit"}, json=limit_body)
        )
        assert again.status_code == 201 and again.json() == limit.json()  # remembered, not placed twice
        pending = (await fay.read("/orders")).json()["orders"]
        assert [order["id"] for order in pending] == [limit_order["id"], stop_order["id"]]
        assert (await fay.balance())["reservedMargin"] == reserved

        # bid = ask = 2850: buy 2878.5 <= 2900 fills the limit there; sell 2850 <= 2950 fills the stop there
        await prices.set(api, "ETH_USDC", "2850", "2850")
        fills = {limit_order["id"]: platform_buy("2850"), stop_order["id"]: platform_sell("2850")}

        async def both_filled() -> list[dict[str, Any]] | None:
            history = await _history(fay)
            return history if len(history) == 2 else None

        await apoll_until(both_filled, "both orders in the order history", 30)
        await _kill_and_restart(platform)  # right after the fills
        await prices.set(api, "ETH_USDC", "2850", "2850")  # the same prices again: nothing fills twice

        history = await _history(fay)
        assert sorted((o["id"], o["status"]) for o in history) == sorted((i, "FILLED") for i in fills)
        for record in history:
            assert dollars(record["fillPrice"], record["decimal"]) == fills[record["id"]]
        positions = await fay.open_orders()
        assert sorted(p["id"] for p in positions) == sorted(r["positionId"] for r in history)
        margins = {p["id"]: p["margin"] for p in positions}
        limit_margin = margin_cents(platform_buy("2850"), "1", 5)  # $2,878.50 / 5 = $575.70
        stop_margin = margin_cents(platform_sell("2850"), "0.5", 10)  # $1,425 / 10 = $142.50
        assert sorted(margins.values()) == sorted((limit_margin, stop_margin)) == [14_250, 57_570]
        balance = await fay.balance()
        assert (balance["balance"], balance["reservedMargin"], balance["pendingOrders"]) == (
            START - limit_margin - stop_margin, 0, 0,
        )  # fmt: skip
        assert (await fay.read("/orders")).json()["orders"] == []
        # a write right after the restart: retried with its key while the gateway's reply stream reconnects
        cancel = await _until_answered(
            lambda: api.delete(f"/orders/{limit_order['id']}", headers={**fay.auth, "Idempotency-Key": "fay-cancel"})
        )
        assert (cancel.status_code, cancel.json()["error"]["code"]) == (409, "ORDER_NOT_PENDING")
