"""Every error row of docs/contract.md §5.3 through the real gateway and engine processes: validation (exact
number parsing), tokens, foreign orders, unknown asset, insufficient balance, stale or missing prices,
idempotency, and the HTTP plumbing (413, 404, 405, CORS, error body shape)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
import redis.asyncio as aioredis

from tests.integration.gateway.helpers import bearer, new_user
from tests.integration.gateway.support import JWT_SECRET, Quote, Stack, feed_engine

BTC = Quote("BTC_USDC", buy=1_010_000_000, sell=1_000_000_000)  # $101,000 / $100,000
ORDER = {"asset": "BTC_USDC", "side": "LONG", "quantity": "0.01", "leverage": 10}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.fixture
async def trader(api: httpx.AsyncClient, stack: Stack, redis_conn: aioredis.Redis) -> dict[str, str]:
    _, token = await new_user(api)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    return bearer(token)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"quantity": "0.000000001"}, "quantity"),  # 9 decimals: finer than 10^-8
        ({"quantity": -1}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"side": "UP"}, "side"),
        ({"leverage": 0}, "leverage"),
        ({"leverage": 2.5}, "leverage"),
        ({"leverage": True}, "leverage"),
        ({"leverage": "5"}, "leverage"),  # a JSON integer only, not text
        ({"slippage": 101}, "slippage"),
        ({"slippage": "0.001"}, "slippage"),  # finer than a basis point
        ({"slippage": 0.001}, "slippage"),
        ({"stopLoss": "90000.00001"}, "stopLoss"),  # finer than the asset's 4 decimals
        ({"stopLoss": "60000.123456"}, "stopLoss"),
        ({"takeProfit": -5}, "takeProfit"),
        ({"tradeOpeningPrice": "1e400000"}, "tradeOpeningPrice"),
    ],
)
async def test_invalid_order_fields_are_422(
    api: httpx.AsyncClient, trader: dict[str, str], patch: dict[str, object], field: str
) -> None:
    response = await api.post("/trade/create", headers=trader, json={**ORDER, **patch})
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert field in str(error["message"])
    # every validation 422 names its fields, whether pydantic or the exact unit conversion refused them
    details = error.get("details")
    assert isinstance(details, list) and details, error
    assert field in {detail["field"] for detail in details} and all(detail["message"] for detail in details)


@pytest.mark.parametrize(
    "raw",
    [
        # JSON exponent numbers: refused as too large, never expanded or overflowed into a 500
        b'{"asset":"BTC_USDC","side":"LONG","quantity":1e999999,"leverage":10}',
        b'{"asset":"BTC_USDC","side":"LONG","quantity":"0.01","leverage":1e9999999}',
        b'{"asset":"BTC_USDC","side":"LONG","quantity":"0.01","leverage":10,"stopLoss":"1e-1000030"}',
    ],
)
async def test_extreme_numbers_are_422(api: httpx.AsyncClient, trader: dict[str, str], raw: bytes) -> None:
    response = await api.post("/trade/create", headers={**trader, "content-type": "application/json"}, content=raw)
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_a_5000_digit_integer_is_invalid_json(api: httpx.AsyncClient, trader: dict[str, str]) -> None:
    raw = b'{"asset":"BTC_USDC","side":"LONG","quantity":' + b"9" * 5000 + b',"leverage":10}'
    response = await api.post("/trade/create", headers={**trader, "content-type": "application/json"}, content=raw)
    assert_error(response, 400, "INVALID_JSON")


async def test_missing_fields_and_bad_bodies(api: httpx.AsyncClient, trader: dict[str, str]) -> None:
    missing = await api.post("/trade/create", headers=trader, json={"asset": "BTC_USDC"})
    error = assert_error(missing, 422, "VALIDATION_ERROR")
    assert {detail["field"] for detail in error["details"]} == {"side", "quantity", "leverage"}  # type: ignore[union-attr]
    for raw in (b'{"asset": "BTC_USDC",', b'{"quantity": NaN}', b"[1, 2"):
        broken = await api.post("/trade/create", headers={**trader, "content-type": "application/json"}, content=raw)
        assert_error(broken, 400, "INVALID_JSON")
    not_object = await api.post("/trade/create", headers=trader, json=[ORDER])
    assert_error(not_object, 422, "VALIDATION_ERROR")
    assert_error(
        await api.post("/signup", json={"email": "not-an-email", "password": "long-enough"}), 422, "VALIDATION_ERROR"
    )
    assert_error(await api.post("/signup", json={"email": "a@b.example", "password": "short"}), 422, "VALIDATION_ERROR")
    assert_error(await api.post("/trade/close", headers=trader, json={"orderId": "  "}), 422, "VALIDATION_ERROR")
    assert_error(await api.get("/trade/closed", headers=trader, params={"limit": 0}), 422, "VALIDATION_ERROR")
    bad_key = await api.post("/trade/create", headers={**trader, "Idempotency-Key": "x" * 129}, json=ORDER)
    assert_error(bad_key, 422, "VALIDATION_ERROR")


async def test_quantities_are_exact(api: httpx.AsyncClient, trader: dict[str, str]) -> None:
    # 0.1 + 0.2 style numbers survive as typed: 8 decimals as a JSON number, never a float
    response = await api.post("/trade/create", headers=trader, json={**ORDER, "quantity": 0.00123, "leverage": 100})
    assert response.status_code == 201, response.text
    assert response.json()["trade"]["quantity"] == "0.00123"
    raw = b'{"asset": "BTC_USDC", "side": "SHORT", "quantity": 0.30000000, "leverage": 50}'
    response = await api.post("/trade/create", headers={**trader, "content-type": "application/json"}, content=raw)
    assert response.status_code == 201, response.text
    assert response.json()["trade"]["quantity"] == "0.3"
    # a float parser would read this JSON number as 0.1 and accept it; exact parsing sees 34 decimals
    raw = b'{"asset": "BTC_USDC", "side": "LONG", "quantity": 0.1000000000000000055511151231257827, "leverage": 10}'
    response = await api.post("/trade/create", headers={**trader, "content-type": "application/json"}, content=raw)
    assert_error(response, 422, "VALIDATION_ERROR")


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.uuid4())
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_bad_tokens_are_401(api: httpx.AsyncClient) -> None:
    user, token = await new_user(api)
    now = int(time.time())
    expired = jwt.encode({"sub": user["id"], "iat": now - 100, "exp": now - 10}, JWT_SECRET, algorithm="HS256")
    unsigned = jwt.encode({"sub": user["id"], "exp": now + 600}, None, algorithm="none")  # type: ignore[arg-type]
    wrong_secret = jwt.encode({"sub": user["id"], "exp": now + 600}, "not-the-secret-" * 3, algorithm="HS256")
    no_expiry = jwt.encode({"sub": user["id"]}, JWT_SECRET, algorithm="HS256")
    cases = {
        "MISSING_TOKEN": [{}],
        "INVALID_TOKEN": [
            {"Authorization": f"Basic {token}"},
            {"Authorization": "Bearer"},
            bearer("garbage"),
            bearer(_tamper(token)),
            bearer(unsigned),
            bearer(wrong_secret),
            bearer(no_expiry),
        ],
        "TOKEN_EXPIRED": [bearer(expired)],
    }
    for code, header_sets in cases.items():
        for headers in header_sets:
            for method, path in (("GET", "/balance"), ("GET", "/trade/open"), ("POST", "/trade/create")):
                response = await api.request(method, path, headers=headers, json=ORDER)
                assert_error(response, 401, code)
                assert response.headers["www-authenticate"] == "Bearer"
    assert (await api.get("/balance", headers=bearer(token))).status_code == 200


async def test_another_users_order_is_404(api: httpx.AsyncClient, trader: dict[str, str]) -> None:
    opened = await api.post("/trade/create", headers=trader, json=ORDER)
    assert opened.status_code == 201, opened.text
    _, intruder = await new_user(api)
    position_id = opened.json()["trade"]["id"]
    stolen = await api.post("/trade/close", headers=bearer(intruder), json={"orderId": position_id})
    assert_error(stolen, 404, "POSITION_NOT_FOUND")
    partly = await api.post(
        "/trade/close", headers=bearer(intruder), json={"orderId": position_id, "quantity": "0.001"}
    )
    assert_error(partly, 404, "POSITION_NOT_FOUND")
    amended = await api.patch(f"/trade/{position_id}", headers=bearer(intruder), json={"stopLoss": "1"})
    assert_error(amended, 404, "POSITION_NOT_FOUND")
    # the same answer as an id that never existed, and nothing of the owner's shows in the intruder's reads
    assert_error(
        await api.patch("/trade/no-such-position", headers=bearer(intruder), json={"stopLoss": "1"}),
        404,
        "POSITION_NOT_FOUND",
    )
    assert (await api.get("/trade/open", headers=bearer(intruder))).json()["orders"] == []
    assert (await api.get("/trade/closed", headers=bearer(intruder))).json()["orders"] == []
    assert_error(
        await api.post("/trade/close", headers=trader, json={"orderId": "no-such-order"}), 404, "POSITION_NOT_FOUND"
    )
    # the owner still has it
    assert [o["id"] for o in (await api.get("/trade/open", headers=trader)).json()["orders"]] == [
        opened.json()["trade"]["id"]
    ]


async def test_business_rejections(
    api: httpx.AsyncClient, trader: dict[str, str], stack: Stack, redis_conn: aioredis.Redis
) -> None:
    assert_error(
        await api.post("/trade/create", headers=trader, json={**ORDER, "asset": "DOGE_USDC"}), 422, "UNKNOWN_ASSET"
    )
    assert_error(
        await api.post("/trade/create", headers=trader, json={**ORDER, "quantity": "5", "leverage": 1}),
        422,
        "INSUFFICIENT_BALANCE",
    )
    assert_error(
        await api.post(
            "/trade/create", headers=trader, json={**ORDER, "tradeOpeningPrice": "90000", "slippage": "0.5"}
        ),
        422,
        "SLIPPAGE_EXCEEDED",
    )
    assert_error(
        await api.post("/trade/create", headers=trader, json={**ORDER, "stopLoss": "100500"}), 422, "INVALID_STOP_LOSS"
    )
    assert_error(
        await api.post("/trade/create", headers=trader, json={**ORDER, "takeProfit": "99000"}),
        422,
        "INVALID_TAKE_PROFIT",
    )
    assert_error(
        await api.post("/trade/create", headers=trader, json={**ORDER, "quantity": "0.000001"}), 422, "INVALID_QUANTITY"
    )  # finer than BTC's step of 0.00001
    assert_error(
        await api.post("/trade/create", headers=trader, json={**ORDER, "leverage": 101}), 422, "INVALID_LEVERAGE"
    )  # above MAX_LEVERAGE
    # ETH never gets a quote in this module
    assert_error(
        await api.post("/trade/create", headers=trader, json={**ORDER, "asset": "ETH_USDC"}), 503, "PRICE_UNAVAILABLE"
    )
    balance = (await api.get("/balance", headers=trader)).json()
    assert balance["balance"] == 1_000_000 and balance["activePositions"] == 0


async def test_stale_price_is_503(
    api: httpx.AsyncClient, trader: dict[str, str], stack: Stack, redis_conn: aioredis.Redis
) -> None:
    await feed_engine(redis_conn, stack.stream_key, [Quote("SOL_USDC", buy=1_900_000, sell=1_880_000)])
    # the engine measures age in stream time: later entries (BTC quotes) move it past the 2 s limit
    await asyncio.sleep(2.5)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    response = await api.post("/trade/create", headers=trader, json={**ORDER, "asset": "SOL_USDC", "quantity": "1"})
    error = assert_error(response, 503, "PRICE_STALE")
    assert "stale" in str(error["message"])


async def test_idempotency_key(api: httpx.AsyncClient, trader: dict[str, str]) -> None:
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first = await api.post("/trade/create", headers={**trader, **key}, json=ORDER)
    second = await api.post("/trade/create", headers={**trader, **key}, json=ORDER)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["trade"]["id"] == second.json()["trade"]["id"]
    assert len((await api.get("/trade/open", headers=trader)).json()["orders"]) == 1
    other_body = await api.post("/trade/create", headers={**trader, **key}, json={**ORDER, "quantity": "0.02"})
    assert_error(other_body, 409, "IDEMPOTENCY_KEY_REUSED")
    close_key = {"Idempotency-Key": f"close-{uuid.uuid4()}"}
    order_id = first.json()["trade"]["id"]
    closed = await api.post("/trade/close", headers={**trader, **close_key}, json={"orderId": order_id})
    closed_again = await api.post("/trade/close", headers={**trader, **close_key}, json={"orderId": order_id})
    assert closed.status_code == closed_again.status_code == 201
    assert closed.json() == closed_again.json()
    assert len((await api.get("/trade/closed", headers=trader)).json()["orders"]) == 1


async def test_http_plumbing(stack: Stack, api: httpx.AsyncClient) -> None:
    await new_user(api)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as root:
        assert_error(await root.get("/api/v1/nothing-here"), 404, "NOT_FOUND")
        assert_error(await root.delete("/api/v1/signup"), 405, "METHOD_NOT_ALLOWED")
        too_big = await root.post(
            "/api/v1/signin", content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"}
        )
        assert_error(too_big, 413, "PAYLOAD_TOO_LARGE")

        async def chunks():  # no Content-Length: the limit still holds
            for _ in range(20):
                yield b" " * 4096

        streamed = await root.post("/api/v1/signin", content=chunks(), headers={"content-type": "application/json"})
        assert_error(streamed, 413, "PAYLOAD_TOO_LARGE")

        preflight = await root.options(
            "/api/v1/trade/create",
            headers={
                "Origin": "http://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://app.example"
        foreign = await root.options(
            "/api/v1/trade/create", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in foreign.headers

        assert (await root.get("/healthz")).json()["status"] == "ok"
        ready = await root.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"engine": "ok", "redis": "ok", "postgres": "ok"}
        metrics = (await root.get("/metrics")).text
        assert 'gateway_http_requests_total{method="POST",route="/api/v1/signup",status="201"}' in metrics
        assert "gateway_reply_stream_up 1.0" in metrics

        spec = (await root.get("/openapi.json")).json()
        assert set(spec["paths"]) >= {
            f"/api/v1{path}"
            for path in (
                "/signup",
                "/signin",
                "/trade/create",
                "/trade/open",
                "/trade/close",
                "/trade/closed",
                "/balance",
                "/prices",
                "/account/statement",
            )
        }
        create = spec["paths"]["/api/v1/trade/create"]["post"]
        assert create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "CreateOrderResponse"
        )
        assert create["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")
        assert "HTTPValidationError" not in spec["components"]["schemas"]
        docs = await root.get("/docs")
        assert docs.status_code == 200 and "/ui/swagger/swagger-ui-bundle.js" in docs.text
        assert (await root.get("/ui/swagger/swagger-ui-bundle.js")).status_code == 200
        # FastAPI's ReDoc page loads from a CDN: not served
        assert (await root.get("/redoc")).status_code == 404


async def test_a_user_without_an_engine_account_is_404_on_every_read(api: httpx.AsyncClient) -> None:
    # a valid token for a user id the engine has no account for
    now = int(time.time())
    token = jwt.encode({"sub": str(uuid.uuid4()), "iat": now, "exp": now + 600}, JWT_SECRET, algorithm="HS256")
    for path in ("/balance", "/trade/open", "/trade/closed", "/account/statement"):
        assert_error(await api.get(path, headers=bearer(token)), 404, "ACCOUNT_NOT_FOUND")
    # a user with an account and no history still gets an empty page
    _, fresh = await new_user(api)
    history = await api.get("/trade/closed", headers=bearer(fresh))
    assert history.status_code == 200 and history.json() == {"orders": [], "nextCursor": None}


async def test_security_headers_on_the_api_the_pages_and_errors(stack: Stack, api: httpx.AsyncClient) -> None:
    answers = [
        await api.get("/prices"),
        await api.get("/balance"),  # 401
        await api.post("/trade/create", content=b"{", headers={"content-type": "application/json"}),  # 400
    ]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as root:
        pages = [await root.get("/"), await root.get("/docs"), await root.get("/openapi.json")]
    for answer in answers + pages:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    for answer in answers:
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    # the pages keep the policy that lets them load their own scripts
    assert "script-src 'self'" in pages[0].headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in pages[1].headers["content-security-policy"]
