"""Live candles on `/ws/prices`, for the clients that ask: the subscribe protocol and the CANDLE messages.

A client sends `{"type": "subscribe", "candles": [{"asset": "BTC_USDC", "interval": "1m"}, ...]}` (or
`"unsubscribe"` with the same shape) and is answered `{"type": "SUBSCRIBED", "candles": [...]}` with
everything it now holds; from then on, every commit of the candle builder that moves one of those
buckets is a message `{"type": "CANDLE", "asset", "interval", "decimal", "candle": {time, open, high, low,
close, ticks}}` (the live bucket as it stands, prices scaled by 10^decimal). A frame that is not such a
message is answered `{"type": "ERROR", "error": {"code": "INVALID_MESSAGE", "message"}}`; the socket
stays open. A client that sends nothing gets exactly the PRICE_UPDATE messages it always got."""

from __future__ import annotations

import json

from exness.market.v1 import candles_pb2
from google.protobuf.message import DecodeError

from mesh.candle_intervals import INTERVAL_BY_NAME, NAME_BY_INTERVAL

# a client holds at most this many (asset, interval) subscriptions
MAX_SUBSCRIPTIONS = 64
MAX_FRAME_CHARS = 8192

CandleKey = tuple[str, str]


class SubscriptionError(ValueError):
    """A client frame that is not a well-formed subscribe or unsubscribe message."""


def _dumps(message: object) -> str:
    return json.dumps(message, separators=(",", ":"))


def parse_subscription(text: str, assets: set[str]) -> tuple[bool, set[CandleKey]]:
    """(True for subscribe / False for unsubscribe, the pairs named); raises SubscriptionError."""
    if len(text) > MAX_FRAME_CHARS:
        raise SubscriptionError(f"message longer than {MAX_FRAME_CHARS} characters")
    try:
        message = json.loads(text)
    except ValueError:
        raise SubscriptionError("not JSON") from None
    if not isinstance(message, dict) or message.get("type") not in ("subscribe", "unsubscribe"):
        raise SubscriptionError('expected {"type": "subscribe" or "unsubscribe", "candles": [...]}')
    items = message.get("candles")
    if not isinstance(items, list) or not items or len(items) > MAX_SUBSCRIPTIONS:
        raise SubscriptionError(f"candles must be a list of 1..{MAX_SUBSCRIPTIONS} {{asset, interval}} objects")
    keys = set()
    for item in items:
        if (
            not isinstance(item, dict)
            # a list or an object there is unhashable: checked as text first, never a TypeError
            or not isinstance(item.get("asset"), str)
            or not isinstance(item.get("interval"), str)
            or item["asset"] not in assets
            or item["interval"] not in INTERVAL_BY_NAME
        ):
            raise SubscriptionError(
                f"each candle needs an asset of {sorted(assets)} and an interval of {list(INTERVAL_BY_NAME)}"
            )
        keys.add((item["asset"], item["interval"]))
    return message["type"] == "subscribe", keys


def subscribed_message(keys: set[CandleKey]) -> str:
    return _dumps({"type": "SUBSCRIBED", "candles": [{"asset": a, "interval": i} for a, i in sorted(keys)]})


def error_message(reason: str) -> str:
    return _dumps({"type": "ERROR", "error": {"code": "INVALID_MESSAGE", "message": reason}})


def candle_messages(data: bytes) -> dict[CandleKey, str]:
    """The CANDLE message of each live bucket in a pub/sub payload (CandleUpdates); ValueError if garbage."""
    updates = candles_pb2.CandleUpdates()
    try:
        updates.ParseFromString(data)
    except DecodeError as exc:
        raise ValueError(f"not a CandleUpdates protobuf: {exc}") from None
    messages = {}
    for update in updates.updates:
        interval = NAME_BY_INTERVAL.get(update.interval)
        if interval is None or not update.asset:
            continue
        c = update.candle
        messages[(update.asset, interval)] = _dumps({
            "type": "CANDLE", "asset": update.asset, "interval": interval, "decimal": update.decimal,
            "candle": {"time": c.time_ms, "open": c.open, "high": c.high, "low": c.low, "close": c.close,
                       "ticks": c.ticks},
        })  # fmt: skip
    return messages
