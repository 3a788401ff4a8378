"""The JSON shapes of the pending-order API (docs/contract.md, pending orders): requests take prices in
dollars (as /trade/create does) and an optional ISO-8601 expiry; responses carry prices scaled by
10^decimal, money in cents and quantities as exact decimal strings, as everywhere else."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from gateway.schemas import ExactNumber, Integer, PriceLevel, _Request

OrderStatusName = Literal["PENDING", "FILLED", "CANCELLED", "EXPIRED", "REJECTED"]


class PlaceOrderRequest(_Request):
    asset: str = Field(max_length=32, examples=["BTC_USDC"])
    side: Literal["LONG", "SHORT"]
    type: Literal["LIMIT", "STOP"] = Field(
        description="LIMIT fills at `price` or better (LONG when buy <= price, SHORT when sell >= price); "
        "STOP fills once the market reaches `price`, at the market then (LONG when buy >= price, SHORT when "
        "sell <= price)"
    )
    price: PriceLevel = Field(gt=0, description="dollars, at most the asset's price decimals", examples=["60000"])
    quantity: ExactNumber = Field(
        gt=0,
        description="base-asset units, number or string, at most 8 decimals, a multiple of the asset's step",
        examples=["0.01"],
    )
    leverage: Integer = Field(ge=1, description="1 .. MAX_LEVERAGE (engine configuration)", examples=[10])
    stopLoss: PriceLevel | None = Field(
        default=None,
        ge=0,
        description="dollars; 0 or absent = off; checked against `price` now and the market at the fill",
    )
    takeProfit: PriceLevel | None = Field(default=None, ge=0, description="dollars; 0 or absent = off")
    expiresAt: dt.datetime | None = Field(
        default=None,
        description="ISO-8601 (UTC when no offset is given); absent = good till cancelled. The order expires "
        "on the engine's first entry at or after it",
        examples=["2026-12-31T23:59:59Z"],
    )


class OrderOut(BaseModel):
    id: str = Field(description="`ord-<stream entry id>`")
    asset: str
    side: Literal["LONG", "SHORT"]
    type: Literal["LIMIT", "STOP"]
    price: int = Field(description="scaled by 10^decimal")
    quantity: str = Field(description="exact decimal")
    leverage: int
    stopLoss: int | None = Field(description="scaled; null = off")
    takeProfit: int | None = Field(description="scaled; null = off")
    reservedMargin: int = Field(description="cents reserved at placement: ceil(price x quantity / leverage)")
    status: OrderStatusName
    createdAt: dt.datetime
    expiresAt: dt.datetime | None = Field(description="null = good till cancelled")
    decimal: int
    finishedAt: dt.datetime | None = Field(
        default=None, description="when it stopped being pending; null while pending"
    )
    positionId: str | None = Field(default=None, description="FILLED: the position it opened")
    fillPrice: int | None = Field(default=None, description="FILLED: the price it opened at, scaled")
    reason: str | None = Field(
        default=None, description="REJECTED: why the fill was refused, a code such as INSUFFICIENT_BALANCE"
    )
    reasonMessage: str | None = Field(default=None, description="REJECTED: the same, as a sentence")


class PlaceOrderResponse(BaseModel):
    message: Literal["Order accepted"] = "Order accepted"
    order: OrderOut


class PendingOrdersResponse(BaseModel):
    orders: list[OrderOut] = Field(description="every pending order, oldest first")


class OrderHistoryResponse(BaseModel):
    orders: list[OrderOut] = Field(description="filled, cancelled, expired and rejected orders, newest first")
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null at the end")


class CancelOrderResponse(BaseModel):
    order: OrderOut = Field(description="status CANCELLED; its reserve is back in the free balance")
