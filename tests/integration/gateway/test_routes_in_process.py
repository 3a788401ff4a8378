"""The gateway's routes in this process (`create_app` with a prepared context, httpx's ASGI transport)
against a real engine process, Redis and PostgreSQL: no uvicorn, so a route's behaviour can be tested
and debugged in one process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.config import GatewaySettings
from gateway.main import create_app, running_context
from harness.polling import apoll_until
from tests.integration.gateway.helpers import bearer
from tests.integration.gateway.support import JWT_SECRET, Quote, feed_engine
from tests.support.engine_process import start_engine

BTC = Quote("BTC_USDC", buy=1_010_000_000, sell=1_000_000_000)


@pytest.fixture
async def engine_env(
    redis_url: str, postgres_url: str, mongodb_url: str, artifacts_dir: Path
) -> AsyncIterator[dict[str, str]]:
    """A real engine process on its own stream namespace; the environment a gateway would get."""
    prefix = f"test:inproc{uuid.uuid4().hex[:10]}:"
    common = {
        "REDIS_URL": redis_url,
        "STREAM_KEY": f"{prefix}stream:engine",
        "PRICE_CHANNEL": f"{prefix}ws:price:update",
        "DATABASE_URL": postgres_url,
    }
    engine, address = start_engine(
        {**common, "MONGODB_URL": mongodb_url, "MONGODB_DATABASE": f"inproc_{uuid.uuid4().hex[:10]}"}, artifacts_dir
    )
    try:
        yield {**common, "ENGINE_ADDR": address}
    finally:
        engine.stop()
        client = aioredis.Redis.from_url(redis_url)
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_routes_in_process_against_a_real_engine(
    engine_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        **engine_env,
        "JWT_SECRET": JWT_SECRET,
        "AUTH_RATE_LIMIT": "off",
        "GATEWAY_ID": f"gw-inproc-{uuid.uuid4().hex[:6]}",
    }.items():
        monkeypatch.setenv(name, value)
    settings = GatewaySettings()
    async with running_context(settings) as context:
        await apoll_until(lambda: context.engine.ready, "the engine client to be ready", 60)
        app = create_app(settings, context)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway/api/v1", timeout=30
        ) as api:
            signup = await api.post(
                "/signup", json={"email": f"in-{uuid.uuid4().hex[:8]}@example.com", "password": "long-enough"}
            )
            assert signup.status_code == 201, signup.text
            auth = bearer(signup.json()["token"])
            await feed_engine(context.redis, settings.stream_key, [BTC])
            created = await api.post(
                "/trade/create",
                headers=auth,
                json={"asset": "BTC_USDC", "side": "SHORT", "quantity": "0.01", "leverage": 10},
            )
            assert created.status_code == 201, created.text
            trade = created.json()["trade"]
            assert trade["side"] == "SHORT" and trade["entryPrice"] == BTC.sell
            opened = (await api.get("/trade/open", headers=auth)).json()["orders"]
            assert [order["id"] for order in opened] == [trade["id"]]
            balance = (await api.get("/balance", headers=auth)).json()
            assert balance["balance"] == 1_000_000 - trade["margin"] and balance["activePositions"] == 1
            closed = await api.post("/trade/close", headers=auth, json={"orderId": trade["id"]})
            assert closed.status_code == 201, closed.text
            assert closed.json()["trade"]["side"] == "SHORT"
            history = (await api.get("/trade/closed", headers=auth)).json()
            assert [order["id"] for order in history["orders"]] == [trade["id"]]
            prices = (await api.get("/prices")).json()["prices"]
            assert prices["BTC_USDC"]["buyPrice"] == BTC.buy
            # an engine rejection comes back through the client as its API error
            unknown = await api.post("/trade/close", headers=auth, json={"orderId": "no-such-order"})
            assert unknown.status_code == 404, unknown.text
