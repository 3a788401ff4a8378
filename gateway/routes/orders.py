"""Pending LIMIT and STOP orders: POST /orders and DELETE /orders/{id} (commands through the stream, reply
on StreamReplies), GET /orders and /orders/history (gRPC reads: engine memory and PostgreSQL)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from gateway.deps import ContextDep, CurrentUserId, IdempotencyKey
from gateway.errors import ApiError
from gateway.order_schemas import (
    CancelOrderResponse,
    OrderHistoryResponse,
    PendingOrdersResponse,
    PlaceOrderRequest,
    PlaceOrderResponse,
)
from gateway.order_translate import cancel_order_command, order_out, place_order_command, record_out
from gateway.routes import ExactJsonRoute, error_responses

router = APIRouter(prefix="/orders", tags=["orders"], route_class=ExactJsonRoute)


@router.post(
    "",
    status_code=201,
    response_model=PlaceOrderResponse,
    responses=error_responses(400, 401, 404, 409, 413, 422, 503, 504),
)
async def place_order(
    body: PlaceOrderRequest, user_id: CurrentUserId, key: IdempotencyKey, context: ContextDep
) -> PlaceOrderResponse:
    """Place a pending LIMIT or STOP order (prices in dollars). Its margin at its price is reserved from the
    free balance now; an order the market already meets is refused (422 ORDER_WRONG_SIDE)."""
    placed = await context.engine.place_order(place_order_command(body, context.asset_specs, user_id, key))
    return PlaceOrderResponse(order=order_out(placed.order))


@router.get("", response_model=PendingOrdersResponse, responses=error_responses(401, 404, 503, 504))
async def pending_orders(user_id: CurrentUserId, context: ContextDep) -> PendingOrdersResponse:
    """Your pending orders, oldest first (at most MAX_PENDING_ORDERS_PER_ACCOUNT of them)."""
    response = await context.engine.list_orders(str(user_id))
    return PendingOrdersResponse(orders=[order_out(order) for order in response.orders])


@router.get("/history", response_model=OrderHistoryResponse, responses=error_responses(401, 404, 422, 503, 504))
async def order_history(
    user_id: CurrentUserId,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> OrderHistoryResponse:
    """Your orders that are no longer pending (FILLED with the position id, CANCELLED, EXPIRED, REJECTED with
    the reason), newest first, a page at a time."""
    response = await context.engine.list_order_history(str(user_id), limit, cursor or "")
    if not response.orders and not cursor:
        # as /trade/closed: an empty first page may be a user without an engine account (404)
        await context.engine.get_account(str(user_id))
    return OrderHistoryResponse(
        orders=[record_out(record) for record in response.orders], nextCursor=response.next_page_token or None
    )


@router.delete(
    "/{orderId}", response_model=CancelOrderResponse, responses=error_responses(401, 404, 409, 413, 422, 503, 504)
)
async def cancel_order(
    order_id: Annotated[str, Path(alias="orderId", min_length=1, max_length=128)],
    user_id: CurrentUserId,
    key: IdempotencyKey,
    context: ContextDep,
) -> CancelOrderResponse:
    """Cancel one of your pending orders; its reserve returns to the free balance. Unknown ids and other
    users' orders are 404; an order that is no longer pending is 409 ORDER_NOT_PENDING."""
    try:
        cancelled = await context.engine.cancel_order(cancel_order_command(order_id, user_id, key))
    except ApiError as error:
        if error.code != "ORDER_NOT_FOUND":
            raise
        ended = await context.engine.list_order_history(str(user_id), 1, "", order_id=order_id)
        if not ended.orders:
            raise
        status = record_out(ended.orders[0]).status
        raise ApiError(409, "ORDER_NOT_PENDING", f"order {order_id!r} is no longer pending: it is {status}") from None
    return CancelOrderResponse(order=record_out(cancelled.order))
