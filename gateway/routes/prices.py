"""GET /prices (the engine's latest quotes, GetPrices) and WS /ws/prices (live fan-out from pub/sub, with
live candles for the clients that subscribe to them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from gateway.deps import ContextDep
from gateway.live_candles import (
    MAX_SUBSCRIPTIONS,
    SubscriptionError,
    error_message,
    parse_subscription,
    subscribed_message,
)
from gateway.prices import PriceHub, PriceSubscriber
from gateway.routes import ExactJsonRoute, error_responses
from gateway.schemas import PricesResponse
from gateway.translate import quote_out

log = logging.getLogger(__name__)

router = APIRouter(tags=["prices"], route_class=ExactJsonRoute)
ws_router = APIRouter()


@router.get("/prices", response_model=PricesResponse, responses=error_responses(503, 504))
async def prices(context: ContextDep) -> PricesResponse:
    """The latest quote of every asset as the engine holds it (prices scaled by 10^decimal)."""
    response = await context.engine.get_prices()
    return PricesResponse(
        prices={view.quote.asset: quote_out(view.quote, view.received_at_ms) for view in response.prices}
    )


async def _read_until_disconnect(
    websocket: WebSocket, hub: PriceHub, subscriber: PriceSubscriber, assets: set[str]
) -> None:
    # reading is also how a disconnect is noticed while no prices flow
    while True:
        frame = await websocket.receive()
        if frame["type"] == "websocket.disconnect":
            return
        try:
            subscribe, keys = parse_subscription(frame.get("text") or "", assets)
        except SubscriptionError as exc:
            subscriber.reply(error_message(str(exc)))
            continue
        if subscribe:
            if len(subscriber.candle_keys | keys) > MAX_SUBSCRIPTIONS:
                subscriber.reply(error_message(f"at most {MAX_SUBSCRIPTIONS} candle subscriptions"))
                continue
            hub.subscribe_candles(subscriber, keys)
        else:
            subscriber.candle_keys -= keys
        subscriber.reply(subscribed_message(subscriber.candle_keys))


async def price_socket(websocket: WebSocket, context: ContextDep) -> None:
    """One JSON message per price publish: {"type": "PRICE_UPDATE", "prices": {SYM: {...}}}; a slow
    client gets the newest prices only. A client may subscribe to live candles (gateway.live_candles)."""
    hub = context.prices
    await websocket.accept()
    subscriber = hub.add(websocket.send_text)
    reader = asyncio.create_task(_read_until_disconnect(websocket, hub, subscriber, set(context.asset_specs)))
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
            # 1008 (policy violation): the client sent messages faster than it read the answers
            await websocket.close(code=1008 if subscriber.flooded else 1001)


ws_router.add_api_websocket_route("/ws/prices", price_socket)
