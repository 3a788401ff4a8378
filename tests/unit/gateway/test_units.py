"""Pure gateway code: configuration, tokens, the status table, REST -> protobuf conversion, the rate
limiter, the body size limit and the conflating price mailbox. No sockets."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from decimal import Decimal

import grpc
import jwt
import pytest
from exness.common.v1 import trading_pb2
from exness.engine.v1 import commands_pb2
from pydantic import ValidationError

from gateway.config import GatewaySettings, parse_rate, trusted_proxies
from gateway.errors import GRPC_STATUS, REJECTION_STATUS, ApiError, rejection_error
from gateway.limits import BodySizeLimitMiddleware, RateLimiter
from gateway.prices import PriceHub
from gateway.schemas import CreateOrderRequest, SignupRequest
from gateway.security import bearer_token, issue_token, user_id_from_token
from gateway.translate import closed_trade_out, open_position_command, trade_out
from mesh.codec import encode_price_update
from mesh.settings import DEFAULT_ASSETS
from tests.integration.gateway.support import Quote, price_update

SECRET = "unit-secret-" + "y" * 32
SPECS = GatewaySettings(jwt_secret=SECRET, assets=DEFAULT_ASSETS).asset_specs


def order(**fields: object) -> CreateOrderRequest:
    return CreateOrderRequest.model_validate({"asset": "BTC_USDC", "side": "LONG", "quantity": Decimal("0.01"),
                                              "leverage": 10, **fields})


# ---- configuration

def test_jwt_secret_is_required_outside_dev_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("DEV_MODE", raising=False)
    with pytest.raises(ValidationError, match="JWT_SECRET is required"):
        GatewaySettings()
    dev = GatewaySettings(dev_mode=True)
    assert dev.signing_secret == dev.signing_secret and len(dev.signing_secret) >= 32
    assert GatewaySettings(jwt_secret=SECRET).signing_secret == SECRET


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("CORS_ORIGINS", " http://a.example ,http://b.example,,")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/x")
    monkeypatch.setenv("AUTH_RATE_LIMIT", "5/second")
    monkeypatch.setenv("GATEWAY_ID", "gw-1")
    settings = GatewaySettings()
    assert settings.cors_origin_list == ["http://a.example", "http://b.example"]
    assert settings.async_database_url == "postgresql+asyncpg://u:p@db:5432/x"
    assert settings.auth_rate == (5, 1)
    assert settings.gateway_id == "gw-1"
    assert GatewaySettings().gateway_port == 3000


def test_rate_parsing() -> None:
    assert parse_rate("10/minute") == (10, 60)
    assert parse_rate("100 / hours") == (100, 3600)
    assert parse_rate("off") is None
    for bad in ("10", "ten/minute", "0/minute", "5/fortnight"):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_trusted_proxies_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert trusted_proxies("10.244.0.0/16, 127.0.0.1,,::1") == ["10.244.0.0/16", "127.0.0.1", "::1"]
    assert trusted_proxies("*") == ["*"]
    monkeypatch.setenv("JWT_SECRET", "x" * 32)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8,ingress-pod")
    with pytest.raises(ValidationError, match="'ingress-pod' is not an IP address"):
        GatewaySettings()


# ---- tokens

def test_token_round_trip_and_rejections() -> None:
    user_id = uuid.uuid4()
    token = issue_token(user_id, SECRET, 60)
    assert user_id_from_token(token, SECRET) == user_id
    now = int(time.time())
    bad_tokens = {
        "TOKEN_EXPIRED": jwt.encode({"sub": str(user_id), "exp": now - 1}, SECRET, algorithm="HS256"),
        "INVALID_TOKEN": jwt.encode({"sub": str(user_id), "exp": now + 60}, None, algorithm="none"),  # type: ignore[arg-type]
        "HS512": jwt.encode({"sub": str(user_id), "exp": now + 60}, SECRET * 2, algorithm="HS512"),
    }
    bad_tokens["wrong secret"] = issue_token(user_id, "other-" + SECRET, 60)
    bad_tokens["not a uuid"] = jwt.encode({"sub": "admin", "exp": now + 60}, SECRET, algorithm="HS256")
    for name, bad in bad_tokens.items():
        with pytest.raises(ApiError) as caught:
            user_id_from_token(bad, SECRET)
        assert caught.value.status == 401, name
        assert caught.value.code == ("TOKEN_EXPIRED" if name == "TOKEN_EXPIRED" else "INVALID_TOKEN")


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    for bad, code in ((None, "MISSING_TOKEN"), ("", "MISSING_TOKEN"), ("Basic abc", "INVALID_TOKEN"),
                      ("Bearer", "INVALID_TOKEN")):
        with pytest.raises(ApiError) as caught:
            bearer_token(bad)
        assert (caught.value.status, caught.value.code) == (401, code)


# ---- the status table

def test_every_reject_reason_has_a_status() -> None:
    assert set(REJECTION_STATUS) == set(commands_pb2.RejectReason.values())
    expected = {"POSITION_NOT_FOUND": 404, "IDEMPOTENCY_KEY_REUSED": 409, "PRICE_STALE": 503,
                "PRICE_UNAVAILABLE": 503, "INSUFFICIENT_BALANCE": 422, "UNKNOWN_ASSET": 422,
                # the engine's own defect is a 5xx, never blamed on the client's input
                "ENGINE_FAULT": 502, "INVALID_COMMAND": 422}
    for code, status in expected.items():
        error = rejection_error(commands_pb2.Rejection(reason=commands_pb2.RejectReason.Value(f"REJECT_REASON_{code}"),
                                                       message="why"))
        assert (error.status, error.code, error.message) == (status, code, "why")
    assert GRPC_STATUS[grpc.StatusCode.UNAVAILABLE] == 503
    assert GRPC_STATUS[grpc.StatusCode.DEADLINE_EXCEEDED] == 504
    assert GRPC_STATUS[grpc.StatusCode.NOT_FOUND] == 404


# ---- REST -> protobuf

def test_order_conversion_is_exact() -> None:
    user_id = uuid.uuid4()
    command = open_position_command(order(stopLoss=Decimal("100000.5"), takeProfit="150000",
                                          tradeOpeningPrice=Decimal("119416.8450"), slippage="1.25"),
                                    SPECS, user_id, "key-1")
    body = command.open_position
    assert (body.asset, body.side, body.quantity, body.leverage) == ("BTC_USDC", trading_pb2.SIDE_LONG, 1_000_000, 10)
    assert body.price_decimal == 4  # the scale its prices were converted with, checked by the engine
    assert (body.stop_loss, body.take_profit, body.trade_opening_price) == (1_000_005_000, 1_500_000_000,
                                                                              1_194_168_450)
    assert body.slippage_bps == 125
    assert (command.user_id, command.idempotency_key) == (str(user_id), "key-1")
    assert uuid.UUID(command.request_id)
    default = open_position_command(order(), SPECS, user_id, "").open_position
    assert (default.slippage_bps, default.stop_loss, default.take_profit, default.trade_opening_price) == (100, 0, 0, 0)


@pytest.mark.parametrize(("fields", "code"), [
    ({"quantity": Decimal("0.000000001")}, "VALIDATION_ERROR"),
    ({"stopLoss": Decimal("1.00001")}, "VALIDATION_ERROR"),
    ({"slippage": Decimal("0.001")}, "VALIDATION_ERROR"),
    ({"leverage": 2**40}, "VALIDATION_ERROR"),
    ({"asset": "__proto__"}, "UNKNOWN_ASSET"),
])
def test_order_conversion_refusals(fields: dict[str, object], code: str) -> None:
    with pytest.raises(ApiError) as caught:
        open_position_command(order(**fields), SPECS, uuid.uuid4(), "")
    assert (caught.value.status, caught.value.code) == (422, code)
    if code == "VALIDATION_ERROR":
        # the conversion's refusals carry `details` like pydantic's, naming the field
        details = caught.value.body()["error"]["details"]  # type: ignore[index]
        assert [detail["field"] for detail in details] == list(fields)


def test_request_models_refuse_booleans_and_normalise_email() -> None:
    for bad in ({"quantity": True}, {"leverage": True}, {"leverage": "5"}, {"quantity": "nan"},
                {"quantity": "Infinity"}, {"slippage": 100.5}, {"side": "long"}, {"leverage": Decimal("1e9999999")},
                {"leverage": 10**5000}, {"quantity": Decimal("1e999999")}, {"stopLoss": "1e500000"}):
        with pytest.raises(ValidationError):
            order(**bad)
    assert SignupRequest(email="  Mixed.Case@Example.COM ", password="12345678").email == "mixed.case@example.com"


def test_output_formatting() -> None:
    # the dollar and quantity texts themselves are mesh.units' (tests/unit/test_units.py)
    trade = closed_trade_out(trading_pb2.ClosedTrade(id="t", side=trading_pb2.SIDE_SHORT, quantity=123_000,
                                                     reason=trading_pb2.CLOSE_REASON_LIQUIDATION, closed_at_ms=1000))
    assert (trade.side, trade.quantity, trade.reason, trade.stopLoss) == ("SHORT", "0.00123", "LIQUIDATION", None)


@pytest.mark.parametrize("side", [trading_pb2.SIDE_UNSPECIFIED, 7])
def test_an_unknown_side_is_an_engine_error_not_long(side: int) -> None:
    for convert in (lambda: closed_trade_out(trading_pb2.ClosedTrade(id="t", side=side, closed_at_ms=1)),
                    lambda: trade_out(trading_pb2.Position(id="p", side=side, opened_at_ms=1), None, None)):
        with pytest.raises(ApiError) as caught:
            convert()
        assert (caught.value.status, caught.value.code) == (502, "ENGINE_ERROR")


# ---- limits

def test_rate_limiter_window() -> None:
    limiter = RateLimiter(limit=3, window=60)
    for _ in range(3):
        limiter.hit("1.2.3.4", now=600.0)
    with pytest.raises(ApiError) as caught:
        limiter.hit("1.2.3.4", now=601.0)
    assert caught.value.status == 429 and int(caught.value.headers["Retry-After"]) >= 1  # type: ignore[index]
    limiter.hit("5.6.7.8", now=601.0)  # per client
    # the previous window weighs in early in the next one, less later, and not at all after it
    with pytest.raises(ApiError):
        limiter.hit("1.2.3.4", now=665.0)
    limiter.hit("1.2.3.4", now=690.0)  # 3 * 0.5 + 1 + 1 = 2.5 hits in the sliding minute
    for _ in range(3):
        limiter.hit("1.2.3.4", now=781.0)


async def _call(app: BodySizeLimitMiddleware, chunks: list[bytes],
                headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    incoming = [{"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
                for index, chunk in enumerate(chunks)]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app({"type": "http", "headers": headers, "method": "POST", "path": "/"}, receive, send)  # type: ignore[arg-type]
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])  # type: ignore[misc]


async def test_body_size_limit() -> None:
    async def echo(scope, receive, send):  # type: ignore[no-untyped-def]
        message = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": message["body"]})

    app = BodySizeLimitMiddleware(echo, max_bytes=10)
    assert await _call(app, [b"12345", b"67890"], []) == (200, b"1234567890")
    status, body = await _call(app, [b"123456", b"78901"], [])
    assert status == 413 and json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert (await _call(app, [b"1"], [(b"content-length", b"11")]))[0] == 413


# ---- price fan-out

async def test_slow_subscriber_is_conflated_and_never_blocks_others() -> None:
    hub = PriceHub(redis=None, channel="unused")  # type: ignore[arg-type]
    fast_messages: list[dict[str, object]] = []
    slow_messages: list[dict[str, object]] = []
    release = asyncio.Event()
    caught_up = asyncio.Event()

    async def fast_send(text: str) -> None:
        fast_messages.append(json.loads(text))

    async def slow_send(text: str) -> None:
        slow_messages.append(json.loads(text))
        if len(slow_messages) == 2:
            caught_up.set()
        await release.wait()  # a client whose socket does not drain

    fast, slow = hub.add(fast_send), hub.add(slow_send)
    tasks = [asyncio.create_task(fast.run()), asyncio.create_task(slow.run())]
    for price in range(1, 101):
        hub.publish_local(encode_price_update(price_update([Quote("BTC_USDC", price + 1, price)])))
        if price == 50:
            hub.publish_local(encode_price_update(price_update([Quote("ETH_USDC", 7, 6)])))
        await asyncio.sleep(0)  # let the senders run, as the event loop would between pub/sub messages
    assert fast_messages[-1]["prices"]["BTC_USDC"]["sellPrice"] == 100  # type: ignore[index]
    assert len(slow_messages) == 1  # stuck in its first send
    release.set()
    await caught_up.wait()
    # one merged message with the newest quote of every symbol, not 100 stale ones
    assert len(slow_messages) == 2
    assert slow_messages[1]["prices"] == {"BTC_USDC": {"buyPrice": 101, "sellPrice": 100, "decimal": 4,
                                                       "ts": slow_messages[1]["prices"]["BTC_USDC"]["ts"]},  # type: ignore[index]
                                          "ETH_USDC": {"buyPrice": 7, "sellPrice": 6, "decimal": 4,
                                                       "ts": slow_messages[1]["prices"]["ETH_USDC"]["ts"]}}  # type: ignore[index]
    hub.publish_local(b"\xff garbage")  # dropped, nothing raised
    hub.remove(fast)
    hub.remove(slow)
    await asyncio.gather(*tasks)


async def test_database_failures_are_503() -> None:
    from fastapi import FastAPI
    from httpx import ASGITransport, AsyncClient
    from sqlalchemy.exc import OperationalError

    from gateway.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/refused")
    async def refused() -> None:
        raise ConnectionRefusedError(111, "Connect call failed")

    @app.get("/lost")
    async def lost() -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    @app.get("/bug")
    async def bug() -> None:
        raise KeyError("oops")

    async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t") as client:
        for path in ("/refused", "/lost"):
            response = await client.get(path)
            assert response.status_code == 503
            assert response.json() == {"error": {"code": "DATABASE_UNAVAILABLE",
                                                 "message": "the user database is unavailable"}}
        response = await client.get("/bug")
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "INTERNAL_ERROR"


# ---- what must not leak

def test_database_errors_never_show_the_statement_parameters() -> None:
    # an IntegrityError on INSERT would otherwise print the e-mail and password hash it was given
    from gateway.db import make_engine

    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert engine.sync_engine.hide_parameters is True


async def test_readiness_shows_status_words_only(caplog: pytest.LogCaptureFixture) -> None:
    from types import SimpleNamespace

    from gateway.routes.health import readyz

    secret = "redis://:Hunter2pw@cache:6379 refused; user=app password=Hunter2pw"

    class Down:
        async def ping(self) -> None:
            raise ConnectionError(secret)

        def connect(self) -> None:
            raise OSError(secret)

    context = SimpleNamespace(redis=Down(), db_engine=Down(), engine=SimpleNamespace(ready=False))
    with caplog.at_level("WARNING", logger="gateway.routes.health"):
        response = await readyz(context)  # type: ignore[arg-type]
    assert response.status_code == 503
    assert json.loads(bytes(response.body)) == {
        "status": "unavailable", "checks": {"engine": "failed", "redis": "failed", "postgres": "failed"}}
    # why is for the operator, in the log (whose formatter redacts it)
    assert {record.__dict__["check"] for record in caplog.records} == {"redis", "postgres"}
