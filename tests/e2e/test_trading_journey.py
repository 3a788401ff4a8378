"""End to end, over HTTP and WebSocket only, with every service its own process and the fake Backpack
as the price source: several users trade concurrently through price moves that hit stop-loss,
take-profit and liquidation; balances and PnL are checked to the cent against values computed here
independently (Decimal arithmetic, not the engine's code); the engine is SIGKILLed mid-run and
restarted, and nothing acknowledged is lost or doubled (also an amended, partly closed position); the
gateway is restarted and clients carry on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from collections.abc import AsyncIterator
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx
import pytest
import websockets

from harness.polling import NotYet, apoll_until
from tests.e2e.platform import Platform

pytestmark = pytest.mark.e2e

START = 1_000_000  # STARTING_BALANCE_CENTS default: $10,000.00
SPREAD = Decimal("0.01")  # SPREAD_BPS default 100
TICK = Decimal("0.0001")  # every asset's price scale (decimal 4)


# ---- independent arithmetic (docs/contract.md §1-4), deliberately not the engine's integer code ----------


def platform_buy(ask: str) -> Decimal:
    return (Decimal(ask) * (1 + SPREAD)).quantize(TICK, ROUND_CEILING)


def platform_sell(bid: str) -> Decimal:
    return Decimal(bid).quantize(TICK, ROUND_FLOOR)


def margin_cents(entry: Decimal, quantity: str, leverage: int) -> int:
    return int((entry * Decimal(quantity) * 100 / leverage).to_integral_value(ROUND_CEILING))


def pnl_cents(side: str, entry: Decimal, close: Decimal, quantity: str) -> int:
    move = close - entry if side == "LONG" else entry - close
    return int((move * Decimal(quantity) * 100).to_integral_value(ROUND_HALF_EVEN))


def dollars(scaled: int, decimal: int) -> Decimal:
    return Decimal(scaled).scaleb(-decimal)


# ---- price control ----------------------------------------------------------------------------------


class Prices:
    """Keeps the fake Backpack quoting the tops the test chose (re-sent often, so quotes stay fresh)."""

    def __init__(self, mesh: Platform) -> None:
        self.mesh = mesh
        self.tops: dict[str, tuple[str, str]] = {}

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                for symbol, (bid, ask) in list(self.tops.items()):
                    await client.get(
                        f"http://127.0.0.1:{self.mesh.fake_port}/control/top",
                        params={"symbol": symbol, "bid": bid, "ask": ask},
                    )
                await asyncio.sleep(0.25)

    async def set(self, api: httpx.AsyncClient, symbol: str, bid: str, ask: str) -> None:
        """Quote bid/ask and wait until the engine holds the resulting platform prices."""
        self.tops[symbol] = (bid, ask)
        want = (platform_buy(ask), platform_sell(bid))

        async def quoted() -> bool:
            response = await api.get("/prices")
            if response.status_code != 200:
                raise NotYet(f"/prices answered {response.status_code}")
            quote = response.json()["prices"].get(symbol)
            return (
                bool(quote)
                and (dollars(quote["buyPrice"], quote["decimal"]), dollars(quote["sellPrice"], quote["decimal"]))
                == want
            )

        await apoll_until(quoted, f"the engine to quote {symbol} at {want}", 30)
        # one more publish cycle so every trigger of this move has run in the engine
        await asyncio.sleep(0.3)


@contextlib.asynccontextmanager
async def driving_prices(mesh: Platform) -> AsyncIterator[Prices]:
    prices = Prices(mesh)
    task = asyncio.create_task(prices.run())
    try:
        yield prices
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# ---- a trader -----------------------------------------------------------------------------------------


class Trader:
    def __init__(self, mesh: Platform, client: httpx.AsyncClient) -> None:
        self.mesh = mesh
        self.client = client
        self.email = f"trader-{uuid.uuid4().hex[:8]}@Example.com"
        self.token = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def signup(self) -> dict[str, Any]:
        response = await self.client.post("/signup", json={"email": self.email, "password": "correct horse 1"})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        assert body["user"]["email"] == self.email.lower()
        assert body["user"]["balance"] == START
        self.token = body["token"]
        return body

    async def open(self, key: str | None = None, **order: Any) -> httpx.Response:
        headers = {**self.auth, **({"Idempotency-Key": key} if key else {})}
        return await self.client.post("/trade/create", json=order, headers=headers)

    async def close(self, order_id: str, key: str | None = None) -> httpx.Response:
        headers = {**self.auth, **({"Idempotency-Key": key} if key else {})}
        return await self.client.post("/trade/close", json={"orderId": order_id}, headers=headers)

    async def balance(self) -> dict[str, Any]:
        response = await self.read("/balance")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def read(self, path: str, **params: str) -> httpx.Response:
        """GET, retrying 503 for a while: what a client does while the engine restarts."""

        async def answered() -> tuple[httpx.Response] | None:
            response = await self.client.get(path, headers=self.auth, params=params)
            return None if response.status_code == 503 else (response,)

        (response,) = await apoll_until(answered, f"GET {path} answered without 503", 30, interval=0.1)
        return response

    async def open_orders(self) -> list[dict[str, Any]]:
        response = await self.read("/trade/open")
        assert response.status_code == 200, response.text
        orders: list[dict[str, Any]] = response.json()["orders"]
        return orders

    async def closed_orders(self) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
            response = await self.read("/trade/closed", **params)
            assert response.status_code == 200, response.text
            body = response.json()
            orders += body["orders"]
            cursor = body["nextCursor"]
            if not cursor:
                return orders

    async def wait_closed(self, order_id: str) -> dict[str, Any]:
        async def closed() -> dict[str, Any] | None:
            return next((order for order in await self.closed_orders() if order["id"] == order_id), None)

        return await apoll_until(closed, f"{order_id} in the closed history", 30)


def assert_opened(response: httpx.Response, side: str, entry: Decimal, quantity: str, leverage: int) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    trade: dict[str, Any] = response.json()["trade"]
    assert trade["side"] == side
    assert Decimal(trade["quantity"]) == Decimal(quantity)
    assert dollars(trade["entryPrice"], trade["decimal"]) == entry
    assert trade["margin"] == margin_cents(entry, quantity, leverage)
    return trade


def assert_closed(trade: dict[str, Any], reason: str, close: Decimal, entry: Decimal, quantity: str) -> int:
    """Checks a closed trade; returns what the balance must have received, in cents."""
    assert trade["reason"] == reason
    assert dollars(trade["closePrice"], trade["decimal"]) == close
    expected_pnl = pnl_cents(trade["side"], entry, close, quantity)
    assert trade["pnl"] == expected_pnl
    credited = max(0, trade["margin"] + expected_pnl)
    assert trade["credited"] == credited
    return credited


async def test_concurrent_traders_hit_stop_loss_take_profit_liquidation_and_survive_crashes(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.api, timeout=20) as api, driving_prices(platform) as prices:
        await asyncio.gather(
            prices.set(api, "BTC_USDC", "100000", "100000"),
            prices.set(api, "ETH_USDC", "3000", "3000"),
            prices.set(api, "SOL_USDC", "200", "200"),
        )
        alice, bob, carol, dave = (Trader(platform, api) for _ in range(4))
        await asyncio.gather(*(t.signup() for t in (alice, bob, carol, dave)))

        # the WebSocket shows the same prices the engine trades on
        async with websockets.connect(platform.ws_prices) as socket:
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert message["type"] == "PRICE_UPDATE"
            btc = message["prices"]["BTC_USDC"]
            assert dollars(btc["buyPrice"], btc["decimal"]) == Decimal("101000")

        btc_buy, btc_sell = platform_buy("100000"), platform_sell("100000")
        eth_sell, sol_buy = platform_sell("3000"), platform_buy("200")
        a, b, c, d = await asyncio.gather(
            alice.open(asset="BTC_USDC", side="LONG", quantity="0.01", leverage=10, takeProfit="105000"),
            bob.open(
                asset="ETH_USDC",
                side="SHORT",
                quantity=0.5,
                leverage=5,
                stopLoss=3200,
                tradeOpeningPrice="3000",
                slippage=1,
            ),
            carol.open(asset="BTC_USDC", side="LONG", quantity="0.02", leverage=50),
            dave.open(asset="SOL_USDC", side="LONG", quantity="1", leverage=2),
        )
        a_trade = assert_opened(a, "LONG", btc_buy, "0.01", 10)
        b_trade = assert_opened(b, "SHORT", eth_sell, "0.5", 5)
        c_trade = assert_opened(c, "LONG", btc_buy, "0.02", 50)
        d_trade = assert_opened(d, "LONG", sol_buy, "1", 2)
        # by hand: $1,010 notional at 10x = $101.00; $1,500 at 5x = $300.00; $2,020 at 50x = $40.40; $202 at 2x
        assert [t["margin"] for t in (a_trade, b_trade, c_trade, d_trade)] == [10_100, 30_000, 4_040, 10_100]
        # liquidation fixed at open, the first price at which margin + pnl (half-to-even cents) <= 0: carol's
        # loss at 98,980.25 is $40.395 -> $40.40 (even), her whole margin; bob's at 3,599.99 is $299.995 -> $300.00
        assert dollars(c_trade["liquidationPrice"], 4) == Decimal("98980.25")
        assert dollars(b_trade["liquidationPrice"], 4) == Decimal("3599.99")

        # the order's own answer is already marked to the market: a LONG is worth the sell price now
        assert dollars(a_trade["currentPrice"], 4) == btc_sell
        assert a_trade["pnl"] == pnl_cents("LONG", btc_buy, btc_sell, "0.01") == -1_000
        # and so is the open-positions list
        open_a = (await alice.open_orders())[0]
        assert open_a["pnl"] == pnl_cents("LONG", btc_buy, btc_sell, "0.01") == -1_000
        balance = await alice.balance()
        assert balance["balance"] == START - 10_100
        assert balance["usedMargin"] == 10_100
        assert balance["equity"] == START - 1_000
        assert balance["activePositions"] == 1

        # BTC falls to 99,000: carol's liquidation level (98,980) is not reached yet
        await prices.set(api, "BTC_USDC", "99000", "99000")
        assert len(await carol.open_orders()) == 1
        # ... to 98,500: carol is liquidated at the market, her loss capped at her margin
        await prices.set(api, "BTC_USDC", "98500", "98500")
        liquidated = await carol.wait_closed(c_trade["id"])
        assert assert_closed(liquidated, "LIQUIDATION", Decimal("98500"), btc_buy, "0.02") == 0
        assert (await carol.balance())["balance"] == START - 4_040

        # ETH rises: bob's SHORT stop-loss at 3,200 fills at the market buy price 3,282.50
        await prices.set(api, "ETH_USDC", "3250", "3250")
        stopped = await bob.wait_closed(b_trade["id"])
        credit = assert_closed(stopped, "STOP_LOSS", Decimal("3282.5"), eth_sell, "0.5")
        assert credit == 30_000 - 14_125
        assert (await bob.balance())["balance"] == START - 30_000 + credit == 985_875

        # BTC jumps through alice's take-profit: filled at the market 106,000, not at 105,000
        await prices.set(api, "BTC_USDC", "106000", "106000")
        taken = await alice.wait_closed(a_trade["id"])
        credit = assert_closed(taken, "TAKE_PROFIT", Decimal("106000"), btc_buy, "0.01")
        assert (await alice.balance())["balance"] == START - 10_100 + credit == 1_005_000

        # dave closes by hand at the SOL sell price
        await prices.set(api, "SOL_USDC", "210", "210")
        closed = await dave.close(d_trade["id"])
        assert closed.status_code == 201, closed.text
        credit = assert_closed(closed.json()["trade"], "MANUAL", Decimal("210"), sol_buy, "1")
        assert (await dave.balance())["balance"] == START - 10_100 + credit == 1_000_800

        # each closed trade appears exactly once in each owner's history
        for trader, trade in ((alice, a_trade), (bob, b_trade), (carol, c_trade), (dave, d_trade)):
            history = await trader.closed_orders()
            assert [t["id"] for t in history] == [trade["id"]]
        # nobody can see or close another user's order
        assert (await bob.close(d_trade["id"])).status_code == 404


async def _place_until_acknowledged(trader: Trader, key: str, order: dict[str, Any]) -> dict[str, Any]:
    """A careful client: retry the same Idempotency-Key on 503/504 and dropped connections until 201."""

    async def acknowledged() -> dict[str, Any] | None:
        response = await trader.open(key, **order)
        if response.status_code == 201:
            trade: dict[str, Any] = response.json()["trade"]
            return trade
        assert response.status_code in (503, 504), response.text
        return None

    return await apoll_until(
        acknowledged, f"order {key} acknowledged", 60, interval=0.1, ignore=(httpx.TransportError,)
    )


async def test_engine_sigkill_mid_run_loses_and_doubles_nothing(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.api, timeout=20) as api, driving_prices(platform) as prices:
        await prices.set(api, "SOL_USDC", "200", "200")
        traders = [Trader(platform, api) for _ in range(3)]
        await asyncio.gather(*(t.signup() for t in traders))
        order = {"asset": "SOL_USDC", "side": "LONG", "quantity": "0.1", "leverage": 2}
        per_trader = 6
        acknowledged_so_far: list[str] = []
        some_acknowledged = asyncio.Event()

        async def trade(trader: Trader) -> list[dict[str, Any]]:
            placed = []
            for n in range(per_trader):
                placed.append(await _place_until_acknowledged(trader, f"{trader.email}-{n}", order))
                acknowledged_so_far.append(placed[-1]["id"])
                if len(acknowledged_so_far) >= 3:
                    some_acknowledged.set()
            return placed

        async def crash_engine() -> None:
            # kill while orders are in flight: some acknowledged, most still to come
            await some_acknowledged.wait()
            assert platform.engine is not None
            platform.engine.kill(signal.SIGKILL)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(platform.start_engine)

        results = await asyncio.gather(*(trade(t) for t in traders), crash_engine())
        assert len(acknowledged_so_far) == 3 * per_trader
        margin = margin_cents(platform_buy("200"), "0.1", 2)
        for trader, acknowledged in zip(traders, results[:-1], strict=True):
            open_ids = sorted(o["id"] for o in await trader.open_orders())
            # every acknowledged order is there, once; no retry opened a second position
            assert open_ids == sorted(t["id"] for t in acknowledged)
            assert len(open_ids) == per_trader
            assert (await trader.balance())["balance"] == START - per_trader * margin


async def test_gateway_restart_clients_carry_on(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.api, timeout=20) as api, driving_prices(platform) as prices:
        await prices.set(api, "ETH_USDC", "3000", "3000")
        trader = Trader(platform, api)
        await trader.signup()
        opened = await trader.open(asset="ETH_USDC", side="LONG", quantity="0.1", leverage=3)
        assert opened.status_code == 201, opened.text

        assert platform.gateway is not None
        # uvicorn shuts down gracefully, then re-raises SIGTERM so its parent sees how it ended
        assert platform.gateway.stop() in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in platform.gateway.output()
        await asyncio.to_thread(platform.start_gateway)

        # the same token works against the new gateway process, and trading goes on
        orders = await trader.open_orders()
        assert [o["id"] for o in orders] == [opened.json()["trade"]["id"]]
        closed = await trader.close(orders[0]["id"])
        assert closed.status_code == 201, closed.text
        assert (await trader.balance())["balance"] == START - orders[0]["margin"] + closed.json()["trade"]["credited"]


async def _until_answered(send: Any) -> httpx.Response:
    """Retry a keyed write on 503/504 and dropped connections (the engine restarting) until it is answered."""

    async def answered() -> tuple[httpx.Response] | None:
        response: httpx.Response = await send()
        return None if response.status_code in (503, 504) else (response,)

    (response,) = await apoll_until(
        answered, "the write answered without 503/504", 60, interval=0.1, ignore=(httpx.TransportError,)
    )
    return response


async def test_amend_and_partial_close_survive_an_engine_sigkill(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.api, timeout=20) as api, driving_prices(platform) as prices:
        await prices.set(api, "ETH_USDC", "3000", "3000")
        erin = Trader(platform, api)
        await erin.signup()
        entry = platform_buy("3000")  # 3030
        trade = assert_opened(
            await erin.open(asset="ETH_USDC", side="LONG", quantity="1", leverage=5), "LONG", entry, "1", 5
        )
        assert trade["margin"] == 60_600  # $3,030 at 5x
        path = f"/trade/{trade['id']}"
        amended = await api.patch(path, headers=erin.auth, json={"stopLoss": 2900, "takeProfit": "3100"})
        assert amended.status_code == 200, amended.text
        assert (amended.json()["trade"]["stopLoss"], amended.json()["trade"]["takeProfit"]) == (29_000_000, 31_000_000)

        key = {**erin.auth, "Idempotency-Key": f"{erin.email}-part"}
        part = await api.post("/trade/close", headers=key, json={"orderId": trade["id"], "quantity": "0.4"})
        assert part.status_code == 201, part.text
        closed, rest = part.json()["trade"], part.json()["remaining"]
        # released floor(60600 * 0.4) = 24240; PnL (3000 - 3030) * 0.4 = -$12.00; credited 23040
        assert (closed["quantity"], closed["margin"], closed["pnl"], closed["credited"]) == (
            "0.4",
            24_240,
            -1_200,
            23_040,
        )
        assert (rest["quantity"], rest["margin"], rest["takeProfit"]) == ("0.6", 36_360, 31_000_000)

        assert platform.engine is not None
        platform.engine.kill(signal.SIGKILL)
        await asyncio.to_thread(platform.start_engine)
        # the same key after the restart: the remembered reply, not a second partial close
        again = await _until_answered(
            lambda: api.post("/trade/close", headers=key, json={"orderId": trade["id"], "quantity": "0.4"})
        )
        assert again.status_code == 201 and again.json() == part.json()
        [still_open] = await erin.open_orders()
        assert (still_open["quantity"], still_open["margin"], still_open["stopLoss"]) == ("0.6", 36_360, 29_000_000)

        # the rest's take-profit fires at 3100: PnL (3100 - 3030) * 0.6 = $42.00, credited 36360 + 4200
        await prices.set(api, "ETH_USDC", "3100", "3100")
        final = await erin.wait_closed(trade["id"])
        assert (final["reason"], final["quantity"], final["pnl"], final["credited"]) == (
            "TAKE_PROFIT",
            "0.6",
            4_200,
            40_560,
        )
        assert [order["id"] for order in await erin.closed_orders()] == [trade["id"], closed["id"]]
        assert (await erin.balance())["balance"] == START - 60_600 + 23_040 + 40_560
