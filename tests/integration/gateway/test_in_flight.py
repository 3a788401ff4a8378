"""GATEWAY_MAX_IN_FLIGHT holds for the platform, not per process (gateway.in_flight, gateway.admission),
against real Redis: gateways share their counts, so the second one refuses once the first holds the
platform's budget; a gateway that dies stops counting once its published count expires; and without
Redis each process falls back to its own count, saying so. Through two real gateway processes in front
of one frozen engine, the refusals are 503 ENGINE_BUSY before the stream, as on one gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.admission import Admission
from gateway.in_flight import SharedInFlight
from gateway.metrics import IN_FLIGHT_SHARED
from harness.polling import NotYet, apoll_until
from tests.integration.gateway.helpers import bearer, new_user, stream_length_is
from tests.integration.gateway.support import Quote, Stack, feed_engine, start_gateway
from tests.support.admission import refusal
from tests.support.net import free_port

ORDER = {"asset": "BTC_USDC", "side": "LONG", "quantity": "0.001", "leverage": 10}


@pytest.fixture
async def hash_key(redis_conn: aioredis.Redis) -> AsyncIterator[str]:
    key = f"test:inflight{uuid.uuid4().hex[:10]}:stream:engine:in-flight"
    yield key
    await redis_conn.delete(key)


async def test_gateways_share_the_cap_and_a_dead_ones_count_expires(
    redis_url: str, hash_key: str, redis_conn: aioredis.Redis
) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    local = {"first": 0, "second": 0, "dead": 0}

    def share(name: str, ttl_ms: int = 1500) -> SharedInFlight:
        return SharedInFlight(redis, hash_key, f"gw-{name}", lambda: local[name], ttl_ms=ttl_ms)

    first, second = share("first"), share("second")
    admit_first = Admission(max_in_flight=3, max_loop_lag=0.0, shared=first)
    admit_second = Admission(max_in_flight=3, max_loop_lag=0.0, shared=second)
    try:
        # the first holds the whole budget: once the second has read it, the second refuses its first write
        local["first"] = 3
        await first.refresh()
        await second.refresh()
        assert second.others() == 3 and first.others() == 0
        assert refusal(admit_second, 0) == "ENGINE_BUSY"
        assert refusal(admit_first, 3) == "ENGINE_BUSY"
        # the first's writes finish: the budget comes back with its next refresh
        local["first"] = 1
        await first.refresh()
        await second.refresh()
        assert refusal(admit_second, 1) is None
        assert refusal(admit_second, 2) == "ENGINE_BUSY"

        # a gateway that dies holding writes (it never refreshes or cleans up again) counts until its
        # published count expires, then not at all, and its field is gone from the hash
        dead = share("dead", ttl_ms=300)
        local["dead"] = 2
        await dead.refresh()
        await second.refresh()
        assert second.others() == 3

        async def dead_count_expired() -> bool:
            await first.refresh()  # the first stays alive meanwhile, however slow the machine
            await second.refresh()
            return second.others() == 1

        await apoll_until(dead_count_expired, "the dead gateway's count expired", 30)
        assert not await redis_conn.hexists(hash_key, "gw-dead")
        assert refusal(admit_second, 1) is None

        # a gateway that stops cleanly leaves the sum at once
        await first.close()
        await second.refresh()
        assert second.others() == 0
        assert refusal(admit_second, 2) is None
    finally:
        await second.close()
        await redis.aclose()


async def test_without_redis_each_gateway_counts_alone_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=2)
    shared = SharedInFlight(redis, "test:unreachable:in-flight", "gw-alone", lambda: 0)
    admission = Admission(max_in_flight=2, max_loop_lag=0.0, shared=shared)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.in_flight"):
            await shared.refresh()
            await shared.refresh()
    finally:
        await redis.aclose()
    assert shared.others() == 0
    assert IN_FLIGHT_SHARED._value.get() == 0
    # the orders are not refused for Redis's sake: the local bound still holds
    assert refusal(admission, 1) is None
    assert refusal(admission, 2) == "ENGINE_BUSY"
    warnings = [r.getMessage() for r in caplog.records if "counting this gateway's writes only" in r.getMessage()]
    assert len(warnings) == 1  # said once when it happens, not on every refresh


async def _metric(base_url: str, name: str) -> float:
    async with httpx.AsyncClient(timeout=30) as client:
        text = (await client.get(f"{base_url}/metrics")).text
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise NotYet(f"{name} not in /metrics")


async def _metric_is(base_url: str, name: str, value: float) -> bool:
    seen = await _metric(base_url, name)
    if seen != value:
        raise NotYet(f"{name} = {seen}")
    return True


def _assert_busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    error = response.json()["error"]
    assert error["code"] == "ENGINE_BUSY" and "not executed" in error["message"]
    assert "on other gateways" in error["message"]


async def test_two_gateway_processes_share_one_cap(
    stack_factory: Callable[..., Stack], redis_conn: aioredis.Redis, artifacts_dir: Path
) -> None:
    # a frozen engine keeps the admitted order in flight as long as we like; lease and reply timeout
    # outlive the freeze
    env = {"GATEWAY_MAX_IN_FLIGHT": "1", "ENGINE_REPLY_TIMEOUT_MS": "60000"}
    stack = stack_factory(engine_env={"LEASE_TTL_MS": "30000"}, gateway_env=env)
    second, second_url = start_gateway({**stack.env, "ENGINE_ADDR": stack.engine_addr, **env}, artifacts_dir)
    assert stack.engine.proc is not None
    engine_pid = stack.engine.proc.pid
    try:
        async with httpx.AsyncClient(base_url=f"{stack.base_url}/api/v1", timeout=90) as first_api:
            _, token = await new_user(first_api)
        await feed_engine(redis_conn, stack.stream_key, [Quote("BTC_USDC", buy=1_010_000_000, sell=1_000_000_000)])
        await apoll_until(lambda: _metric_is(second_url, "gateway_in_flight_shared", 1.0), "the second sharing", 60)
        os.killpg(engine_pid, signal.SIGSTOP)
        async with (
            httpx.AsyncClient(base_url=f"{stack.base_url}/api/v1", timeout=90) as first_api,
            httpx.AsyncClient(base_url=f"{second_url}/api/v1", timeout=90) as second_api,
        ):
            before = await redis_conn.xlen(stack.stream_key)
            held = asyncio.create_task(first_api.post("/trade/create", headers=bearer(token), json=ORDER))
            await apoll_until(
                lambda: stream_length_is(redis_conn, stack.stream_key, before + 1), "the first's order sent", 30
            )
            await apoll_until(
                lambda: _metric_is(second_url, "gateway_in_flight_other_gateways", 1.0), "the second seeing it", 30
            )
            # the platform's budget is held by the first gateway: the second refuses before the stream
            for _ in range(4):
                _assert_busy(await second_api.post("/trade/create", headers=bearer(token), json=ORDER))
            assert await redis_conn.xlen(stack.stream_key) == before + 1

            # the first dies with its order in flight: once its count expires, the second admits again
            stack.gateway.kill()
            with contextlib.suppress(httpx.HTTPError):
                await held
            await apoll_until(
                lambda: _metric_is(second_url, "gateway_in_flight_other_gateways", 0.0), "the dead count expired", 30
            )
            admitted = asyncio.create_task(second_api.post("/trade/create", headers=bearer(token), json=ORDER))
            await apoll_until(
                lambda: stream_length_is(redis_conn, stack.stream_key, before + 2), "the second's order sent", 30
            )
            os.killpg(engine_pid, signal.SIGCONT)
            answer = await admitted
            assert answer.status_code == 201, answer.text
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(engine_pid, signal.SIGCONT)
        second.stop()
