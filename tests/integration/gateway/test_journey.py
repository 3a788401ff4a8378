"""The whole user journey through the real gateway process and the real engine process: signup, signin,
open a position, watch its live PnL, balance, close, closed history, prices."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal

import httpx
import redis.asyncio as aioredis

from tests.integration.gateway.helpers import bearer
from tests.integration.gateway.support import Quote, Stack, feed_engine

BTC = Quote("BTC_USDC", buy=1_194_168_450, sell=1_182_345_000)  # $119,416.8450 / $118,234.5000
BTC_UP = Quote("BTC_USDC", buy=1_206_110_000, sell=1_194_168_000)


def pnl_cents(entry: int, current: int, quantity: str, decimal: int) -> int:
    """LONG PnL in cents, half-to-even (docs/contract.md §2), computed independently of the engine."""
    exact = (Decimal(current - entry) / Decimal(10) ** decimal) * Decimal(quantity) * 100
    return int(exact.quantize(Decimal(1), rounding="ROUND_HALF_EVEN"))


async def test_signup_signin_trade_close_history(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    email = f"  Trader.{uuid.uuid4().hex[:8]}@Example.COM "
    signup = await api.post("/signup", json={"email": email, "password": "s3cret-pass", "name": "ignored"})
    assert signup.status_code == 201, signup.text
    user = signup.json()["user"]
    assert user["email"] == email.strip().lower()
    assert user["balance"] == 1_000_000
    assert set(user) == {"id", "email", "balance", "lastLoggedIn"}

    again = await api.post("/signup", json={"email": email.upper(), "password": "another-pass"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "EMAIL_TAKEN"

    wrong = await api.post("/signin", json={"email": email, "password": "not-the-password"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
    signin = await api.post("/signin", json={"email": email.strip(), "password": "s3cret-pass"})
    assert signin.status_code == 200, signin.text
    assert signin.json()["user"]["id"] == user["id"]
    assert signin.json()["user"]["balance"] == 1_000_000
    auth = bearer(signin.json()["token"])

    await feed_engine(redis_conn, stack.stream_key, [BTC])
    created = await api.post(
        "/trade/create",
        headers=auth,
        json={
            "asset": "BTC_USDC",
            "side": "LONG",
            "quantity": 0.01,
            "leverage": 10,
            "stopLoss": "100000",
            "takeProfit": 150000.5,
            "tradeOpeningPrice": "119416.8450",
            "slippage": 1,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["message"] == "Order placed"
    trade = created.json()["trade"]
    entry = BTC.buy
    margin = math.ceil(Decimal(entry) / 10**4 * Decimal("0.01") * 100 / 10)
    assert trade["asset"] == "BTC_USDC" and trade["side"] == "LONG"
    assert trade["quantity"] == "0.01"
    assert trade["leverage"] == 10
    assert trade["entryPrice"] == entry
    assert trade["decimal"] == 4
    assert trade["margin"] == margin
    assert trade["stopLoss"] == 1_000_000_000 and trade["takeProfit"] == 1_500_005_000
    assert trade["currentPrice"] == BTC.sell
    assert trade["pnl"] == pnl_cents(entry, BTC.sell, "0.01", 4)
    assert trade["liquidationPrice"] < entry

    await feed_engine(redis_conn, stack.stream_key, [BTC_UP])
    open_orders = await api.get("/trade/open", headers=auth)
    assert open_orders.status_code == 200
    [live] = open_orders.json()["orders"]
    assert live["id"] == trade["id"]
    assert live["currentPrice"] == BTC_UP.sell
    assert live["pnl"] == pnl_cents(entry, BTC_UP.sell, "0.01", 4)

    balance = (await api.get("/balance", headers=auth)).json()
    assert balance["balance"] == 1_000_000 - margin
    assert balance["availableMargin"] == 1_000_000 - margin
    assert balance["usedMargin"] == margin
    assert balance["activePositions"] == 1
    assert balance["equity"] == 1_000_000 + live["pnl"]
    dollars, cents = divmod(1_000_000 - margin, 100)
    assert balance["balanceUSD"] == f"${dollars:,}.{cents:02d}"

    closed = await api.post("/trade/close", headers=auth, json={"orderId": trade["id"]})
    assert closed.status_code == 201, closed.text
    assert closed.json()["message"] == "Order closed"
    result = closed.json()["trade"]
    assert result["id"] == trade["id"]
    assert result["closePrice"] == BTC_UP.sell
    assert result["pnl"] == live["pnl"]
    assert result["reason"] == "MANUAL"
    assert result["credited"] == margin + result["pnl"]

    history = await api.get("/trade/closed", headers=auth, params={"limit": 10})
    assert history.status_code == 200
    assert [order["id"] for order in history.json()["orders"]] == [trade["id"]]
    assert history.json()["nextCursor"] is None
    assert (await api.get("/trade/open", headers=auth)).json()["orders"] == []
    final = (await api.get("/balance", headers=auth)).json()
    assert final["balance"] == 1_000_000 + result["pnl"]
    assert final["usedMargin"] == 0 and final["activePositions"] == 0

    prices = await api.get("/prices")
    assert prices.status_code == 200
    quote = prices.json()["prices"]["BTC_USDC"]
    assert (quote["buyPrice"], quote["sellPrice"], quote["decimal"]) == (BTC_UP.buy, BTC_UP.sell, 4)


async def test_closed_history_pages_newest_first(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    from tests.integration.gateway.helpers import new_user

    _, token = await new_user(api)
    auth = bearer(token)
    ids = []
    for _ in range(3):
        await feed_engine(redis_conn, stack.stream_key, [BTC])
        opened = await api.post(
            "/trade/create",
            headers=auth,
            json={"asset": "BTC_USDC", "side": "SHORT", "quantity": "0.001", "leverage": 5},
        )
        assert opened.status_code == 201, opened.text
        closed = await api.post("/trade/close", headers=auth, json={"orderId": opened.json()["trade"]["id"]})
        assert closed.status_code == 201, closed.text
        ids.append(opened.json()["trade"]["id"])
    first = (await api.get("/trade/closed", headers=auth, params={"limit": 2})).json()
    assert [order["id"] for order in first["orders"]] == [ids[2], ids[1]]
    assert first["nextCursor"]
    second = (await api.get("/trade/closed", headers=auth, params={"limit": 2, "cursor": first["nextCursor"]})).json()
    assert [order["id"] for order in second["orders"]] == [ids[0]]
    assert second["nextCursor"] is None
