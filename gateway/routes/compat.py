"""The compatibility layer: the routes and the price socket the original exness-v3 web client calls, so
that client runs against this gateway without a line changed (docs/contract.md, "Compatibility layer").

It is a second face of the same API, never a second source of truth: every answer is computed from the
engine's state through the same engine client and the same commands as the main routes (signup and
signin are the main routes' own functions), and only the shapes differ. Money and prices are dollar
numbers (gateway.compat_shapes says exactly how integers become them); errors are
`{"error": "<sentence>", "message": "<sentence>", "code": "..."}` with the main API's status, because the
original client shows `error` on its auth pages and `message` on its trade ticket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway import compat_shapes as shapes
from gateway.deps import ContextDep, CurrentUserId, IdempotencyKey, SessionDep, auth_rate_limit
from gateway.errors import ApiError, http_error, request_error
from gateway.routes import ExactJsonRoute, auth, error_responses
from gateway.schemas import (
    AuthResponse,
    CloseOrderRequest,
    CompatErrorResponse,
    CreateOrderRequest,
    SigninRequest,
    SignupRequest,
)
from gateway.translate import close_position_command, open_position_command
from mesh.candle_intervals import INTERVAL_BY_NAME

# the engine's largest page; the original client asks for everything at once
PAGE_SIZE = 500
# the newest closed trades /trade/get-close-orders lists (the original has no paging)
CLOSED_TRADES_LISTED = 500
# the candles /trade/candlesticks answers with, the newest first (the original has no paging)
CANDLESTICKS_LISTED = 500
# where the original client's price socket connects (its VITE_WS_URL)
PRICE_SOCKET_PATH = "/ws/compat/prices"


class CompatRoute(ExactJsonRoute):
    """An exact-JSON route whose errors take the original client's shape (see the module text)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def compat_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _error_response(request, request_error(exc))
            except ApiError as exc:
                return _error_response(request, exc)
            except StarletteHTTPException as exc:  # e.g. a body that is not text (FastAPI's own 400)
                return _error_response(request, http_error(exc))

        return compat_handler


def _error_response(request: Request, error: ApiError) -> JSONResponse:
    headers = {**getattr(request.state, "rate_limit_headers", {}), **(error.headers or {})}
    return JSONResponse(shapes.error_body(error), status_code=error.status, headers=headers or None)


_COMPAT_ERRORS = error_responses(400, 401, 404, 409, 413, 422, 429, 502, 503, 504, model=CompatErrorResponse)
router = APIRouter(tags=["compatibility (original web client)"], route_class=CompatRoute, responses=_COMPAT_ERRORS)
ws_router = APIRouter()


def _signed_in(response: AuthResponse, message: str) -> dict[str, object]:
    user = response.user
    return {
        "message": message,
        "token": response.token,
        "user": {"id": str(user.id), "email": user.email, "balance": shapes.dollars(user.balance)},
    }


@router.post("/auth/signup", status_code=201, dependencies=[Depends(auth_rate_limit)])
async def signup(body: SignupRequest, context: ContextDep, session: SessionDep) -> dict[str, object]:
    """`/signup` of the main API (`name` is accepted and ignored); the balance in dollars."""
    return _signed_in(await auth.signup(body, context, session), "User created")


@router.post("/auth/signin", dependencies=[Depends(auth_rate_limit)])
async def signin(body: SigninRequest, request: Request, context: ContextDep, session: SessionDep) -> dict[str, object]:
    """`/signin` of the main API (its per-e-mail limit included); the balance in dollars."""
    return _signed_in(await auth.signin(body, request, context, session), "Signed in")


@router.get("/balance/me")
async def balance(user_id: CurrentUserId, context: ContextDep) -> dict[str, object]:
    """`balance`: the free balance in dollars (what the original client shows); the other figures of
    GET /balance beside it, in dollars too."""
    account = await context.engine.get_account(str(user_id))
    return {
        "balance": shapes.dollars(account.account.balance_cents),
        "usedMargin": shapes.dollars(account.used_margin_cents),
        "reservedMargin": shapes.dollars(account.reserved_margin_cents),
        "equity": shapes.dollars(account.equity_cents),
        "activePositions": account.open_positions,
        "pendingOrders": account.pending_orders,
    }


