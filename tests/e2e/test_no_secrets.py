"""No password, password hash, token or signing secret in any log line, stream entry or error body: a whole
journey (signups, right and wrong signins, a signup repeated with another password, orders opened,
amended and closed, bad and expired tokens, the price socket) against every service as its own process,
then every service's captured stdout/stderr, every entry of the command stream and its dead letters,
and every error body are searched for each secret the journey used or made."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import jwt
import pytest
import redis.asyncio as aioredis
import websockets

from tests.e2e.platform import Platform
from tests.e2e.test_trading_journey import driving_prices

pytestmark = pytest.mark.e2e


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _journey(mesh: Platform, api: httpx.AsyncClient, passwords: list[str]) -> tuple[list[str], list[str]]:
    """Runs the journey; returns (the tokens issued and forged, every error body)."""
    errors: list[str] = []
    tokens: list[str] = []

    def keep(response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            errors.append(response.text)
        return response

    emails = [f"secret-{uuid.uuid4().hex[:8]}@example.com" for _ in passwords[:2]]
    for email, password in zip(emails, passwords, strict=False):
        signup = keep(await api.post("/signup", json={"email": email, "password": password}))
        assert signup.status_code == 201, signup.text
        tokens.append(signup.json()["token"])
    wrong = passwords[2]
    assert keep(await api.post("/signin", json={"email": emails[0], "password": wrong})).status_code == 401
    assert keep(await api.post("/signup", json={"email": emails[0], "password": wrong})).status_code == 409
    signin = keep(await api.post("/signin", json={"email": emails[0], "password": passwords[0]}))
    assert signin.status_code == 200
    tokens.append(signin.json()["token"])
    auth = {"Authorization": f"Bearer {tokens[-1]}"}
    async with driving_prices(mesh) as prices:
        await prices.set(api, "BTC_USDC", "100000.0000", "100000.0000")
        order = {"asset": "BTC_USDC", "side": "LONG", "quantity": "0.01", "leverage": 10}
        opened = keep(await api.post("/trade/create", headers=auth, json=order))
        assert opened.status_code == 201, opened.text
        position = opened.json()["trade"]["id"]
        assert keep(await api.patch(f"/trade/{position}", headers=auth, json={"stopLoss": "90000"})).status_code < 300
        assert keep(await api.post("/trade/close", headers=auth, json={"orderId": position})).status_code < 300
    now = int(time.time())
    forged = [
        tokens[0][:-4] + ("AAAA" if not tokens[0].endswith("AAAA") else "BBBB"),
        jwt.encode({"sub": str(uuid.uuid4()), "exp": now - 5}, mesh.jwt_secret, algorithm="HS256"),
        jwt.encode({"sub": str(uuid.uuid4()), "exp": now + 60}, "x" * 40, algorithm="HS256"),
    ]
    tokens += forged
    for token in forged:
        assert keep(await api.get("/balance", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    for path in ("/balance", "/trade/open", "/trade/closed"):
        assert keep(await api.get(path, headers=auth)).status_code == 200
    async with websockets.connect(mesh.ws_prices) as socket:
        await socket.send(f"Bearer {tokens[0]}")
    return tokens, errors


def _read_logs(log_dir: Path) -> dict[str, str]:
    """Every service's captured stdout and stderr (the platform writes one file per process)."""
    return {path.name: path.read_text(errors="replace") for path in log_dir.glob("*.log")}


async def test_no_secret_reaches_a_log_line_a_stream_entry_or_an_error_body(platform: Platform, redis_url: str) -> None:
    passwords = [f"pw-{uuid.uuid4().hex}" for _ in range(3)]
    async with httpx.AsyncClient(base_url=platform.api, timeout=30) as api:
        tokens, errors = await _journey(platform, api, passwords)
    database = await asyncpg.connect(_asyncpg_url(platform.engine_env["DATABASE_URL"]))
    try:
        rows = await database.fetch("SELECT password_hash FROM gateway_users WHERE email LIKE 'secret-%'")
    finally:
        await database.close()
    hashes = [row["password_hash"] for row in rows]
    assert len(hashes) >= 2 and all(value.startswith("$2") for value in hashes)
    secrets = {
        "JWT secret": [platform.jwt_secret],
        "password": passwords,
        "token": tokens + [token.rsplit(".", 1)[1] for token in tokens],  # whole, and the signature alone
        "password hash": hashes + [value[7:] for value in hashes],  # whole, and salt + digest alone
    }
    redis = aioredis.Redis.from_url(redis_url)
    try:
        stream_key = platform.common_env["STREAM_KEY"]
        entries = await redis.xrange(stream_key) + await redis.xrange(f"{stream_key}:dead")
    finally:
        await redis.aclose()
    stream_text = "\n".join(repr(fields) for _, fields in entries)
    logs = _read_logs(Path(platform.log_dir))
    # the search must have something to search: the services logged and the commands went through the stream
    assert {"gateway.log", "pooler.log", "fake_backpack.log"} <= set(logs)
    assert any(name.startswith("engine") for name in logs)
    assert "user signed up" in logs["gateway.log"]
    assert b"CREATE_ACCOUNT" in stream_text.encode() or "create_account" in stream_text.lower()
    assert len(errors) == 5  # wrong password, e-mail taken, three forged tokens
    places = {**logs, "command stream": stream_text, "error bodies": "\n".join(errors)}
    found = [
        f"a {kind} in {place}"
        for kind, values in secrets.items()
        for value in values
        for place, text in places.items()
        if value in text
    ]
    print(f"\nsearched {sum(len(text) for text in places.values())} characters in {len(places)} places "
          f"for {sum(len(values) for values in secrets.values())} secrets")  # fmt: skip
    assert not found
