"""Auth behaviour that needs its own gateway process or direct database access: the signup/signin rate
limit (one bucket per client for the whole platform, a per-process fallback without Redis), refusing
to start without JWT_SECRET, signin finishing a signup whose engine account was never created, and signin
refusing to refill a completed user whose engine account is gone."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import jwt
import pytest
import redis.asyncio as aioredis

from gateway.limits import RedisRateLimiter
from gateway.metrics import RATE_LIMIT_FALLBACK
from gateway.security import hash_password
from tests.integration.gateway.helpers import bearer, new_user
from tests.integration.gateway.support import JWT_SECRET, Quote, Stack, feed_engine, start_gateway
from tests.support.net import free_port
from tests.support.processes import ManagedProcess


async def test_auth_rate_limit_429(stack: Stack, artifacts_dir: Path) -> None:
    gateway, base_url = start_gateway(
        {**stack.env, "ENGINE_ADDR": stack.engine_addr, "AUTH_RATE_LIMIT": "3/minute"}, artifacts_dir
    )
    try:
        async with httpx.AsyncClient(base_url=f"{base_url}/api/v1", timeout=30) as api:
            statuses = [
                (await api.post("/signin", json={"email": "nobody@example.com", "password": "guess-1234"}))
                for _ in range(4)
            ]
            assert [response.status_code for response in statuses[:3]] == [401, 401, 401]
            limited = statuses[3]
            assert limited.status_code == 429
            assert limited.json()["error"]["code"] == "RATE_LIMITED"
            assert int(limited.headers["retry-after"]) >= 1
            signup = await api.post("/signup", json={"email": "rate@example.com", "password": "long-enough"})
            assert signup.status_code == 429
            # other endpoints are not limited
            assert (await api.get("/prices")).status_code in (200, 503)
    finally:
        gateway.stop()


def test_refuses_to_start_without_jwt_secret(stack: Stack, artifacts_dir: Path) -> None:
    proc = ManagedProcess(
        [sys.executable, "-m", "gateway"],
        artifacts_dir / "gateway-no-secret.log",
        env={
            **stack.env,
            "ENGINE_ADDR": stack.engine_addr,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(free_port()),
            "JWT_SECRET": "",
            "DEV_MODE": "false",
        },
    ).start()
    assert proc.proc is not None
    assert proc.proc.wait(timeout=60) == 2
    assert "JWT_SECRET is required" in proc.output()


async def test_signin_creates_a_missing_engine_account(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    # a user row without an engine account: what a gateway crash between the two halves of signup leaves
    email = f"orphan-{uuid.uuid4().hex[:8]}@example.com"
    conn = await asyncpg.connect(stack.env["DATABASE_URL"])
    try:
        await conn.execute(
            "INSERT INTO gateway_users (id, email, password_hash) VALUES ($1, $2, $3)",
            uuid.uuid4(),
            email,
            await hash_password("orphan-pass"),
        )
    finally:
        await conn.close()
    signin = await api.post("/signin", json={"email": email, "password": "orphan-pass"})
    assert signin.status_code == 200, signin.text
    assert signin.json()["user"]["balance"] == 1_000_000
    await feed_engine(redis_conn, stack.stream_key, [Quote("BTC_USDC", buy=1_010_000_000, sell=1_000_000_000)])
    order = await api.post(
        "/trade/create",
        headers=bearer(signin.json()["token"]),
        json={"asset": "BTC_USDC", "side": "LONG", "quantity": "0.01", "leverage": 10},
    )
    assert order.status_code == 201, order.text
    # the signup is complete now: the row says so
    conn = await asyncpg.connect(stack.env["DATABASE_URL"])
    try:
        assert await conn.fetchval("SELECT account_created FROM gateway_users WHERE email = $1", email) is True
    finally:
        await conn.close()


async def test_signin_never_refills_a_completed_user_whose_engine_account_is_gone(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    # a completed signup whose engine account is missing: what an engine that lost its state leaves
    email, user_id = f"lost-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4()
    conn = await asyncpg.connect(stack.env["DATABASE_URL"])
    try:
        await conn.execute(
            "INSERT INTO gateway_users (id, email, password_hash, account_created) VALUES ($1, $2, $3, true)",
            user_id,
            email,
            await hash_password("lost-pass-1"),
        )
    finally:
        await conn.close()
    for attempt in (
        await api.post("/signin", json={"email": email, "password": "lost-pass-1"}),
        await api.post("/signup", json={"email": email, "password": "lost-pass-1"}),
    ):
        assert attempt.status_code == 503, attempt.text
        assert attempt.json()["error"]["code"] == "ACCOUNT_UNAVAILABLE"
    # no money was created: the engine still has no account for the user
    now = int(time.time())
    token = jwt.encode({"sub": str(user_id), "iat": now, "exp": now + 600}, JWT_SECRET, algorithm="HS256")
    balance = await api.get("/balance", headers=bearer(token))
    assert balance.status_code == 404 and balance.json()["error"]["code"] == "ACCOUNT_NOT_FOUND"
    critical = [
        json.loads(line)
        for line in stack.gateway.output().splitlines()
        if line.startswith("{") and '"level": "critical"' in line
    ]
    assert any(entry.get("user_id") == str(user_id) for entry in critical)


async def test_rate_limit_buckets_per_forwarded_client_only_behind_a_trusted_proxy(
    stack: Stack, artifacts_dir: Path
) -> None:
    """The gateway trusts the proxy at 127.0.0.2 only: through it, each X-Forwarded-For client has its own
    bucket; the same header sent from 127.0.0.3 is ignored (that connection's address is the key)."""
    gateway, base_url = start_gateway(
        {
            **stack.env,
            "ENGINE_ADDR": stack.engine_addr,
            "AUTH_RATE_LIMIT": "2/hour",
            "FORWARDED_ALLOW_IPS": "127.0.0.2",
        },
        artifacts_dir,
    )
    guess = {"email": "nobody@example.com", "password": "guess-1234"}

    async def statuses(source: str, client_ip: str, count: int) -> list[int]:
        transport = httpx.AsyncHTTPTransport(local_address=source)
        async with httpx.AsyncClient(base_url=f"{base_url}/api/v1", transport=transport, timeout=30) as api:
            return [
                (await api.post("/signin", json=guess, headers={"X-Forwarded-For": client_ip})).status_code
                for _ in range(count)
            ]

    try:
        # through the trusted proxy: one client exhausts its own bucket, the next client is unaffected
        assert await statuses("127.0.0.2", "198.51.100.1", 3) == [401, 401, 429]
        assert await statuses("127.0.0.2", "198.51.100.2", 2) == [401, 401]
        # from an untrusted address the header is ignored: a new "client" per request gets no new bucket
        assert await statuses("127.0.0.3", "198.51.100.3", 2) == [401, 401]
        assert await statuses("127.0.0.3", "198.51.100.4", 1) == [429]
    finally:
        gateway.stop()


async def test_auth_rate_limit_is_one_bucket_for_all_gateway_processes(stack: Stack, artifacts_dir: Path) -> None:
    """Two gateways of one platform count a client's attempts together (Redis), and every answer tells
    the client where it stands (RateLimit-* headers; Retry-After on the 429)."""
    env = {**stack.env, "ENGINE_ADDR": stack.engine_addr, "AUTH_RATE_LIMIT": "3/hour"}
    first, first_url = start_gateway(env, artifacts_dir)
    second, second_url = start_gateway(env, artifacts_dir)
    guess = {"email": "nobody@example.com", "password": "guess-1234"}
    try:
        # a source address of this test's own: its bucket is not shared with the other tests here
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.4")
        async with httpx.AsyncClient(transport=transport, timeout=30) as client:
            answers = [
                await client.post(f"{url}/api/v1/signin", json=guess)
                for url in (first_url, first_url, second_url, second_url, first_url)
            ]
        assert [answer.status_code for answer in answers] == [401, 401, 401, 429, 429]
        assert [answer.headers["RateLimit-Remaining"] for answer in answers] == ["2", "1", "0", "0", "0"]
        for answer in answers:
            assert answer.headers["RateLimit-Limit"] == "3"
            assert answer.headers["RateLimit-Policy"] == "3;w=3600"
            assert 1 <= int(answer.headers["RateLimit-Reset"]) <= 3600
        for limited in answers[3:]:
            assert limited.json()["error"]["code"] == "RATE_LIMITED"
            assert limited.headers["Retry-After"] == limited.headers["RateLimit-Reset"]
    finally:
        first.stop()
        second.stop()


async def test_auth_rate_limit_falls_back_to_this_process_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    """No Redis: the limit still holds, per process, and says so in the log and the metric."""
    redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=2)
    limiter = RedisRateLimiter(redis, "test:unreachable:", limit=2, window=60)
    before = RATE_LIMIT_FALLBACK._value.get()
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.limits"):
            decisions = [await limiter.hit("203.0.113.9") for _ in range(3)]
    finally:
        await redis.aclose()
    assert [decision.allowed for decision in decisions] == [True, True, False]
    assert RATE_LIMIT_FALLBACK._value.get() == before + 3
    assert any("counting in this process only" in record.getMessage() for record in caplog.records)


