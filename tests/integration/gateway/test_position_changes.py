"""Changing an open position through REST, with the real gateway and engine processes: PATCH
/trade/{positionId} (new stop-loss/take-profit) and the partial close of POST /trade/close, including
their 404/409/422/503 answers and idempotent retries.

The seed's BTC quote, so the cents are the domain table tests' (tests/unit/engine/domain/test_adjust.py): a LONG
of 0.01 BTC at 10x locks 11,942 cents; closing 0.004 of it releases 4,776 with a PnL of -473."""

from __future__ import annotations

import time
import uuid

import httpx
import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2

from mesh.stream_codec import encode_command
from tests.integration.gateway.helpers import bearer, new_user
from tests.integration.gateway.support import Quote, Stack, feed_engine, price_update

BTC = Quote("BTC_USDC", buy=1_194_168_450, sell=1_182_345_000)
MARGIN = 11_942


async def _open(api: httpx.AsyncClient, auth: dict[str, str], **levels: object) -> dict[str, object]:
    created = await api.post(
        "/trade/create",
        headers=auth,
        json={"asset": "BTC_USDC", "side": "LONG", "quantity": "0.01", "leverage": 10, **levels},
    )
    assert created.status_code == 201, created.text
    trade: dict[str, object] = created.json()["trade"]
    return trade


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def test_amend_stop_loss_and_take_profit(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    _, token = await new_user(api)
    _, other_token = await new_user(api)
    auth = bearer(token)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    trade = await _open(api, auth, stopLoss="100000")
    path = f"/trade/{trade['id']}"

    # null removes the stop-loss; the take-profit is set
    amended = await api.patch(path, headers=auth, json={"stopLoss": None, "takeProfit": 150000.5})
    assert amended.status_code == 200, amended.text
    body = amended.json()["trade"]
    assert (body["id"], body["stopLoss"], body["takeProfit"]) == (trade["id"], None, 1_500_005_000)
    assert (body["currentPrice"], body["margin"], body["entryPrice"]) == (BTC.sell, MARGIN, BTC.buy)
    assert body["pnl"] == -1_182  # (118234.5 - 119416.845) * 0.01 = -11.82345 dollars
    # a key left out is kept
    kept = (await api.patch(path, headers=auth, json={"stopLoss": "110000"})).json()["trade"]
    assert (kept["stopLoss"], kept["takeProfit"]) == (1_100_000_000, 1_500_005_000)
    [listed] = (await api.get("/trade/open", headers=auth)).json()["orders"]
    assert (listed["stopLoss"], listed["takeProfit"]) == (1_100_000_000, 1_500_005_000)

    assert _code(await api.patch(path, headers=auth, json={"stopLoss": "130000"})) == (422, "INVALID_STOP_LOSS")
    assert _code(await api.patch(path, headers=auth, json={"takeProfit": 100000})) == (422, "INVALID_TAKE_PROFIT")
    assert _code(await api.patch(path, headers=auth, json={"stopLoss": "1.00001"}))[0] == 422
    assert _code(await api.patch("/trade/pos-0-0", headers=auth, json={"takeProfit": 0})) == (404, "POSITION_NOT_FOUND")
    assert _code(await api.patch(path, headers=bearer(other_token), json={"takeProfit": 0})) == (
        404,
        "POSITION_NOT_FOUND",
    )
    assert (await api.patch(path, json={"takeProfit": 0})).status_code == 401

    key = {"Idempotency-Key": f"tp-{uuid.uuid4().hex}"}
    first = await api.patch(path, headers={**auth, **key}, json={"takeProfit": 0})
    assert first.status_code == 200 and first.json()["trade"]["takeProfit"] is None
    await api.patch(path, headers=auth, json={"takeProfit": 140000})
    again = await api.patch(path, headers={**auth, **key}, json={"takeProfit": 0})
    assert again.status_code == 200 and again.json() == first.json()  # the first reply, not re-applied
    [listed] = (await api.get("/trade/open", headers=auth)).json()["orders"]
    assert listed["takeProfit"] == 1_400_000_000
    assert _code(await api.patch(path, headers={**auth, **key}, json={"takeProfit": 1})) == (
        409,
        "IDEMPOTENCY_KEY_REUSED",
    )


async def test_partial_close_then_close_the_rest(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    _, token = await new_user(api)
    _, other_token = await new_user(api)
    auth = bearer(token)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    trade = await _open(api, auth, stopLoss="100000", takeProfit="150000")

    key = {"Idempotency-Key": f"part-{uuid.uuid4().hex}"}
    closed = await api.post("/trade/close", headers={**auth, **key}, json={"orderId": trade["id"], "quantity": 0.004})
    assert closed.status_code == 201, closed.text
    body = closed.json()
    assert body["message"] == "Order closed"
    part, rest = body["trade"], body["remaining"]
    assert part["id"].startswith(f"{trade['id']}:") and part["id"] != trade["id"]
    assert (part["quantity"], part["margin"], part["pnl"], part["credited"]) == ("0.004", 4_776, -473, 4_303)
    assert (part["closePrice"], part["reason"], part["stopLoss"]) == (BTC.sell, "MANUAL", 1_000_000_000)
    assert (rest["id"], rest["quantity"], rest["margin"], rest["entryPrice"]) == (trade["id"], "0.006", 7_166, BTC.buy)
    assert (rest["stopLoss"], rest["takeProfit"]) == (1_000_000_000, 1_500_000_000)
    assert rest["liquidationPrice"] == 1_074_760_116 >= trade["liquidationPrice"]  # type: ignore[operator]
    assert (rest["currentPrice"], rest["pnl"]) == (BTC.sell, -709)  # -11.82345 * 0.6 = -7.09407 dollars

    retry = await api.post("/trade/close", headers={**auth, **key}, json={"orderId": trade["id"], "quantity": 0.004})
    assert retry.status_code == 201 and retry.json() == body
    balance = (await api.get("/balance", headers=auth)).json()
    assert (balance["balance"], balance["usedMargin"]) == (1_000_000 - MARGIN + 4_303, 7_166)

    for quantity, code in (("0.02", "INVALID_QUANTITY"), ("0.000015", "INVALID_QUANTITY"), ("0", "VALIDATION_ERROR")):
        refused = await api.post("/trade/close", headers=auth, json={"orderId": trade["id"], "quantity": quantity})
        assert _code(refused) == (422, code), refused.text
    foreign = await api.post(
        "/trade/close", headers=bearer(other_token), json={"orderId": trade["id"], "quantity": "0.001"}
    )
    assert _code(foreign) == (404, "POSITION_NOT_FOUND")

    final = await api.post("/trade/close", headers=auth, json={"orderId": trade["id"]})
    assert final.status_code == 201, final.text
    assert final.json()["remaining"] is None
    whole = final.json()["trade"]
    assert (whole["id"], whole["quantity"], whole["margin"], whole["pnl"]) == (trade["id"], "0.006", 7_166, -709)
    history = (await api.get("/trade/closed", headers=auth)).json()["orders"]
    assert [order["id"] for order in history] == [trade["id"], part["id"]]
    assert (await api.get("/balance", headers=auth)).json()["balance"] == 1_000_000 - MARGIN + 4_303 + 7_166 - 709


async def test_changes_need_a_fresh_price(stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis) -> None:
    """A stale price is 503 for both. Stream time is moved past PRICE_STALE_AFTER_MS by an entry of another
    asset at an explicit later id; later entries get ids after it, so a test that feeds BTC first is fresh."""
    _, token = await new_user(api)
    auth = bearer(token)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    trade = await _open(api, auth)
    later = commands_pb2.Command(
        request_id=str(uuid.uuid4()), price_update=price_update([Quote("ETH_USDC", 34_913_478, 34_567_800)])
    )
    await redis_conn.xadd(
        stack.stream_key,
        encode_command(later),  # type: ignore[arg-type]
        id=f"{int(time.time() * 1000) + 10_000}-0",
    )
    stale = await api.patch(f"/trade/{trade['id']}", headers=auth, json={"takeProfit": 0})
    assert _code(stale) == (503, "PRICE_STALE"), stale.text
    partial = await api.post("/trade/close", headers=auth, json={"orderId": trade["id"], "quantity": "0.001"})
    assert _code(partial) == (503, "PRICE_STALE"), partial.text
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    assert (await api.patch(f"/trade/{trade['id']}", headers=auth, json={"takeProfit": 0})).status_code == 200


async def test_the_openapi_page_documents_both_changes(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as root:
        spec = (await root.get("/openapi.json")).json()
    amend = spec["paths"]["/api/v1/trade/{positionId}"]["patch"]
    assert [parameter["name"] for parameter in amend["parameters"] if parameter["in"] == "path"] == ["positionId"]
    assert amend["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("AmendTradeResponse")
    assert {"404", "409", "422", "503"} <= set(amend["responses"])
    schemas = spec["components"]["schemas"]
    assert set(schemas["AmendTradeRequest"]["properties"]) == {"stopLoss", "takeProfit"}
    assert "quantity" in schemas["CloseOrderRequest"]["properties"]
    assert "remaining" in schemas["CloseOrderResponse"]["properties"]
