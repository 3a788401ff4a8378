"""The JSON shapes of the REST API (docs/contract.md §5), as pydantic models, so /openapi.json and /docs
describe exactly what is accepted and returned.

Units in responses: money (balance, margin, pnl) is integer cents; a price is an integer scaled by
10^decimal with its `decimal` beside it; a quantity is an exact decimal string. Requests take prices in
dollars and quantities as JSON numbers or strings, parsed exactly (never through a binary float)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from mesh.units import EXACT_DOUBLE_DIGITS, significant_digits, to_decimal

# no whitespace and no control character (PostgreSQL cannot even store a NUL)
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")


def _exact_decimal(value: object) -> Decimal:
    # the body was parsed with parse_float=Decimal, so a JSON number arrives here as Decimal or int
    return to_decimal(value)


def _integer_not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    # a JSON integer only: "5" is text, refused like a boolean (pydantic's lax mode would read it)
    if isinstance(value, str):
        raise ValueError("expected a JSON integer, got a string")
    # a JSON exponent number (parsed as Decimal) is bounded before pydantic turns it into an int
    if isinstance(value, Decimal) and (not value.is_finite() or (value and value.adjusted() > 18)):
        raise ValueError("expected an integer of at most 19 digits")
    if isinstance(value, int) and abs(value) >= 10**19:
        raise ValueError("expected an integer of at most 19 digits")
    return value


def _statable_level(value: Decimal) -> Decimal:
    if significant_digits(value) > EXACT_DOUBLE_DIGITS:
        raise ValueError(
            f"{value} has more than {EXACT_DOUBLE_DIGITS} significant digits: a price level has at most that many, "
            "so every API can state it back exactly"
        )
    return value


ExactNumber = Annotated[Decimal, BeforeValidator(_exact_decimal)]
# a stop-loss, take-profit or order price: exact, and within what every API can state back (mesh.units)
PriceLevel = Annotated[Decimal, BeforeValidator(_exact_decimal), AfterValidator(_statable_level)]
Integer = Annotated[int, BeforeValidator(_integer_not_bool)]


class _Request(BaseModel):
    # clients (like the seed's web app) send extra keys such as `name`; they are ignored
    model_config = ConfigDict(extra="ignore")


class SignupRequest(_Request):
    email: str = Field(max_length=254, examples=["trader@example.com"])
    password: str = Field(min_length=8, max_length=128, examples=["correct horse battery"])

    @field_validator("email")
    @classmethod
    def _normalise(cls, value: str) -> str:
        email = value.strip().lower()
        if not _EMAIL.match(email):
            raise ValueError("not an e-mail address")
        return email


class SigninRequest(_Request):
    email: str = Field(max_length=254, examples=["trader@example.com"])
    password: str = Field(min_length=1, max_length=128)

    @field_validator("email")
    @classmethod
    def _normalise(cls, value: str) -> str:
        # not the signup rule: an address stored under an older rule must still sign in; only what no
        # stored address can hold (a NUL, which PostgreSQL refuses) is refused here
        if "\x00" in value:
            raise ValueError("not an e-mail address")
        return value.strip().lower()


class CreateOrderRequest(_Request):
    asset: str = Field(max_length=32, examples=["BTC_USDC"])
    side: Literal["LONG", "SHORT"]
    quantity: ExactNumber = Field(
        gt=0,
        description="base-asset units, number or string, at most 8 decimals, a multiple of the asset's step",
        examples=["0.01"],
    )
    leverage: Integer = Field(ge=1, description="1 .. MAX_LEVERAGE (engine configuration)", examples=[10])
    slippage: ExactNumber = Field(
        default=Decimal(1), ge=0, le=100, description="percent, 0 .. 100, at most 2 decimals; 0 = exact fill"
    )
    stopLoss: PriceLevel | None = Field(default=None, ge=0, description="dollars; 0 or absent = off")
    takeProfit: PriceLevel | None = Field(default=None, ge=0, description="dollars; 0 or absent = off")
    tradeOpeningPrice: ExactNumber | None = Field(
        default=None,
        ge=0,
        description="dollars: the price the client saw; with it the fill is checked "
        "against `slippage`; 0 or absent = no check",
    )


class CloseOrderRequest(_Request):
    orderId: str = Field(min_length=1, max_length=128)
    quantity: ExactNumber | None = Field(
        default=None,
        gt=0,
        description="base-asset units to close, a multiple of the asset's step below the "
        "position's quantity (a partial close); absent or equal = close all",
        examples=["0.004"],
    )

    @field_validator("orderId")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("orderId is empty")
        return value.strip()


class AmendTradeRequest(_Request):
    """New levels of an open position, in dollars. A key left out is unchanged; 0 or null removes the level."""

    stopLoss: PriceLevel | None = Field(default=None, ge=0, description="dollars; 0 or null = off; absent = keep")
    takeProfit: PriceLevel | None = Field(default=None, ge=0, description="dollars; 0 or null = off; absent = keep")


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    balance: int = Field(description="free balance in cents")
    lastLoggedIn: dt.datetime


class AuthResponse(BaseModel):
    user: UserOut
    token: str = Field(description="HS256 JWT; send as `Authorization: Bearer <token>`")


class TradeOut(BaseModel):
    id: str
    asset: str
    side: Literal["LONG", "SHORT"]
    quantity: str = Field(description="exact decimal")
    leverage: int
    entryPrice: int = Field(description="scaled by 10^decimal")
    currentPrice: int | None = Field(description="closing-side price now, scaled; null when no quote")
    margin: int = Field(description="cents")
    pnl: int | None = Field(description="unrealized PnL at currentPrice, cents; null when no quote")
    decimal: int
    liquidationPrice: int = Field(description="scaled by 10^decimal")
    stopLoss: int | None = Field(description="scaled; null = off")
    takeProfit: int | None = Field(description="scaled; null = off")
    openedAt: dt.datetime


class ClosedTradeOut(BaseModel):
    id: str
    asset: str
    side: Literal["LONG", "SHORT"]
    quantity: str
    leverage: int
    entryPrice: int
    closePrice: int
    margin: int = Field(description="cents")
    pnl: int = Field(description="realised PnL, cents (before the loss cap)")
    credited: int = Field(description="what the balance received: max(0, margin + pnl), cents")
    decimal: int
    reason: Literal["MANUAL", "STOP_LOSS", "TAKE_PROFIT", "LIQUIDATION", "UNSPECIFIED"]
    liquidationPrice: int
    stopLoss: int | None
    takeProfit: int | None
    openedAt: dt.datetime
    closedAt: dt.datetime


class CreateOrderResponse(BaseModel):
    message: Literal["Order placed"] = "Order placed"
    trade: TradeOut


class CloseOrderResponse(BaseModel):
    message: Literal["Order closed"] = "Order closed"
    trade: ClosedTradeOut = Field(
        description="what was closed: the whole position (id = its id) or, on a partial "
        "close, the part closed, a trade of its own (id `<position id>:<n>`)"
    )
    remaining: TradeOut | None = Field(
        default=None,
        description="after a partial close, the position left open (marked at the close price); null otherwise",
    )


class AmendTradeResponse(BaseModel):
    trade: TradeOut


class OpenOrdersResponse(BaseModel):
    orders: list[TradeOut] = Field(description="oldest first")
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null at the end")


class ClosedOrdersResponse(BaseModel):
    orders: list[ClosedTradeOut] = Field(description="newest first")
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null at the end")


class BalanceResponse(BaseModel):
    balance: int = Field(description="free balance, cents")
    balanceUSD: str = Field(examples=["$9,858.65"])
    availableMargin: int = Field(description="what new positions can lock: the free balance, cents")
    usedMargin: int = Field(description="margin locked in open positions, cents")
    reservedMargin: int = Field(description="margin reserved by pending orders (not in `balance`), cents")
    equity: int = Field(
        description="balance + reserved margin + used margin + unrealized PnL (losses capped at margin), cents"
    )
    activePositions: int
    pendingOrders: int = Field(description="pending LIMIT and STOP orders")


class QuoteOut(BaseModel):
    buyPrice: int = Field(description="what a LONG pays to open, scaled by 10^decimal")
    sellPrice: int = Field(description="what a LONG receives to close, scaled by 10^decimal")
    decimal: int
    ts: int = Field(description="quote time, ms since the epoch")


class PricesResponse(BaseModel):
    prices: dict[str, QuoteOut]


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(examples=["INSUFFICIENT_BALANCE"])
    message: str
    requestId: str | None = Field(default=None, description="on 504: the request id of the command")
    details: list[ErrorDetail] | None = Field(default=None, description="on 422: one entry per bad field")


class ErrorResponse(BaseModel):
    error: ErrorBody


class CompatErrorResponse(BaseModel):
    """An error of the compatibility layer: the original client reads `error` and `message` as text."""

    error: str
    message: str
    code: str = Field(examples=["INSUFFICIENT_BALANCE"])
    requestId: str | None = Field(default=None, description="on 504: the request id of the command")
    details: list[ErrorDetail] | None = Field(default=None, description="on 422: one entry per bad field")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "failed"]] = Field(
        default_factory=dict, description="a status word per dependency; why one failed is logged, never shown"
    )


class CandleOut(BaseModel):
    time: int = Field(description="bucket start, ms since the epoch (UTC)")
    open: int = Field(description="first bid of the bucket, scaled by 10^decimal")
    high: int
    low: int
    close: int = Field(description="last bid so far (the live bucket still moves)")
    ticks: int = Field(description="the platform's quotes in the bucket; 0 = filled from the venue's history")


class CandlesResponse(BaseModel):
    asset: str
    interval: str
    decimal: int
    candles: list[CandleOut] = Field(description="oldest first")


class StatementLineOut(BaseModel):
    seq: int = Field(description="the account event's sequence number")
    time: dt.datetime
    type: str = Field(
        description="DEPOSIT, MARGIN_LOCKED, POSITION_CLOSED, PARTIAL_CLOSE, ORDER_RESERVED or ORDER_RELEASED"
    )
    amount: int = Field(description="signed change of the free balance, cents")
    balanceAfter: int = Field(description="free balance after it, cents")
    positionId: str | None = None
    orderId: str | None = None


class StatementResponse(BaseModel):
    entries: list[StatementLineOut] = Field(
        description="newest first; the amounts of all lines (the first line is the DEPOSIT of the starting "
        "balance) sum to the balance"
    )
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null at the end")
