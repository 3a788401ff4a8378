"""GET /balance: the account's money figures from the engine (GetAccount)."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import ContextDep, CurrentUserId
from gateway.routes import ExactJsonRoute, error_responses
from gateway.schemas import BalanceResponse
from mesh.units import format_cents

router = APIRouter(tags=["account"], route_class=ExactJsonRoute)


@router.get("/balance", response_model=BalanceResponse, responses=error_responses(401, 404, 503, 504))
async def balance(user_id: CurrentUserId, context: ContextDep) -> BalanceResponse:
    """Free balance, margin in use and reserved by pending orders, equity, and the number of open positions
    and pending orders (all money in cents)."""
    response = await context.engine.get_account(str(user_id))
    free = response.account.balance_cents
    return BalanceResponse(
        balance=free,
        balanceUSD=format_cents(free),
        availableMargin=free,
        usedMargin=response.used_margin_cents,
        reservedMargin=response.reserved_margin_cents,
        equity=response.equity_cents,
        activePositions=response.open_positions,
        pendingOrders=response.pending_orders,
    )
