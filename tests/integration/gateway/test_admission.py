"""Overload is refused, not half-served (gateway.admission), against a real engine and gateway process:
a write beyond GATEWAY_MAX_IN_FLIGHT gets 503 with Retry-After before anything reaches the stream, so a
503'd order never executes, and every 201 is a position the engine holds."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Callable

import httpx
import redis.asyncio as aioredis

from harness.polling import apoll_until
from harness.prices import prices_kept_fresh
from tests.integration.gateway.helpers import bearer, new_user, stream_length_is
from tests.integration.gateway.support import Quote, Stack, feed_engine

BTC = Quote("BTC_USDC", buy=1_010_000_000, sell=1_000_000_000)
ORDER = {"asset": "BTC_USDC", "side": "LONG", "quantity": "0.001", "leverage": 10}
REFUSAL_CODES = {"ENGINE_BUSY", "OVERLOADED"}


async def _open_ids(api: httpx.AsyncClient, token: str) -> set[str]:
    response = await api.get("/trade/open", headers=bearer(token))
    assert response.status_code == 200, response.text
    return {order["id"] for order in response.json()["orders"]}


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    error = response.json()["error"]
    assert error["code"] in REFUSAL_CODES
    assert "not executed" in error["message"]


async def test_writes_beyond_the_in_flight_cap_are_refused_before_the_stream(
    stack_factory: Callable[..., Stack], redis_conn: aioredis.Redis
) -> None:
    # a frozen engine keeps the one admitted order in flight as long as we like: the refusals that follow
    # do not depend on timing. The lease outlives the freeze, the reply timeout too.
    stack = stack_factory(
        engine_env={"LEASE_TTL_MS": "30000"},
        gateway_env={"GATEWAY_MAX_IN_FLIGHT": "1", "ENGINE_REPLY_TIMEOUT_MS": "60000"},
    )
    async with httpx.AsyncClient(base_url=f"{stack.base_url}/api/v1", timeout=90) as api:
        _, token = await new_user(api)
        await feed_engine(redis_conn, stack.stream_key, [BTC])
        assert stack.engine.proc is not None
        os.killpg(stack.engine.proc.pid, signal.SIGSTOP)
        try:
            before = await redis_conn.xlen(stack.stream_key)
            admitted = asyncio.create_task(
                api.post("/trade/create", headers={**bearer(token), "Idempotency-Key": "admitted"}, json=ORDER)
            )
            # until the admitted order is on the stream, waiting for its reply
            await apoll_until(
                lambda: stream_length_is(redis_conn, stack.stream_key, before + 1),
                "the admitted order on the stream",
                12,
                interval=0.01,
            )
            keys = [f"refused-{n}" for n in range(8)]
            refused = await asyncio.gather(
                *(
                    api.post("/trade/create", headers={**bearer(token), "Idempotency-Key": key}, json=ORDER)
                    for key in keys
                )
            )
            for response in refused:
                _assert_refused(response)
            # refused before the XADD: nothing of theirs is on the stream
            assert await redis_conn.xlen(stack.stream_key) == before + 1
        finally:
            os.killpg(stack.engine.proc.pid, signal.SIGCONT)
        first = await admitted
        assert first.status_code == 201, first.text
        first_id = first.json()["trade"]["id"]
        assert await _open_ids(api, token) == {first_id}
        # each refused key was never executed: retrying it opens a new position, and only one
        retried = set()
        for key in keys:
            again = await api.post("/trade/create", headers={**bearer(token), "Idempotency-Key": key}, json=ORDER)
            assert again.status_code == 201, again.text
            retried.add(again.json()["trade"]["id"])
        assert len(retried) == len(keys) and first_id not in retried
        assert await _open_ids(api, token) == {first_id, *retried}


async def test_a_burst_gets_only_201s_and_503s_and_every_201_exists(
    stack_factory: Callable[..., Stack], redis_conn: aioredis.Redis
) -> None:
    stack = stack_factory(gateway_env={"GATEWAY_MAX_IN_FLIGHT": "2"})
    async with httpx.AsyncClient(
        base_url=f"{stack.base_url}/api/v1", timeout=60, limits=httpx.Limits(max_connections=64)
    ) as api:
        tokens = [(await new_user(api))[1] for _ in range(4)]
        sent = [(tokens[n % len(tokens)], f"burst-{uuid.uuid4().hex[:8]}-{n}") for n in range(48)]
        async with prices_kept_fresh(redis_conn, stack.stream_key, [BTC]):
            responses = await asyncio.gather(
                *(
                    api.post("/trade/create", headers={**bearer(token), "Idempotency-Key": key}, json=ORDER)
                    for token, key in sent
                )
            )
            accepted: dict[str, set[str]] = {token: set() for token in tokens}
            refused: list[tuple[str, str]] = []
            for (token, key), response in zip(sent, responses, strict=True):
                if response.status_code == 201:
                    accepted[token].add(response.json()["trade"]["id"])
                else:
                    _assert_refused(response)
                    refused.append((token, key))
            # the engine holds exactly the acknowledged orders: none lost, no refused one executed
            for token in tokens:
                assert await _open_ids(api, token) == accepted[token]
            # a refused key retried (one at a time, so admitted) executes now, for the first time
            for token, key in refused:
                again = await api.post("/trade/create", headers={**bearer(token), "Idempotency-Key": key}, json=ORDER)
                assert again.status_code == 201, again.text
                assert again.json()["trade"]["id"] not in accepted[token]
                accepted[token].add(again.json()["trade"]["id"])
            for token in tokens:
                assert await _open_ids(api, token) == accepted[token]
