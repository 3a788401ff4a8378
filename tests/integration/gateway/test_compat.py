"""The compatibility layer (gateway.routes.compat) through the real gateway and engine processes: every
shape the original exness-v3 web client reads, each figure checked against the main API's integers for
the same state, its errors as text, CORS with credentials on successes, errors and preflights, and its
price socket beside the unchanged /ws/prices."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import httpx
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from harness.polling import apoll_until
from tests.integration.gateway.helpers import bearer
from tests.integration.gateway.support import Quote, Stack, feed_engine, price_update, publish_prices
from tests.integration.gateway.test_ws import wait_subscribed, ws_url

BTC = Quote("BTC_USDC", buy=1_194_168_450, sell=1_182_345_000)  # $119,416.8450 / $118,234.5000
ORIGIN = "http://localhost:5173"
OPEN_ROW_KEYS = {
    "id",
    "asset",
    "side",
    "quantity",
    "leverage",
    "openPrice",
    "currentPrice",
    "unrealizedPnl",
    "margin",
    "liquidationPrice",
    "stopLoss",
    "takeProfit",
    "slippage",
    "openedAt",
}
CLOSED_ROW_KEYS = {
    "id",
    "asset",
    "side",
    "quantity",
    "leverage",
    "openPrice",
    "closePrice",
    "pnl",
    "credited",
    "margin",
    "reason",
    "liquidated",
    "stopLoss",
    "takeProfit",
    "status",
    "openedAt",
    "closedAt",
}


def dollars(cents: int) -> float:
    return float(Decimal(cents) / 100)


def unscaled(value: int, decimal: int) -> float:
    return float(Decimal(value) / Decimal(10) ** decimal)


def assert_text_error(response: httpx.Response, status: int, code: str) -> str:
    """The original client shows `error` (auth) or `message` (trades): both must be the same sentence."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"], body
    assert body["message"] == body["error"]
    return str(body["error"])


async def compat_user(api: httpx.AsyncClient) -> dict[str, str]:
    email = f"c{uuid.uuid4().hex[:12]}@example.com"
    signup = await api.post("/auth/signup", json={"email": email, "password": "correct horse 1", "name": "Ann"})
    assert signup.status_code == 201, signup.text
    return bearer(signup.json()["token"])


async def test_signup_and_signin_answer_a_token_and_errors_in_words(api: httpx.AsyncClient) -> None:
    email = f"c{uuid.uuid4().hex[:12]}@example.com"
    signup = await api.post("/auth/signup", json={"email": email, "password": "correct horse 1", "name": "Ann"})
    assert signup.status_code == 201, signup.text
    body = signup.json()
    assert set(body) == {"message", "token", "user"}
    assert body["user"]["email"] == email and body["user"]["balance"] == 10000.0
    signin = await api.post("/auth/signin", json={"email": email, "password": "correct horse 1"})
    assert signin.status_code == 200, signin.text
    assert signin.json()["user"]["id"] == body["user"]["id"] and signin.json()["token"]
    # the token works on the main API too: one user, one account
    assert (await api.get("/balance", headers=bearer(signin.json()["token"]))).json()["balance"] == 1_000_000

    wrong = await api.post("/auth/signin", json={"email": email, "password": "not the password"})
    assert assert_text_error(wrong, 401, "INVALID_CREDENTIALS") == "wrong e-mail or password"
    taken = await api.post("/auth/signup", json={"email": email, "password": "another password", "name": "B"})
    assert "already exists" in assert_text_error(taken, 409, "EMAIL_TAKEN")
    short = await api.post("/auth/signup", json={"email": "x@example.com", "password": "short", "name": "C"})
    assert "password" in assert_text_error(short, 422, "VALIDATION_ERROR")
    broken = await api.post("/auth/signin", content=b"{", headers={"content-type": "application/json"})
    assert_text_error(broken, 400, "INVALID_JSON")


