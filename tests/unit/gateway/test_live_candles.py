"""Live candles on /ws/prices (gateway.live_candles, gateway.prices): the subscribe protocol, refusals of
bad frames, and CANDLE messages reaching only the clients subscribed to that asset and interval."""

from __future__ import annotations

import asyncio
import json

import pytest
from exness.market.v1 import candles_pb2

from gateway.live_candles import SubscriptionError, candle_messages, parse_subscription
from gateway.prices import PriceHub
from mesh.candle_intervals import INTERVAL_BY_NAME

ASSETS = {"BTC_USDC", "ETH_USDC"}


def test_subscribe_and_unsubscribe_name_pairs() -> None:
    text = json.dumps({"type": "subscribe", "candles": [{"asset": "BTC_USDC", "interval": "1m"},
                                                          {"asset": "ETH_USDC", "interval": "1d"}]})  # fmt: skip
    assert parse_subscription(text, ASSETS) == (True, {("BTC_USDC", "1m"), ("ETH_USDC", "1d")})
    text = json.dumps({"type": "unsubscribe", "candles": [{"asset": "BTC_USDC", "interval": "1m"}]})
    assert parse_subscription(text, ASSETS) == (False, {("BTC_USDC", "1m")})


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "[]",
        '{"type": "ping"}',
        '{"type": "subscribe"}',
        '{"type": "subscribe", "candles": []}',
        '{"type": "subscribe", "candles": [{"asset": "DOGE_USDC", "interval": "1m"}]}',
        '{"type": "subscribe", "candles": [{"asset": "BTC_USDC", "interval": "2m"}]}',
        '{"type": "subscribe", "candles": ["BTC_USDC"]}',
        # unhashable values where text belongs (found by review: a TypeError ended the socket's reader)
        '{"type": "subscribe", "candles": [{"asset": [1], "interval": "1m"}]}',
        '{"type": "subscribe", "candles": [{"asset": "BTC_USDC", "interval": {}}]}',
        "x" * 10_000,
    ],
)
def test_bad_frames_are_refused(text: str) -> None:
    with pytest.raises(SubscriptionError):
        parse_subscription(text, ASSETS)


def _update(asset: str, interval: str, close: int) -> bytes:
    candle = candles_pb2.Candle(time_ms=60_000, open=1, high=close, low=1, close=close, ticks=3)
    update = candles_pb2.CandleUpdate(asset=asset, interval=INTERVAL_BY_NAME[interval], decimal=4, candle=candle)  # type: ignore[arg-type]
    return candles_pb2.CandleUpdates(updates=[update]).SerializeToString()


def test_candle_messages_are_the_documented_json() -> None:
    messages = candle_messages(_update("BTC_USDC", "5m", 9))
    assert json.loads(messages[("BTC_USDC", "5m")]) == {
        "type": "CANDLE", "asset": "BTC_USDC", "interval": "5m", "decimal": 4,
        "candle": {"time": 60_000, "open": 1, "high": 9, "low": 1, "close": 9, "ticks": 3},
    }  # fmt: skip
    with pytest.raises(ValueError):
        candle_messages(b"\xff\xff\xff")


async def test_only_subscribers_of_a_pair_get_its_candles_newest_first_on_subscribe() -> None:
    hub = PriceHub(redis=None, channel="prices", candle_channel="candles")  # type: ignore[arg-type]
    got: dict[str, list[dict[str, object]]] = {"plain": [], "btc": []}

    def sender(name: str):  # type: ignore[no-untyped-def]
        async def send(text: str) -> None:
            got[name].append(json.loads(text))

        return send

    plain, btc = hub.add(sender("plain")), hub.add(sender("btc"))
    tasks = [asyncio.create_task(plain.run()), asyncio.create_task(btc.run())]
    hub.publish_candles_local(_update("BTC_USDC", "1m", 5))
    hub.subscribe_candles(btc, {("BTC_USDC", "1m")})
    await asyncio.sleep(0)
    hub.publish_candles_local(_update("ETH_USDC", "1m", 6))
    hub.publish_candles_local(_update("BTC_USDC", "1m", 7))
    hub.publish_candles_local(b"garbage\xff")
    for _ in range(5):
        await asyncio.sleep(0)
    assert got["plain"] == []
    assert [m["candle"]["close"] for m in got["btc"]] == [5, 7]  # type: ignore[index]
    for subscriber in (plain, btc):
        subscriber.close()
    await asyncio.gather(*tasks)
