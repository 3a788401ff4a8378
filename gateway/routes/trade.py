"""Trading: POST /trade/create, POST /trade/close and PATCH /trade/{positionId} (commands through the
stream, reply on StreamReplies), GET /trade/open and /trade/closed (gRPC reads)."""

from __future__ import annotations

from typing import Annotated

from exness.engine.v1 import engine_service_pb2
from fastapi import APIRouter, Path, Query

from gateway.deps import ContextDep, CurrentUserId, IdempotencyKey
from gateway.routes import ExactJsonRoute, error_responses
from gateway.schemas import (
    AmendTradeRequest,
    AmendTradeResponse,
    ClosedOrdersResponse,
    CloseOrderRequest,
    CloseOrderResponse,
    CreateOrderRequest,
    CreateOrderResponse,
    OpenOrdersResponse,
    TradeOut,
)
from gateway.translate import (
    amend_position_command,
    close_position_command,
    closed_trade_out,
    open_position_command,
    trade_out,
)

router = APIRouter(prefix="/trade", tags=["trade"], route_class=ExactJsonRoute)


def _view_out(view: engine_service_pb2.PositionView) -> TradeOut:
    priced = view.current_price > 0
    return trade_out(
        view.position, view.current_price if priced else None, view.unrealized_pnl_cents if priced else None
    )


@router.post(
    "/create",
    status_code=201,
    response_model=CreateOrderResponse,
    responses=error_responses(400, 401, 404, 409, 413, 422, 503, 504),
)
async def create_order(
    body: CreateOrderRequest, user_id: CurrentUserId, key: IdempotencyKey, context: ContextDep
) -> CreateOrderResponse:
    """Open a position at market. Numbers may be JSON numbers or strings; prices (stopLoss, takeProfit,
    tradeOpeningPrice) are in dollars and may not have more decimals than the asset's price scale."""
    command = open_position_command(body, context.asset_specs, user_id, key)
    # the reply carries the fill and the engine's mark at reply time: no second read needed
    opened = await context.engine.open_position(command)
    return CreateOrderResponse(trade=trade_out(opened.position, opened.current_price, opened.unrealized_pnl_cents))


@router.post(
    "/close",
    status_code=201,
    response_model=CloseOrderResponse,
    responses=error_responses(400, 401, 404, 409, 413, 422, 503, 504),
)
async def close_order(
    body: CloseOrderRequest, user_id: CurrentUserId, key: IdempotencyKey, context: ContextDep
) -> CloseOrderResponse:
    """Close one of your open positions at market, all of it or `quantity` of it (a partial close: the part
    closed is a trade of its own, the rest stays open as `remaining`). Unknown ids and other users'
    positions are 404."""
    closed = await context.engine.close_position(close_position_command(body.orderId, user_id, key, body.quantity))
    remaining = None
    if closed.HasField("remaining"):
        remaining = trade_out(closed.remaining, closed.remaining_current_price, closed.remaining_unrealized_pnl_cents)
    return CloseOrderResponse(trade=closed_trade_out(closed.trade), remaining=remaining)


@router.patch(
    "/{positionId}",
    response_model=AmendTradeResponse,
    responses=error_responses(400, 401, 404, 409, 413, 422, 503, 504),
)
async def amend_trade(
    position_id: Annotated[str, Path(alias="positionId", min_length=1, max_length=128)],
    body: AmendTradeRequest,
    user_id: CurrentUserId,
    key: IdempotencyKey,
    context: ContextDep,
) -> AmendTradeResponse:
    """Change the stop-loss and take-profit of one of your open positions (dollars; a key left out is kept,
    0 or null removes the level), checked as at open against the market now. Unknown ids and other users'
    positions are 404."""
    command = amend_position_command(position_id, body, context.asset_specs, user_id, key)
    amended = await context.engine.amend_position(command)
    return AmendTradeResponse(trade=trade_out(amended.position, amended.current_price, amended.unrealized_pnl_cents))


@router.get("/open", response_model=OpenOrdersResponse, responses=error_responses(401, 404, 422, 503, 504))
async def open_orders(
    user_id: CurrentUserId,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> OpenOrdersResponse:
    """Your open positions with the live closing-side price and unrealized PnL, oldest first, a page at
    a time (100 unless `limit` says otherwise)."""
    response = await context.engine.list_positions(str(user_id), limit, cursor or "")
    return OpenOrdersResponse(
        orders=[_view_out(view) for view in response.positions], nextCursor=response.next_page_token or None
    )


@router.get("/closed", response_model=ClosedOrdersResponse, responses=error_responses(401, 404, 422, 503, 504))
async def closed_orders(
    user_id: CurrentUserId,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ClosedOrdersResponse:
    """Your closed trades, newest first, a page at a time."""
    response = await context.engine.list_closed_trades(str(user_id), limit, cursor or "")
    if not response.trades and not cursor:
        # the history lives in PostgreSQL and knows no accounts: an empty first page may be a user without
        # an engine account, who gets the 404 of /balance and /trade/open (GetAccount raises it)
        await context.engine.get_account(str(user_id))
    return ClosedOrdersResponse(
        orders=[closed_trade_out(trade) for trade in response.trades], nextCursor=response.next_page_token or None
    )
