"""GET /trade/open through the real gateway and engine processes: one bounded page at a time (100 when no
limit is given), in opening order, continued with the cursor, whatever the account holds."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from harness.prices import prices_kept_fresh
from tests.integration.gateway.helpers import bearer, new_user
from tests.integration.gateway.support import Quote, Stack

BTC = Quote("BTC_USDC", buy=1_194_168_450, sell=1_182_345_000)


async def test_open_positions_are_paged(stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis) -> None:
    _, token = await new_user(api)
    auth = bearer(token)
    ids = []
    # 103 orders one after another can outlast the 2 s price age on a busy machine: fed as a pooler would
    async with prices_kept_fresh(redis_conn, stack.stream_key, [BTC], every_seconds=0.5):
        for _ in range(103):
            opened = await api.post(
                "/trade/create",
                headers=auth,
                json={"asset": "BTC_USDC", "side": "LONG", "quantity": "0.00001", "leverage": 10},
            )
            assert opened.status_code == 201, opened.text
            ids.append(opened.json()["trade"]["id"])

    default = await api.get("/trade/open", headers=auth)
    assert default.status_code == 200, default.text
    assert [order["id"] for order in default.json()["orders"]] == ids[:100]
    assert default.json()["orders"][0]["currentPrice"] == BTC.sell
    rest = (await api.get("/trade/open", headers=auth, params={"cursor": default.json()["nextCursor"]})).json()
    assert [order["id"] for order in rest["orders"]] == ids[100:] and rest["nextCursor"] is None

    walked, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": 40} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/trade/open", headers=auth, params=params)).json()
        walked += [order["id"] for order in page["orders"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert walked == ids

    # out-of-range query values are the gateway's validation errors; a cursor it did not issue, the engine's
    refusals: list[tuple[dict[str, str | int], str]] = [
        ({"limit": 0}, "VALIDATION_ERROR"),
        ({"limit": 501}, "VALIDATION_ERROR"),
        ({"cursor": "x" * 513}, "VALIDATION_ERROR"),
        ({"cursor": "bm90LWEtdG9rZW4="}, "INVALID_ARGUMENT"),
    ]
    for params, code in refusals:
        refused = await api.get("/trade/open", headers=auth, params=params)
        assert refused.status_code == 422, (params, refused.text)
        assert refused.json()["error"]["code"] == code, refused.text