@router.post("/trade/create-order", status_code=201)
async def create_order(
    body: CreateOrderRequest, user_id: CurrentUserId, key: IdempotencyKey, context: ContextDep
) -> dict[str, object]:
    """POST /trade/create with the answer in the original's shape: `orderId` and the open row."""
    command = open_position_command(body, context.asset_specs, user_id, key)
    # what the answer states back must be statable, or the engine would act on an order answered with a 502
    # (the levels are bounded by the request model itself: gateway.schemas.PriceLevel)
    shapes.statable({"quantity": body.quantity})
    opened = await context.engine.open_position(command)
    row = shapes.open_row(opened.position, opened.current_price, opened.unrealized_pnl_cents)
    return {"message": "Order placed", "orderId": opened.position.id, "trade": row}


@router.post("/trade/close-order", status_code=201)
async def close_order(
    body: CloseOrderRequest, user_id: CurrentUserId, key: IdempotencyKey, context: ContextDep
) -> dict[str, object]:
    """POST /trade/close (all of it, or `quantity` of it) with the closed trade in the original's shape."""
    command = close_position_command(body.orderId, user_id, key, body.quantity)
    shapes.statable({"quantity": body.quantity})
    closed = await context.engine.close_position(command)
    return {"message": "Order closed", "trade": shapes.closed_row(closed.trade)}


@router.get("/trade/get-open-orders")
async def open_orders(user_id: CurrentUserId, context: ContextDep) -> dict[str, object]:
    """Every open position, oldest first, with the server's live price and unrealized PnL."""
    rows: list[shapes.JsonRow] = []
    token = ""
    while True:
        page = await context.engine.list_positions(str(user_id), PAGE_SIZE, token)
        rows.extend(shapes.open_row(v.position, v.current_price, v.unrealized_pnl_cents) for v in page.positions)
        token = page.next_page_token
        if not token:
            return {"orders": rows}


@router.get("/trade/get-close-orders")
async def closed_orders(user_id: CurrentUserId, context: ContextDep) -> dict[str, object]:
    """The newest 500 closed trades, newest first (GET /trade/closed pages through all of them)."""
    page = await context.engine.list_closed_trades(str(user_id), CLOSED_TRADES_LISTED, "")
    if not page.trades:
        # as /trade/closed: a user without an engine account gets the 404 of /balance
        await context.engine.get_account(str(user_id))
    return {"orders": [shapes.closed_row(trade) for trade in page.trades]}


@router.get("/trade/candlesticks")
async def candlesticks(
    context: ContextDep,
    symbol: Annotated[str, Query(min_length=1, max_length=32, examples=["BTCUSDT"])],
    timeframe: Annotated[str, Query(min_length=1, max_length=8, examples=["1m"])] = "1m",
) -> dict[str, object]:
    """The newest 500 bid candles of GET /candles, oldest first, in the original's shape: `time` in seconds,
    prices in dollars. `symbol` is the original's name (BTCUSDT) or ours (BTC_USDC); `timeframe` one of
    the intervals the platform keeps (the original's 30m, 6h and 3d are not among them: 422)."""
    asset = shapes.asset_for_symbol(symbol, context.asset_specs)
    if asset is None:
        raise ApiError(
            404, "UNKNOWN_ASSET", f"no traded asset is called {symbol!r}; traded: {', '.join(context.asset_specs)}"
        )
    if timeframe not in INTERVAL_BY_NAME:
        raise ApiError(
            422, "VALIDATION_ERROR", f"timeframe {timeframe!r} is not kept; choose one of {', '.join(INTERVAL_BY_NAME)}"
        )
    series = await context.candles.read(asset, timeframe, CANDLESTICKS_LISTED)
    return {"candlesticks": [shapes.candlestick(bar, series.decimal) for bar in series.candles]}


async def _until_disconnect(websocket: WebSocket) -> None:
    # the original client sends nothing that matters; reading is how a disconnect is noticed
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def price_socket(websocket: WebSocket, context: ContextDep) -> None:
    """The original client's price feed: the same publishes as /ws/prices (the same hub and mailbox, so
    a slow client gets the newest prices only), each as {"type": "PRICE_UPDATE", "data": "<JSON text of
    {SYMBOL: {buyPrice, sellPrice, decimal}}>"}; anything else the hub sends is not for this client."""
    await websocket.accept()

    async def send(text: str) -> None:
        frame = shapes.original_price_frame(text)
        if frame is not None:
            await websocket.send_text(frame)

    hub = context.prices
    subscriber = hub.add(send)
    reader = asyncio.create_task(_until_disconnect(websocket))
    reader.add_done_callback(lambda _: subscriber.close())
    try:
        await subscriber.run()
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        hub.remove(subscriber)
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
        with contextlib.suppress(Exception):
            await websocket.close(code=1001)


ws_router.add_api_websocket_route(PRICE_SOCKET_PATH, price_socket)