async def test_signin_attempts_per_email_are_limited_whatever_address_they_come_from(
    stack: Stack, artifacts_dir: Path
) -> None:
    """An attacker rotating client addresses (here through the trusted proxy) gets SIGNIN_EMAIL_RATE_LIMIT
    guesses at one account, then 429 with Retry-After; another account is unaffected. IPv6 clients share
    the auth bucket of their /64."""
    gateway, base_url = start_gateway(
        {
            **stack.env,
            "ENGINE_ADDR": stack.engine_addr,
            "AUTH_RATE_LIMIT": "2/hour",
            "SIGNIN_EMAIL_RATE_LIMIT": "3/hour",
            "FORWARDED_ALLOW_IPS": "127.0.0.5",
        },
        artifacts_dir,
    )
    victim = {"email": f"victim{uuid.uuid4().hex[:8]}@example.com", "password": "guess-1234"}
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.5")
    try:
        async with httpx.AsyncClient(base_url=f"{base_url}/api/v1", transport=transport, timeout=30) as api:

            async def signin(client_ip: str, body: dict[str, str]) -> httpx.Response:
                return await api.post("/signin", json=body, headers={"X-Forwarded-For": client_ip})

            answers = [await signin(f"198.51.100.{n}", victim) for n in range(10, 14)]
            assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
            assert answers[3].json()["error"]["code"] == "RATE_LIMITED"
            assert int(answers[3].headers["Retry-After"]) >= 1
            assert answers[3].headers["RateLimit-Policy"] == "3;w=3600"
            # the same e-mail in other letter cases is the same account
            shouted = {**victim, "email": victim["email"].upper()}
            assert (await signin("198.51.100.20", shouted)).status_code == 429
            other = {"email": f"other{uuid.uuid4().hex[:8]}@example.com", "password": "guess-1234"}
            assert (await signin("198.51.100.21", other)).status_code == 401
            # addresses of one IPv6 /64 are one client (a fresh e-mail each time: only the client bucket counts)

            def fresh() -> dict[str, str]:
                return {"email": f"v6{uuid.uuid4().hex[:8]}@example.com", "password": "guess-1234"}

            same_64 = [(await signin(f"2001:db8:7:1::{n}", fresh())).status_code for n in ("1", "2", "ffff")]
            assert same_64 == [401, 401, 429]
            assert (await signin("2001:db8:7:2::1", fresh())).status_code == 401
    finally:
        gateway.stop()


