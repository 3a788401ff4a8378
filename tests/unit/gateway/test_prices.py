"""gateway.prices: the conflating price mailbox; a slow subscriber never blocks the others."""

from __future__ import annotations

import asyncio
import json

from gateway.prices import MAX_QUEUED_REPLIES, PriceHub, PriceSubscriber
from harness.prices import Quote, price_update
from mesh.stream_codec import encode_price_update


async def test_slow_subscriber_is_conflated_and_never_blocks_others() -> None:
    hub = PriceHub(redis=None, channel="unused")  # type: ignore[arg-type]
    fast_messages: list[dict[str, object]] = []
    slow_messages: list[dict[str, object]] = []
    release = asyncio.Event()
    caught_up = asyncio.Event()

    async def fast_send(text: str) -> None:
        fast_messages.append(json.loads(text))

    async def slow_send(text: str) -> None:
        slow_messages.append(json.loads(text))
        if len(slow_messages) == 2:
            caught_up.set()
        await release.wait()  # a client whose socket does not drain

    fast, slow = hub.add(fast_send), hub.add(slow_send)
    tasks = [asyncio.create_task(fast.run()), asyncio.create_task(slow.run())]
    for price in range(1, 101):
        hub.publish_local(encode_price_update(price_update([Quote("BTC_USDC", price + 1, price)])))
        if price == 50:
            hub.publish_local(encode_price_update(price_update([Quote("ETH_USDC", 7, 6)])))
        await asyncio.sleep(0)  # let the senders run, as the event loop would between pub/sub messages
    assert fast_messages[-1]["prices"]["BTC_USDC"]["sellPrice"] == 100  # type: ignore[index]
    assert len(slow_messages) == 1  # stuck in its first send
    release.set()
    await caught_up.wait()
    # one merged message with the newest quote of every symbol, not 100 stale ones
    assert len(slow_messages) == 2
    assert slow_messages[1]["prices"] == {
        "BTC_USDC": {
            "buyPrice": 101,
            "sellPrice": 100,
            "decimal": 4,
            "ts": slow_messages[1]["prices"]["BTC_USDC"]["ts"],
        },  # type: ignore[index]
        "ETH_USDC": {"buyPrice": 7, "sellPrice": 6, "decimal": 4, "ts": slow_messages[1]["prices"]["ETH_USDC"]["ts"]},
    }  # type: ignore[index]
    hub.publish_local(b"\xff garbage")  # dropped, nothing raised
    hub.remove(fast)
    hub.remove(slow)
    await asyncio.gather(*tasks)


async def test_a_client_that_sends_without_reading_is_cut_off_at_the_reply_bound() -> None:
    async def never_sent(_: str) -> None:
        await asyncio.Event().wait()

    subscriber = PriceSubscriber(never_sent)
    for n in range(MAX_QUEUED_REPLIES):
        subscriber.reply(f"answer {n}")
    assert not subscriber.flooded and not subscriber.closed
    subscriber.reply("one too many")
    assert subscriber.flooded and subscriber.closed
    assert len(subscriber._replies) == MAX_QUEUED_REPLIES  # nothing more is kept
