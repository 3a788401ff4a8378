"""The engine misbehaving under a real gateway: a frozen engine (SIGSTOP) gives 504 with the request id,
and the same Idempotency-Key afterwards returns the original outcome, executed once; a dead engine gives
503 (nothing is queued to run later) and the gateway reconnects when an engine is back."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import asyncpg
import grpc
import httpx
import redis.asyncio as aioredis
from exness.engine.v1 import admin_service_pb2, admin_service_pb2_grpc

from harness.polling import apoll_until
from tests.integration.engine.tcp_proxy import TcpProxy
from tests.integration.gateway.helpers import bearer, new_user, stream_longer_than
from tests.integration.gateway.support import Quote, Stack, feed_engine, start_gateway
from tests.support.engine_process import wait_serving
from tests.support.processes import ManagedProcess

BTC = Quote("BTC_USDC", buy=1_010_000_000, sell=1_000_000_000)
ORDER = {"asset": "BTC_USDC", "side": "LONG", "quantity": "0.01", "leverage": 10}


async def wait_readiness(client: httpx.AsyncClient, status: int) -> None:
    async def answers() -> bool:  # polling another process: there is nothing to await but its answer
        return (await client.get("/readyz")).status_code == status

    await apoll_until(answers, f"/readyz answering {status}", 60)


async def test_slow_engine_504_then_same_key_gives_original_outcome_once(
    stack_factory: Callable[..., Stack], redis_conn: aioredis.Redis
) -> None:
    # a lease longer than the freeze: the engine stays leader, it is only slow
    stack = stack_factory(engine_env={"LEASE_TTL_MS": "20000"}, gateway_env={"ENGINE_REPLY_TIMEOUT_MS": "1000"})
    async with (
        httpx.AsyncClient(base_url=stack.base_url, timeout=30) as root,
        httpx.AsyncClient(base_url=f"{stack.base_url}/api/v1", timeout=30) as api,
    ):
        _, token = await new_user(api)
        auth = {**bearer(token), "Idempotency-Key": "retry-me-1"}
        await feed_engine(redis_conn, stack.stream_key, [BTC])
        assert stack.engine.proc is not None
        os.killpg(stack.engine.proc.pid, signal.SIGSTOP)
        try:
            slow = await api.post("/trade/create", headers=auth, json=ORDER)
            assert slow.status_code == 504, slow.text
            error = slow.json()["error"]
            assert error["code"] == "ENGINE_TIMEOUT"
            assert error["requestId"] and error["requestId"] in error["message"]
            # a signup whose engine half times out keeps its row; repeating it (below) completes it
            stuck_signup = await api.post("/signup", json={"email": "late@example.com", "password": "long-enough"})
            assert stuck_signup.status_code == 504, stuck_signup.text
        finally:
            os.killpg(stack.engine.proc.pid, signal.SIGCONT)
        await wait_readiness(root, 200)

        retried = await api.post("/trade/create", headers=auth, json=ORDER)
        assert retried.status_code == 201, retried.text
        again = await api.post("/trade/create", headers=auth, json=ORDER)
        assert again.json()["trade"]["id"] == retried.json()["trade"]["id"]
        open_orders = (await api.get("/trade/open", headers=bearer(token))).json()["orders"]
        assert [order["id"] for order in open_orders] == [retried.json()["trade"]["id"]]
        balance = (await api.get("/balance", headers=bearer(token))).json()
        assert balance["balance"] == 1_000_000 - retried.json()["trade"]["margin"]

        signup = await api.post("/signup", json={"email": "late@example.com", "password": "long-enough"})
        assert signup.status_code == 201, signup.text
        signin = await api.post("/signin", json={"email": "late@example.com", "password": "long-enough"})
        assert signin.status_code == 200 and signin.json()["user"]["balance"] == 1_000_000


async def test_signup_504_leaves_no_orphan_account_and_repeating_it_completes_it(
    stack_factory: Callable[..., Stack],
) -> None:
    """The engine half of a signup times out, and its CreateAccount runs after the 504. The user row must
    still be there (an engine account without a row is an orphan: a second signup of the e-mail would
    make a second account, and the engine's e-mail lookup would find the orphan), and repeating the
    signup, with the engine back, completes that same user."""
    stack = stack_factory(engine_env={"LEASE_TTL_MS": "20000"}, gateway_env={"ENGINE_REPLY_TIMEOUT_MS": "1000"})
    email, password = "slow-signup@example.com", "long-enough"
    async with (
        httpx.AsyncClient(base_url=stack.base_url, timeout=30) as root,
        httpx.AsyncClient(base_url=f"{stack.base_url}/api/v1", timeout=30) as api,
    ):
        assert stack.engine.proc is not None
        os.killpg(stack.engine.proc.pid, signal.SIGSTOP)
        try:
            timed_out = await api.post("/signup", json={"email": email, "password": password})
            assert timed_out.status_code == 504, timed_out.text
        finally:
            os.killpg(stack.engine.proc.pid, signal.SIGCONT)
        await wait_readiness(root, 200)

        wrong_password = await api.post("/signup", json={"email": email, "password": "someone-else"})
        assert wrong_password.status_code == 409 and wrong_password.json()["error"]["code"] == "EMAIL_TAKEN"
        repeated = await api.post("/signup", json={"email": email, "password": password})
        assert repeated.status_code == 201, repeated.text
        user = repeated.json()["user"]
        assert user["balance"] == 1_000_000
        signin = await api.post("/signin", json={"email": email, "password": password})
        assert signin.status_code == 200 and signin.json()["user"]["id"] == user["id"]

    conn = await asyncpg.connect(stack.env["DATABASE_URL"])
    try:
        rows = await conn.fetch("SELECT id::text AS id FROM gateway_users WHERE email = $1", email)
    finally:
        await conn.close()
    assert [row["id"] for row in rows] == [user["id"]]
    async with grpc.aio.insecure_channel(stack.engine_addr) as channel:
        admin = admin_service_pb2_grpc.EngineAdminServiceStub(channel)
        # the account the e-mail leads to in the engine is the row's user (the late CreateAccount's, too)
        by_email = await admin.LookupAccount(admin_service_pb2.LookupAccountRequest(email=email), timeout=10)
    assert by_email.account.user_id == user["id"]
    assert by_email.account.balance_cents == 1_000_000


async def test_engine_down_503_then_reconnects(stack_factory: Callable[..., Stack], redis_conn: aioredis.Redis) -> None:
    stack = stack_factory()
    async with (
        httpx.AsyncClient(base_url=stack.base_url, timeout=30) as root,
        httpx.AsyncClient(base_url=f"{stack.base_url}/api/v1", timeout=30) as api,
    ):
        _, token = await new_user(api)
        stack.engine.kill(signal.SIGKILL)
        await wait_readiness(root, 503)
        ready = (await root.get("/readyz")).json()
        assert ready["checks"]["engine"] == "failed" and ready["checks"]["redis"] == "ok"

        entries_before = await redis_conn.xlen(stack.stream_key)
        for response in (
            await api.post("/trade/create", headers=bearer(token), json=ORDER),
            await api.post("/signup", json={"email": "down@example.com", "password": "long-enough"}),
        ):
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "ENGINE_UNAVAILABLE"
        # refused up front: nothing was queued to run later behind the client's back
        assert await redis_conn.xlen(stack.stream_key) == entries_before
        for path in ("/balance", "/trade/open"):
            response = await api.get(path, headers=bearer(token))
            assert response.status_code == 503, response.text
        assert (await api.get("/prices")).status_code == 503
        assert (await root.get("/healthz")).status_code == 200

        # the same engine (same port, same stream) comes back: the reply stream reconnects by itself
        assert stack.engine.proc is not None
        revived = ManagedProcess(stack.engine.args, stack.engine.log_path, env=stack.engine.env).start()
        stack.engine = revived
        await asyncio.to_thread(wait_serving, stack.engine_addr, revived)
        await wait_readiness(root, 200)
        balance = await api.get("/balance", headers=bearer(token))
        assert balance.status_code == 200 and balance.json()["balance"] == 1_000_000
        await feed_engine(redis_conn, stack.stream_key, [BTC])
        opened = await api.post("/trade/create", headers=bearer(token), json=ORDER)
        assert opened.status_code == 201, opened.text


async def test_sigterm_lets_in_flight_requests_finish(
    stack_factory: Callable[..., Stack], redis_conn: aioredis.Redis
) -> None:
    stack = stack_factory(engine_env={"LEASE_TTL_MS": "20000"}, gateway_env={"ENGINE_REPLY_TIMEOUT_MS": "10000"})
    async with httpx.AsyncClient(base_url=f"{stack.base_url}/api/v1", timeout=30) as api:
        _, token = await new_user(api)
        await feed_engine(redis_conn, stack.stream_key, [BTC])
        assert stack.engine.proc is not None and stack.gateway.proc is not None
        entries = await redis_conn.xlen(stack.stream_key)
        os.killpg(stack.engine.proc.pid, signal.SIGSTOP)
        try:
            in_flight = asyncio.create_task(api.post("/trade/create", headers=bearer(token), json=ORDER))
            # until its command is on the stream: the request is now waiting for the reply
            await apoll_until(
                lambda: stream_longer_than(redis_conn, stack.stream_key, entries), "the order on the stream", 60
            )
            os.killpg(stack.gateway.proc.pid, signal.SIGTERM)
        finally:
            os.killpg(stack.engine.proc.pid, signal.SIGCONT)
        response = await in_flight
        assert response.status_code == 201, response.text
        # uvicorn re-raises SIGTERM after its graceful shutdown, so the exit status is the signal's
        assert await asyncio.to_thread(stack.gateway.proc.wait, 30) == -signal.SIGTERM
        assert "Application shutdown complete" in stack.gateway.output()


async def test_reply_stream_cut_while_a_request_waits(
    stack_factory: Callable[..., Stack], redis_conn: aioredis.Redis, artifacts_dir: Path
) -> None:
    """The gRPC connection to the engine is cut (a proxy resets it) while an order waits for its reply:
    the request ends with its reply or a clean 504 carrying the request id, new writes are refused until
    the stream is back, and the retry with the same key finds the order executed exactly once."""
    stack = stack_factory(engine_env={"LEASE_TTL_MS": "20000"})
    host, port = stack.engine_addr.split(":")
    proxy = TcpProxy(host, int(port))
    proxy.up()
    gateway, base_url = start_gateway(
        {**stack.env, "ENGINE_ADDR": f"127.0.0.1:{proxy.port}", "ENGINE_REPLY_TIMEOUT_MS": "3000"}, artifacts_dir
    )
    try:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=30) as root,
            httpx.AsyncClient(base_url=f"{base_url}/api/v1", timeout=30) as api,
        ):
            _, token = await new_user(api)
            auth = {**bearer(token), "Idempotency-Key": "cut-1"}
            await feed_engine(redis_conn, stack.stream_key, [BTC])
            assert stack.engine.proc is not None
            entries = await redis_conn.xlen(stack.stream_key)
            os.killpg(stack.engine.proc.pid, signal.SIGSTOP)
            try:
                waiting = asyncio.create_task(api.post("/trade/create", headers=auth, json=ORDER))
                await apoll_until(
                    lambda: stream_longer_than(redis_conn, stack.stream_key, entries), "the order on the stream", 60
                )
                await asyncio.to_thread(proxy.down)
                await wait_readiness(root, 503)
                refused = await api.post("/trade/create", headers=bearer(token), json=ORDER)
                assert refused.status_code == 503 and refused.json()["error"]["code"] == "ENGINE_UNAVAILABLE"
                await asyncio.to_thread(proxy.up)
            finally:
                os.killpg(stack.engine.proc.pid, signal.SIGCONT)
            outcome = await waiting
            assert outcome.status_code in (201, 504), outcome.text
            if outcome.status_code == 504:
                assert outcome.json()["error"]["requestId"]
            await wait_readiness(root, 200)
            retried = await api.post("/trade/create", headers=auth, json=ORDER)
            assert retried.status_code == 201, retried.text
            if outcome.status_code == 201:
                assert outcome.json()["trade"]["id"] == retried.json()["trade"]["id"]
            orders = (await api.get("/trade/open", headers=bearer(token))).json()["orders"]
            assert [order["id"] for order in orders] == [retried.json()["trade"]["id"]]
    finally:
        gateway.stop()
        proxy.close()
