"""Pending orders through REST, with the real gateway and engine processes: POST /orders (the exact shape,
validation, wrong side, idempotent retries), GET /orders, GET /orders/history, DELETE /orders/{id} (404
for unknown and foreign ids, 409 once no longer pending) and the reserve in GET /balance.

The seed's BTC quote (buy 119416.8450 / sell 118234.5000): 0.01 BTC at 10x reserves price / 100_000 cents."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import redis.asyncio as aioredis

from harness.polling import apoll_until
from tests.integration.gateway.helpers import bearer, new_user
from tests.integration.gateway.support import Quote, Stack, feed_engine

BTC = Quote("BTC_USDC", buy=1_194_168_450, sell=1_182_345_000)
START = 1_000_000


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _order(**changes: object) -> dict[str, object]:
    return {"asset": "BTC_USDC", "side": "LONG", "type": "LIMIT", "price": "110000", "quantity": "0.01",
            "leverage": 10, **changes}  # fmt: skip


async def test_place_list_cancel_and_the_reserve_in_the_balance(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    _, token = await new_user(api)
    _, other_token = await new_user(api)
    auth = bearer(token)
    await feed_engine(redis_conn, stack.stream_key, [BTC])

    placed = await api.post("/orders", headers=auth, json=_order(stopLoss=100000, expiresAt="2099-01-01T00:00:00Z"))
    assert placed.status_code == 201, placed.text
    body = placed.json()
    order = body["order"]
    assert body["message"] == "Order accepted"
    assert {k: v for k, v in order.items() if k not in ("id", "createdAt")} == {
        "asset": "BTC_USDC", "side": "LONG", "type": "LIMIT", "price": 1_100_000_000, "quantity": "0.01",
        "leverage": 10, "stopLoss": 1_000_000_000, "takeProfit": None, "reservedMargin": 11_000,
        "status": "PENDING", "expiresAt": "2099-01-01T00:00:00Z", "decimal": 4, "finishedAt": None,
        "positionId": None, "fillPrice": None, "reason": None, "reasonMessage": None,
    }  # fmt: skip
    assert order["id"].startswith("ord-")

    balance = (await api.get("/balance", headers=auth)).json()
    assert (balance["balance"], balance["reservedMargin"], balance["equity"], balance["pendingOrders"]) == (
        START - 11_000, 11_000, START, 1,
    )  # fmt: skip
    listed = (await api.get("/orders", headers=auth)).json()
    assert listed == {"orders": [order]}
    assert (await api.get("/orders", headers=bearer(other_token))).json() == {"orders": []}

    # refusals: the market already meets it, more decimals than the asset's scale, a type not offered,
    # an expiry that is not a date, an expiry already past, no token
    assert _code(await api.post("/orders", headers=auth, json=_order(price="120000"))) == (422, "ORDER_WRONG_SIDE")
    assert (await api.post("/orders", headers=auth, json=_order(price="110000.00001"))).status_code == 422
    assert (await api.post("/orders", headers=auth, json=_order(type="MARKET"))).status_code == 422
    assert (await api.post("/orders", headers=auth, json=_order(expiresAt="soon"))).status_code == 422
    assert _code(await api.post("/orders", headers=auth, json=_order(expiresAt="2001-01-01T00:00:00"))) == (
        422, "INVALID_EXPIRY",
    )  # fmt: skip
    assert (await api.post("/orders", json=_order())).status_code == 401

    path = f"/orders/{order['id']}"
    assert _code(await api.delete(path, headers=bearer(other_token))) == (404, "ORDER_NOT_FOUND")
    assert _code(await api.delete("/orders/ord-0-0", headers=auth)) == (404, "ORDER_NOT_FOUND")
    cancelled = await api.delete(path, headers=auth)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["order"] == {
        **order,
        "status": "CANCELLED",
        "finishedAt": cancelled.json()["order"]["finishedAt"],
    }
    assert (await api.get("/balance", headers=auth)).json()["balance"] == START
    assert _code(await api.delete(path, headers=auth)) == (409, "ORDER_NOT_PENDING")
    assert _code(await api.delete(path, headers=bearer(other_token))) == (404, "ORDER_NOT_FOUND")


async def test_a_stop_fills_on_the_price_that_meets_it_and_lands_in_the_history(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    _, token = await new_user(api)
    auth = bearer(token)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    key = {"Idempotency-Key": f"stop-{uuid.uuid4().hex}"}
    first = await api.post("/orders", headers={**auth, **key}, json=_order(type="STOP", price="120000"))
    assert first.status_code == 201, first.text
    again = await api.post("/orders", headers={**auth, **key}, json=_order(type="STOP", price="120000"))
    assert again.status_code == 201 and again.json() == first.json()  # placed once
    order = first.json()["order"]
    assert order["reservedMargin"] == 12_000
    assert len((await api.get("/orders", headers=auth)).json()["orders"]) == 1

    # buy 121000 meets the stop: it fills there, margin $121.00
    await feed_engine(redis_conn, stack.stream_key, [Quote("BTC_USDC", buy=1_210_000_000, sell=1_200_000_000)])

    async def filled() -> list[dict[str, object]] | None:
        history = (await api.get("/orders/history", headers=auth)).json()["orders"]
        return history or None

    [record] = await apoll_until(filled, "the stop to fill and reach the order history", 30)
    assert (record["id"], record["status"], record["fillPrice"], record["reservedMargin"]) == (
        order["id"], "FILLED", 1_210_000_000, 12_000,
    )  # fmt: skip
    assert record["positionId"] == "pos-" + str(order["id"]).removeprefix("ord-")
    [position] = (await api.get("/trade/open", headers=auth)).json()["orders"]
    assert (position["id"], position["entryPrice"], position["margin"]) == (record["positionId"], 1_210_000_000, 12_100)
    balance = (await api.get("/balance", headers=auth)).json()
    assert (balance["balance"], balance["reservedMargin"], balance["usedMargin"]) == (START - 12_100, 0, 12_100)
    assert (await api.get("/orders", headers=auth)).json() == {"orders": []}
    assert _code(await api.delete(f"/orders/{order['id']}", headers=auth)) == (409, "ORDER_NOT_PENDING")
    page = await api.get("/orders/history", headers=auth, params={"limit": 1})
    assert page.json()["nextCursor"] is None
    assert (await api.get("/orders/history", headers=auth, params={"cursor": "garbage"})).status_code == 422


async def test_the_openapi_page_documents_every_order_field(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as root:
        spec = (await root.get("/openapi.json")).json()
    paths = spec["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/orders"]) and "get" in paths["/api/v1/orders/history"]
    cancel = paths["/api/v1/orders/{orderId}"]["delete"]
    assert {"200", "401", "404", "409"} <= set(cancel["responses"])
    assert {"201", "409", "422", "503"} <= set(paths["/api/v1/orders"]["post"]["responses"])
    schemas = spec["components"]["schemas"]
    assert set(schemas["PlaceOrderRequest"]["properties"]) == {
        "asset", "side", "type", "price", "quantity", "leverage", "stopLoss", "takeProfit", "expiresAt",
    }  # fmt: skip
    assert set(schemas["OrderOut"]["properties"]) >= {
        "id", "asset", "side", "type", "price", "quantity", "leverage", "stopLoss", "takeProfit", "reservedMargin",
        "status", "createdAt", "expiresAt", "decimal", "positionId", "reason",
    }  # fmt: skip
    # every field whose unit is not obvious says it
    for model, fields in (
        ("OrderOut", ("price", "reservedMargin", "stopLoss", "expiresAt", "positionId", "fillPrice", "reason")),
        ("PlaceOrderRequest", ("type", "price", "quantity", "expiresAt")),
        ("BalanceResponse", ("reservedMargin", "equity", "pendingOrders")),
    ):
        for name in fields:
            assert schemas[model]["properties"][name].get("description"), (model, name)
    assert schemas["PlaceOrderResponse"]["properties"]["message"]["default"] == "Order accepted"


async def test_the_pending_order_cap_is_a_clear_422_and_a_stale_price_a_503(
    stack_factory: Callable[..., Stack], redis_conn: aioredis.Redis
) -> None:
    capped = stack_factory(engine_env={"MAX_PENDING_ORDERS_PER_ACCOUNT": "1", "PRICE_STALE_AFTER_MS": "2000"})
    async with httpx.AsyncClient(base_url=f"{capped.base_url}/api/v1", timeout=30) as api:
        _, token = await new_user(api)
        auth = bearer(token)
        await feed_engine(redis_conn, capped.stream_key, [BTC])
        assert (await api.post("/orders", headers=auth, json=_order())).status_code == 201
        refused = await api.post("/orders", headers=auth, json=_order(price="100000"))
        assert _code(refused) == (422, "TOO_MANY_ORDERS")
        assert refused.json()["error"]["message"] == (
            "the account already has 1 pending orders, the most allowed; cancel one to place another"
        )
        # a quote older than PRICE_STALE_AFTER_MS in stream time: nothing placed, try again later (another
        # user: the cap is checked before the price)
        _, other_token = await new_user(api)
        other = bearer(other_token)
        await feed_engine(redis_conn, capped.stream_key, [Quote("ETH_USDC", buy=34_913_478, sell=34_567_800)])
        stale_after = time.time() + 2.2

        async def stale() -> httpx.Response | None:
            if time.time() < stale_after:
                return None
            await feed_engine(redis_conn, capped.stream_key, [BTC])  # moves stream time on; ETH is now old
            response = await api.post(
                "/orders", headers=other, json=_order(asset="ETH_USDC", price="3000", quantity="1")
            )
            return response if response.status_code == 503 else None

        response = await apoll_until(stale, "the ETH quote to go stale", 20)
        assert response.json()["error"]["code"] == "PRICE_STALE"