async def test_open_and_closed_orders_in_dollars_from_the_engine_state(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    auth = await compat_user(api)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    order = {
        "asset": "BTC_USDC",
        "side": "LONG",
        "quantity": 0.01,
        "leverage": 10,
        "tradeOpeningPrice": 119416.845,
        "slippage": 1,
        "stopLoss": 100000,
        "takeProfit": 150000.5,
    }
    created = await api.post("/trade/create-order", headers=auth, json=order)
    assert created.status_code == 201, created.text
    assert created.json()["message"] == "Order placed"
    order_id = created.json()["orderId"]

    listed = (await api.get("/trade/get-open-orders", headers=auth)).json()
    [row] = listed["orders"]
    assert set(row) == OPEN_ROW_KEYS  # never closePrice, reason or liquidated: the client takes those as closed
    [main] = (await api.get("/trade/open", headers=auth)).json()["orders"]
    assert row["id"] == order_id == main["id"] and created.json()["trade"]["id"] == order_id
    assert (row["asset"], row["side"], row["quantity"], row["leverage"]) == ("BTC_USDC", "LONG", 0.01, 10)
    assert row["openPrice"] == unscaled(main["entryPrice"], 4) == 119416.845
    assert row["currentPrice"] == unscaled(main["currentPrice"], 4) == 118234.5
    assert row["unrealizedPnl"] == dollars(main["pnl"])
    assert row["margin"] == dollars(main["margin"])
    assert row["liquidationPrice"] == unscaled(main["liquidationPrice"], 4)
    assert (row["stopLoss"], row["takeProfit"], row["slippage"]) == (100000.0, 150000.5, None)

    account = (await api.get("/balance", headers=auth)).json()
    me = (await api.get("/balance/me", headers=auth)).json()
    assert me == {
        "balance": dollars(account["balance"]),
        "usedMargin": dollars(account["usedMargin"]),
        "reservedMargin": dollars(account["reservedMargin"]),
        "equity": dollars(account["equity"]),
        "activePositions": 1,
        "pendingOrders": 0,
    }

    closed = await api.post("/trade/close-order", headers=auth, json={"orderId": order_id})
    assert closed.status_code == 201, closed.text
    assert closed.json()["message"] == "Order closed"
    assert (await api.get("/trade/get-open-orders", headers=auth)).json() == {"orders": []}
    [history] = (await api.get("/trade/get-close-orders", headers=auth)).json()["orders"]
    [main_closed] = (await api.get("/trade/closed", headers=auth)).json()["orders"]
    assert set(history) == CLOSED_ROW_KEYS and history == closed.json()["trade"]
    assert history["id"] == order_id
    assert history["openPrice"] == 119416.845 and history["closePrice"] == unscaled(main_closed["closePrice"], 4)
    assert history["pnl"] == dollars(main_closed["pnl"]) and history["pnl"] < 0
    assert history["credited"] == dollars(main_closed["credited"])
    assert (history["reason"], history["liquidated"], history["status"]) == ("MANUAL", False, "CLOSED")
    after = (await api.get("/balance", headers=auth)).json()
    assert (await api.get("/balance/me", headers=auth)).json()["balance"] == dollars(after["balance"])


async def test_trade_errors_carry_a_message(stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis) -> None:
    auth = await compat_user(api)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    base = {"asset": "BTC_USDC", "side": "LONG", "leverage": 10, "tradeOpeningPrice": 119416.845, "slippage": 1}
    poor = await api.post("/trade/create-order", headers=auth, json={**base, "quantity": 100})
    assert_text_error(poor, 422, "INSUFFICIENT_BALANCE")
    fine = await api.post("/trade/create-order", headers=auth, json={**base, "quantity": 0.000000001})
    assert "quantity" in assert_text_error(fine, 422, "VALIDATION_ERROR")
    unknown = await api.post("/trade/create-order", headers=auth, json={**base, "quantity": 0.01, "asset": "DOGE"})
    assert_text_error(unknown, 422, "UNKNOWN_ASSET")
    # SOL_USDC never had a quote on this stack: the engine cannot price it (a 5xx, still in words)
    unpriced = await api.post("/trade/create-order", headers=auth, json={**base, "quantity": 0.01, "asset": "SOL_USDC"})
    assert_text_error(unpriced, 503, "PRICE_UNAVAILABLE")
    missing = await api.post("/trade/close-order", headers=auth, json={"orderId": "no-such-order"})
    assert_text_error(missing, 404, "POSITION_NOT_FOUND")
    for path in ("/balance/me", "/trade/get-open-orders", "/trade/get-close-orders"):
        assert_text_error(await api.get(path), 401, "MISSING_TOKEN")
    assert_text_error(await api.post("/trade/close-order", json={"orderId": "x"}), 401, "MISSING_TOKEN")


async def test_a_liquidated_position_is_listed_as_liquidated(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    auth = await compat_user(api)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    order = {"asset": "BTC_USDC", "side": "LONG", "quantity": 0.01, "leverage": 50, "slippage": 1}
    created = await api.post("/trade/create-order", headers=auth, json=order)
    assert created.status_code == 201, created.text
    liquidation = created.json()["trade"]["liquidationPrice"]
    crash = int(Decimal(str(liquidation)) * 10**4) - 10_000
    await feed_engine(redis_conn, stack.stream_key, [Quote("BTC_USDC", buy=crash + 50_000, sell=crash)])

    async def closed_rows() -> list[dict[str, object]]:
        rows: list[dict[str, object]] = (await api.get("/trade/get-close-orders", headers=auth)).json()["orders"]
        return rows

    await apoll_until(closed_rows, "the liquidated trade in get-close-orders", 60)
    [row] = await closed_rows()
    assert (row["reason"], row["liquidated"]) == ("LIQUIDATION", True)
    assert row["closePrice"] == unscaled(crash, 4)
    assert row["credited"] == 0.0


@pytest.mark.parametrize("path", ["/api/v1/auth/signin", "/api/v1/trade/create-order", "/api/v1/balance/me"])
async def test_cors_preflight_for_the_configured_origin(stack: Stack, path: str) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as root:
        preflight = await root.options(
            path,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST" if "balance" not in path else "GET",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert preflight.headers["access-control-allow-credentials"] == "true"
        foreign = await root.options(
            path, headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in foreign.headers


async def test_cors_headers_on_successes_and_on_errors(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    auth = await compat_user(api)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    origin = {"Origin": ORIGIN}
    base = {"asset": "BTC_USDC", "side": "LONG", "leverage": 10, "slippage": 1}
    answers = [
        await api.get("/balance/me", headers={**auth, **origin}),  # 200
        await api.get("/balance/me", headers=origin),  # 401
        await api.post("/auth/signin", headers=origin, json={"email": "nobody@example.com", "password": "x"}),  # 401
        await api.post("/trade/create-order", headers={**auth, **origin}, json={**base, "quantity": -1}),  # 422
        await api.post("/trade/close-order", headers={**auth, **origin}, json={"orderId": "nope"}),  # 404
        await api.post("/trade/create-order", headers={**auth, **origin}, json={**base, "quantity": 0.01}),  # 201
        await api.post(  # 503
            "/trade/create-order", headers={**auth, **origin}, json={**base, "quantity": 0.01, "asset": "SOL_USDC"}
        ),
    ]
    assert [answer.status_code for answer in answers] == [200, 401, 401, 422, 404, 201, 503]
    for answer in answers:
        assert answer.headers["access-control-allow-origin"] == ORIGIN, answer.request.url
        assert answer.headers["access-control-allow-credentials"] == "true"


async def test_the_original_price_socket_beside_the_unchanged_one(stack: Stack, redis_conn: aioredis.Redis) -> None:
    await wait_subscribed(redis_conn, stack.price_channel)
    quotes = [
        Quote("BTC_USDC", buy=1_194_168_450, sell=1_182_345_000),
        Quote("ETH_USDC", buy=34_913_500, sell=34_567_800),
    ]
    async with connect(ws_url(stack, "/ws/compat/prices")) as original, connect(ws_url(stack, "/ws/prices")) as ours:
        await publish_prices(redis_conn, stack.price_channel, price_update(quotes, published_at_ms=1_700_000_000_000))
        frame = json.loads(await asyncio.wait_for(original.recv(), 30))
        while json.loads(frame["data"]).get("ETH_USDC", {}).get("sellPrice") != 34_567_800:
            frame = json.loads(await asyncio.wait_for(original.recv(), 30))
        assert set(frame) == {"type", "data"} and frame["type"] == "PRICE_UPDATE"
        assert isinstance(frame["data"], str)
        assert json.loads(frame["data"]) == {
            "BTC_USDC": {"buyPrice": 1_194_168_450, "sellPrice": 1_182_345_000, "decimal": 4},
            "ETH_USDC": {"buyPrice": 34_913_500, "sellPrice": 34_567_800, "decimal": 4},
        }
        message = json.loads(await asyncio.wait_for(ours.recv(), 30))
        while message["prices"].get("ETH_USDC", {}).get("sellPrice") != 34_567_800:
            message = json.loads(await asyncio.wait_for(ours.recv(), 30))
        assert set(message) == {"type", "prices"}
        assert message["prices"]["BTC_USDC"]["ts"] == 1_700_000_000_000


def _order_text(side: str, field: str, number_text: str) -> bytes:
    """An order whose `field` is `number_text` exactly as written (json= would print a Python float)."""
    base = {"asset": "BTC_USDC", "side": side, "quantity": "0.01", "leverage": 10, "slippage": 1}
    return (json.dumps(base)[:-1] + f', "{field}": {number_text}}}').encode()


async def test_a_number_the_layer_could_not_state_back_is_refused_before_the_engine_acts(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    """A take-profit or stop-loss of more than 15 significant digits used to open the position and then
    answer 502 (its echo could not be a JSON number stating it exactly): now a 422 naming the field, and
    nothing opened. Non-finite, exponent and oversized forms are 4xx in words too."""
    auth = {**await compat_user(api), "content-type": "application/json"}
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    balance = (await api.get("/balance", headers=auth)).json()
    cases = [
        ("LONG", "takeProfit", "1234567890123.4567", 422, "more than 15 significant digits"),
        ("LONG", "takeProfit", '"123456789012345.6789"', 422, "more than 15 significant digits"),
        ("SHORT", "stopLoss", "1234567890123.4567", 422, "more than 15 significant digits"),
        ("LONG", "quantity", '"12345678.12345678"', 422, "more than 15 significant digits"),
        ("LONG", "takeProfit", "1e400", 422, "number too large"),
        ("LONG", "takeProfit", "1E+30", 422, "too large"),
        ("LONG", "takeProfit", '"NaN"', 422, "not a finite number"),
        ("LONG", "stopLoss", '"-Infinity"', 422, "not a finite number"),
        ("LONG", "takeProfit", "1.00001", 422, "more than 4 decimals"),
        ("LONG", "takeProfit", "1.00000000000000000000001", 422, "more than 15 significant digits"),
        ("LONG", "takeProfit", "NaN", 400, ""),
        ("LONG", "takeProfit", "Infinity", 400, ""),
    ]
    for side, field, text, status, words in cases:
        answer = await api.post("/trade/create-order", headers=auth, content=_order_text(side, field, text))
        message = assert_text_error(answer, status, "VALIDATION_ERROR" if status == 422 else "INVALID_JSON")
        assert words in message, (field, text, message)
        if status == 422:
            assert [detail["field"] for detail in answer.json()["details"]] == [field], answer.json()
    assert (await api.get("/trade/get-open-orders", headers=auth)).json() == {"orders": []}
    assert (await api.get("/balance", headers=auth)).json() == balance

    # 15 digits, and the same level written with an exponent, are stated back exactly
    for text in ("12345678901.2345", "1.23456789012345E+10"):
        await feed_engine(redis_conn, stack.stream_key, [BTC])  # fresh, however slow the requests above were
        created = await api.post("/trade/create-order", headers=auth, content=_order_text("LONG", "takeProfit", text))
        assert created.status_code == 201, created.text
        assert created.json()["trade"]["takeProfit"] == float(Decimal(text))
        order_id = created.json()["orderId"]
        part = await api.post("/trade/close-order", headers=auth, content=b'{"orderId": "%s", "quantity": '
                              b'"12345678.12345678"}' % order_id.encode())  # fmt: skip
        assert "quantity" in assert_text_error(part, 422, "VALIDATION_ERROR")
        closed = await api.post("/trade/close-order", headers=auth, json={"orderId": order_id})
        assert closed.status_code == 201, closed.text
