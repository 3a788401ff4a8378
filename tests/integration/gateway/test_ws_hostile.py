"""Hostile WebSocket clients on /ws/prices through the real gateway process: a message over the size
limit closes that socket with 1009, binary frames and invalid subscriptions are answered or dropped, a socket
that never completes its handshake or vanishes mid-frame is let go; meanwhile a well-behaved client keeps
receiving prices and the gateway keeps answering HTTP."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.integration.gateway.support import Quote, Stack, price_update, publish_prices
from tests.integration.gateway.test_ws import wait_subscribed, ws_url

MAX_MESSAGE_BYTES = 64 * 1024


async def _next_price(client: ClientConnection, redis_conn: aioredis.Redis, stack: Stack, sell: int) -> None:
    """Publish a quote and wait until `client` receives it."""
    await publish_prices(redis_conn, stack.price_channel, price_update([Quote("BTC_USDC", sell + 10, sell)]))
    while True:
        message = json.loads(await asyncio.wait_for(client.recv(), 30))
        if message.get("prices", {}).get("BTC_USDC", {}).get("sellPrice") == sell:
            return


async def test_an_oversized_message_closes_that_socket_with_1009(stack: Stack, redis_conn: aioredis.Redis) -> None:
    await wait_subscribed(redis_conn, stack.price_channel)
    async with (
        connect(ws_url(stack, "/ws/prices")) as bystander,
        connect(ws_url(stack, "/ws/prices"), max_size=None) as attacker,
    ):
        await attacker.send("x" * (MAX_MESSAGE_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(attacker.recv(), 30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await _next_price(bystander, redis_conn, stack, 1_000_000_000)


async def test_binary_frames_and_floods_are_dropped_and_prices_keep_flowing(
    stack: Stack, redis_conn: aioredis.Redis
) -> None:
    await wait_subscribed(redis_conn, stack.price_channel)
    async with (
        connect(ws_url(stack, "/ws/prices")) as bystander,
        connect(ws_url(stack, "/ws/prices")) as attacker,
    ):
        await attacker.send(b"\x00\xff" * 1000)
        await attacker.send(MAX_MESSAGE_BYTES * b"\x01")  # at the limit: accepted and dropped
        # invalid subscriptions, each answered with an ERROR message the attacker reads as it goes
        for n in range(200):
            await attacker.send(json.dumps({"type": "subscribe", "candles": [{"asset": "X" * n}], "since": -n}))
        await attacker.send(json.dumps({"type": "subscribe", "candles": "all"}))
        await _next_price(attacker, redis_conn, stack, 1_000_000_100)
        await _next_price(bystander, redis_conn, stack, 1_000_000_200)


async def test_broken_handshakes_and_half_frames_leave_the_gateway_serving(
    stack: Stack, redis_conn: aioredis.Redis
) -> None:
    await wait_subscribed(redis_conn, stack.price_channel)
    host, port = stack.base_url.removeprefix("http://").split(":")
    garbage = [
        b"GET /ws/prices HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",  # no key
        b"GET /ws/prices HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: not-base64\r\nSec-WebSocket-Version: 13\r\n\r\n",
        b"\x16\x03\x01\x02\x00" + b"\x00" * 64,  # a TLS hello on the plain port
    ]
    for raw in garbage:
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(raw)
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 4"), answer[:80]
    async with connect(ws_url(stack, "/ws/prices")) as half:
        # the header of a masked 1 KiB frame and then nothing: the client vanishes mid-frame
        half.transport.write(b"\x81\xfe\x04\x00" + b"\x00\x00\x00\x00" + b"y" * 10)
        half.transport.abort()
    async with connect(ws_url(stack, "/ws/prices")) as client:
        await _next_price(client, redis_conn, stack, 1_000_000_300)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        assert (await http.get("/healthz")).status_code == 200
