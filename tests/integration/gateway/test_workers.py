"""GATEWAY_WORKERS: one `python -m gateway` serving from several uvicorn worker processes, each a gateway
of its own with its own id and reply stream (a shared id would let one worker take another's replies)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import httpx
import redis.asyncio as aioredis

from harness.polling import apoll_until
from tests.integration.gateway.helpers import bearer, new_user
from tests.integration.gateway.support import Quote, Stack, feed_engine

ORDER = {"asset": "BTC_USDC", "side": "LONG", "quantity": "0.001", "leverage": 10}


def _registered_ids(log: str) -> set[str]:
    ids = set()
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("msg") == "reply stream registered":
            ids.add(str(record["gateway_id"]))
    return ids


async def test_two_workers_have_their_own_reply_streams_and_serve_orders(
    stack_factory: Callable[..., Stack], redis_conn: aioredis.Redis
) -> None:
    base_id = f"gw-workers-{uuid.uuid4().hex[:6]}"
    stack = stack_factory(gateway_env={"GATEWAY_WORKERS": "2", "GATEWAY_ID": base_id})

    def both_registered() -> set[str]:
        ids = _registered_ids(stack.gateway.output())
        return ids if len(ids) == 2 else set()

    ids = await apoll_until(both_registered, "both workers registered with the engine", 60, stack.gateway)
    assert all(gateway_id.startswith(f"{base_id}-") for gateway_id in ids)
    async with httpx.AsyncClient(base_url=f"{stack.base_url}/api/v1", timeout=60) as api:
        # a token issued by one worker works on the other (one secret), each order answered once
        _, token = await new_user(api)
        await feed_engine(redis_conn, stack.stream_key, [Quote("BTC_USDC", buy=1_010_000_000, sell=1_000_000_000)])
        answers = await asyncio.gather(
            *(
                api.post("/trade/create", headers={**bearer(token), "Idempotency-Key": f"w-{n}"}, json=ORDER)
                for n in range(12)
            )
        )
        assert [answer.status_code for answer in answers] == [201] * 12, [a.text for a in answers]
        opened = {answer.json()["trade"]["id"] for answer in answers}
        listed = await api.get("/trade/open", headers=bearer(token))
        assert {order["id"] for order in listed.json()["orders"]} == opened
