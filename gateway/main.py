"""Builds the FastAPI app: routers, middleware (CORS, body size limit, metrics), error handlers, the
OpenAPI description, and the lifespan that connects PostgreSQL (migrating to head), Redis, the engine
(reply stream) and the price subscription, and closes them again on shutdown (or uses a context the
caller prepared)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from gateway import db, web
from gateway.account_events import EventFeed
from gateway.candles_client import CandleReader
from gateway.config import GatewaySettings
from gateway.context import GatewayContext
from gateway.engine_client import EngineClient
from gateway.errors import UnexpectedErrorMiddleware, install_error_handlers
from gateway.headers import SecurityHeadersMiddleware
from gateway.limits import BodySizeLimitMiddleware, RedisRateLimiter
from gateway.metrics import MetricsMiddleware
from gateway.openapi_links import add_links
from gateway.prices import PriceHub
from gateway.routes import account, auth, balance, candles, compat, health, orders, prices, trade
from gateway.stream_writer import command_redis

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
ERROR_SCHEMA_REF = {"$ref": "#/components/schemas/ErrorResponse"}

DESCRIPTION = """
Leveraged crypto CFD trading (BTC_USDC, ETH_USDC, SOL_USDC against USD).

* Money (balance, margin, pnl, equity) is **integer cents**.
* Prices in responses are **integers scaled by 10^decimal**, with `decimal` beside them.
* Requests take `stopLoss`, `takeProfit`, `tradeOpeningPrice` in **dollars** and `quantity` in base-asset
  units, as JSON numbers or strings, parsed exactly (more decimals than the scale allows is an error).
* Errors are `{"error": {"code": "...", "message": "..."}}` with the HTTP status.
* Live prices: WebSocket `/ws/prices` (also `/api/v1/ws/prices`), one JSON message per publish:
  `{"type": "PRICE_UPDATE", "prices": {"BTC_USDC": {"buyPrice", "sellPrice", "decimal", "ts"}}}`;
  a client that sends `{"type": "subscribe", "candles": [{"asset": "BTC_USDC", "interval": "1m"}]}` also
  gets `{"type": "CANDLE", ...}` whenever that live candle moves (`GET /api/v1/candles` for history).
* The routes tagged *compatibility* serve the original exness-v3 web client in its own shapes (dollar
  numbers, string errors); its price socket is `/ws/compat/prices`.
* Account events: WebSocket `/api/v1/ws/account` (also `/ws/account`); the first message authenticates,
  `{"type": "auth", "token": "<JWT>", "since": <seq, optional>}`; then every event of the account in
  order, `{"type", "seq", "ts", ...}`, resumable with `since`. The statement: `GET /api/v1/account/statement`.
"""


@asynccontextmanager
async def running_context(settings: GatewaySettings) -> AsyncIterator[GatewayContext]:
    """Everything a running gateway holds, connected (PostgreSQL migrated to head, Redis, the engine's
    reply stream, the price subscription); all of it closed again on exit."""
    await db.upgrade_to_head(settings.async_database_url)
    db_engine = db.make_engine(settings.async_database_url)
    # commands and probes time out instead of hanging a request; the pub/sub listener has its own
    # client, because a socket timeout there would fire whenever prices pause
    redis = command_redis(settings.redis_url)
    pubsub_redis = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=2)
    engine = EngineClient(
        settings.engine_addr,
        settings.gateway_id,
        redis,
        settings.stream_key,
        settings.reply_timeout_seconds,
        max_in_flight=settings.gateway_max_in_flight,
        max_loop_lag=settings.gateway_max_loop_lag_ms / 1000,
        in_flight_key=settings.in_flight_key,
    )
    hub = PriceHub(pubsub_redis, settings.price_channel, settings.candle_channel)
    events = EventFeed(engine, settings.gateway_id)
    rate, email_rate = settings.auth_rate, settings.signin_email_rate
    context = GatewayContext(
        settings=settings,
        asset_specs=settings.asset_specs,
        db_engine=db_engine,
        sessions=db.make_sessionmaker(db_engine),
        redis=redis,
        engine=engine,
        prices=hub,
        events=events,
        auth_limiter=RedisRateLimiter(redis, settings.auth_rate_key_prefix, *rate) if rate else None,
        candles=CandleReader(settings.candles_addr),
        signin_email_limiter=(
            RedisRateLimiter(redis, settings.signin_email_rate_key_prefix, *email_rate) if email_rate else None
        ),
    )
    engine.start()
    hub.start()
    events.start()
    try:
        yield context
    finally:
        await events.close()
        await hub.close()
        await context.candles.close()
        await engine.close()
        await redis.aclose()
        await pubsub_redis.aclose()
        await db_engine.dispose()


def _lifespan(
    settings: GatewaySettings, prepared: GatewayContext | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if prepared is not None:
            # the caller built the context and closes it
            yield
            return
        async with running_context(settings) as context:
            app.state.context = context
            log.info("gateway started", extra={"gateway_id": settings.gateway_id, "engine_addr": settings.engine_addr})
            try:
                yield
            finally:
                log.info("gateway stopping")

    return lifespan


def _error_schemas_openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, with FastAPI's default 422 body replaced by ours (what is really sent), and the
    links between operations (gateway.openapi_links)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            unprocessable = operation.get("responses", {}).get("422")
            # only FastAPI's own default; a route that declares its 422 body (the compatibility layer) keeps it
            if unprocessable and "HTTPValidationError" in json.dumps(unprocessable):
                unprocessable["content"] = {"application/json": {"schema": ERROR_SCHEMA_REF}}
                unprocessable["description"] = "Validation error or business rejection"
    components = schema.get("components", {}).get("schemas", {})
    for default in ("HTTPValidationError", "ValidationError"):
        components.pop(default, None)
    add_links(schema)
    app.openapi_schema = schema
    return schema


def create_app(settings: GatewaySettings, context: GatewayContext | None = None) -> FastAPI:
    """The app. Without `context` its lifespan connects one (`running_context`); with a prepared one
    (e.g. a test's, against a real engine) the routes use it as is, lifespan or not."""
    app = FastAPI(
        title="Exness V3 gateway",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=_lifespan(settings, context),
        docs_url=None,
        redoc_url=None,
    )  # /docs: gateway.web
    if context is not None:
        app.state.context = context
    for router in (
        auth.router,
        trade.router,
        orders.router,
        balance.router,
        prices.router,
        candles.router,
        account.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(prices.ws_router)
    app.include_router(prices.ws_router, prefix=API_PREFIX)
    app.include_router(account.ws_router)
    app.include_router(account.ws_router, prefix=API_PREFIX)
    # the original exness-v3 web client's routes and price socket (gateway.routes.compat)
    app.include_router(compat.router, prefix=API_PREFIX)
    app.include_router(compat.ws_router)
    app.include_router(health.router)
    web.install(app)  # the web terminal at / (after the API: it shadows nothing)
    install_error_handlers(app)
    # outermost last: metrics see every response, including 413s and CORS preflights; CORS headers go on
    # every answer, errors and 500s included
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.openapi = lambda: _error_schemas_openapi(app)  # type: ignore[method-assign]
    return app