async def test_the_email_limit_counts_failed_signins_only(stack: Stack, artifacts_dir: Path) -> None:
    """A trader who signs in often never trips SIGNIN_EMAIL_RATE_LIMIT; failed attempts do, and then even
    the right password gets 429 until the window passes (a guesser cannot wait for the owner's success to
    reset the bucket)."""
    gateway, base_url = start_gateway(
        {**stack.env, "ENGINE_ADDR": stack.engine_addr, "AUTH_RATE_LIMIT": "off", "SIGNIN_EMAIL_RATE_LIMIT": "3/hour"},
        artifacts_dir,
    )
    try:
        async with httpx.AsyncClient(base_url=f"{base_url}/api/v1", timeout=30) as api:
            user, _ = await new_user(api, password="the-right-one")
            right = {"email": str(user["email"]), "password": "the-right-one"}
            wrong = {**right, "password": "a-wrong-guess"}
            successes = [await api.post("/signin", json=right) for _ in range(6)]
            assert [answer.status_code for answer in successes] == [200] * 6
            # twice the limit of successes, and the whole budget of failures is still there
            failures = [await api.post("/signin", json=wrong) for _ in range(4)]
            assert [answer.status_code for answer in failures] == [401, 401, 401, 429]
            locked = await api.post("/signin", json=right)
            assert locked.status_code == 429, locked.text
            assert locked.json()["error"]["code"] == "RATE_LIMITED"
            assert int(locked.headers["Retry-After"]) >= 1
            assert locked.headers["RateLimit-Policy"] == "3;w=3600"
    finally:
        gateway.stop()
