"""WS /ws/prices through the real gateway process: a price published on Redis pub/sub reaches browsers
as JSON, and a client that stops reading neither delays a fast client nor misses the newest price."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from harness.polling import apoll_until
from tests.integration.gateway.support import Quote, Stack, price_update, publish_prices

SYMBOLS = [f"S{index:03d}_USDC" for index in range(100)]
# the largest send buffer the kernel may give the gateway's socket
KERNEL_SEND_BUFFER = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])


async def wait_subscribed(redis_conn: aioredis.Redis, channel: str) -> None:
    """Until the gateway's pub/sub subscription exists (it is made at start-up, in the background)."""

    async def subscribed() -> bool:
        [(_, count)] = await redis_conn.pubsub_numsub(channel)
        return bool(count)

    await apoll_until(subscribed, f"the gateway's subscription to {channel}", 60)


def ws_url(stack: Stack, path: str) -> str:
    return stack.base_url.replace("http://", "ws://") + path


async def test_price_updates_reach_websocket_clients(stack: Stack, redis_conn: aioredis.Redis) -> None:
    await wait_subscribed(redis_conn, stack.price_channel)
    async with (
        connect(ws_url(stack, "/ws/prices")) as root_client,
        connect(ws_url(stack, "/api/v1/ws/prices")) as api_client,
    ):
        update = price_update(
            [
                Quote("BTC_USDC", buy=1_194_168_450, sell=1_182_345_000),
                Quote("ETH_USDC", buy=34_913_500, sell=34_567_800),
            ],
            published_at_ms=1_700_000_000_000,
        )
        await publish_prices(redis_conn, stack.price_channel, update)
        for client in (root_client, api_client):
            message = json.loads(await asyncio.wait_for(client.recv(), 30))
            while message["prices"].get("ETH_USDC", {}).get("sellPrice") != 34_567_800:
                message = json.loads(await asyncio.wait_for(client.recv(), 30))
            assert message == {
                "type": "PRICE_UPDATE",
                "prices": {
                    "BTC_USDC": {
                        "buyPrice": 1_194_168_450,
                        "sellPrice": 1_182_345_000,
                        "decimal": 4,
                        "ts": 1_700_000_000_000,
                    },
                    "ETH_USDC": {
                        "buyPrice": 34_913_500,
                        "sellPrice": 34_567_800,
                        "decimal": 4,
                        "ts": 1_700_000_000_000,
                    },
                },
            }
        # garbage on the channel is dropped; the connection and the next update survive
        await redis_conn.publish(stack.price_channel, b"\xff not a protobuf")
        await publish_prices(redis_conn, stack.price_channel, price_update([Quote("SOL_USDC", 18_910, 18_723)]))
        message = json.loads(await asyncio.wait_for(root_client.recv(), 30))
        while "SOL_USDC" not in message["prices"]:
            message = json.loads(await asyncio.wait_for(root_client.recv(), 30))
        assert message["prices"]["SOL_USDC"]["sellPrice"] == 18_723


async def _open_stalled_client(stack: Stack) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket client with a tiny receive buffer that reads nothing after the handshake."""
    host, port = stack.base_url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    writer.write(
        (
            f"GET /ws/prices HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def _read_text_frame(reader: asyncio.StreamReader) -> str:
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    payload = await reader.readexactly(length)
    if first & 0x0F != 0x1:  # ping or other control frame: not a price message
        return await _read_text_frame(reader)
    return payload.decode()


def _conflated_total(metrics_text: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith("gateway_ws_conflated_total "):
            return float(line.split()[1])
    return 0.0


async def test_slow_client_gets_latest_and_never_delays_a_fast_one(stack: Stack, redis_conn: aioredis.Redis) -> None:
    await wait_subscribed(redis_conn, stack.price_channel)
    message_bytes = len(SYMBOLS) * 70
    # enough to fill the stalled client's socket buffers several times over
    count = 3 * KERNEL_SEND_BUFFER // message_bytes + 100
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        conflated_before = _conflated_total((await http.get("/metrics")).text)
    reader, writer = await _open_stalled_client(stack)
    try:
        async with connect(ws_url(stack, "/ws/prices"), max_size=None) as fast:
            last_price = 0
            for batch in range(0, count, 100):
                async with redis_conn.pipeline(transaction=False) as pipe:
                    for sequence in range(batch + 1, min(batch + 100, count) + 1):
                        quotes = [Quote(symbol, buy=sequence + 1, sell=sequence) for symbol in SYMBOLS]
                        await publish_prices(pipe, stack.price_channel, price_update(quotes))  # type: ignore[arg-type]
                    await pipe.execute()
            last_price = count
            seen = 0
            while seen != last_price:  # the fast client reaches the very last update
                message = json.loads(await asyncio.wait_for(fast.recv(), 60))
                seen = message["prices"].get("S099_USDC", {}).get("sellPrice", seen)
        async with httpx.AsyncClient(base_url=stack.base_url) as http:
            # the stalled client's sender was blocked and its mailbox merged updates meanwhile
            assert _conflated_total((await http.get("/metrics")).text) > conflated_before
        # now the slow client reads: it catches up to the newest prices without all the steps in between
        frames = 0
        newest = 0
        while newest != last_price:
            message = json.loads(await asyncio.wait_for(_read_text_frame(reader), 60))
            frames += 1
            newest = message["prices"].get("S099_USDC", {}).get("sellPrice", newest)
        assert frames < count
    finally:
        writer.close()
