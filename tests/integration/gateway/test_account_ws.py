"""WS /ws/account and GET /account/statement through the real gateway and engine processes: the first
message authenticates (bad ones close with the documented codes), every event of the account arrives in
order with the fields of the REST responses, a reconnect with `since` resumes exactly after it, a `since`
beyond the account's history answers RESYNC, the statement reconciles with /balance to the cent, one
user and one client address hold a bounded number of sockets, and a socket closes when its token expires."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from harness.polling import apoll_until
from tests.integration.gateway.helpers import bearer, new_user
from tests.integration.gateway.support import JWT_SECRET, Quote, Stack, feed_engine, start_gateway

BTC = Quote("BTC_USDC", buy=1_194_168_450, sell=1_182_345_000)


def ws_url(stack: Stack, path: str = "/api/v1/ws/account") -> str:
    return stack.base_url.replace("http://", "ws://") + path


async def _recv(client: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(client.recv(), 30))
    return message


async def _subscribe(stack: Stack, token: str, since: int | None = None, path: str = "/api/v1/ws/account"
                     ) -> tuple[ClientConnection, dict[str, Any]]:  # fmt: skip
    client = await connect(ws_url(stack, path))
    auth: dict[str, Any] = {"type": "auth", "token": token}
    if since is not None:
        auth["since"] = since
    await client.send(json.dumps(auth))
    return client, await _recv(client)


async def _events(client: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [await _recv(client) for _ in range(count)]


async def test_events_arrive_in_order_resume_with_since_and_match_rest(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    user, token = await new_user(api)
    auth = bearer(token)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    client, subscribed = await _subscribe(stack, token, since=0)
    assert subscribed == {"type": "SUBSCRIBED", "seq": 0}
    (deposit,) = await _events(client, 1)
    assert deposit["type"] == "BALANCE" and deposit["seq"] == 1 and deposit["cause"] == "DEPOSIT"
    assert deposit["amount"] == deposit["balance"] == user["balance"]

    order = {"asset": "BTC_USDC", "side": "LONG", "quantity": "0.01", "leverage": 10}
    created = await api.post("/trade/create", headers=auth, json=order)
    trade = created.json()["trade"]
    opened, locked = await _events(client, 2)
    assert (opened["type"], opened["seq"], locked["type"], locked["seq"]) == ("POSITION_OPENED", 2, "BALANCE", 3)
    assert {k: v for k, v in opened["position"].items() if k not in ("currentPrice", "pnl")} == {
        k: v for k, v in trade.items() if k not in ("currentPrice", "pnl")
    }
    assert (locked["cause"], locked["amount"], locked["positionId"]) == ("MARGIN_LOCKED", -trade["margin"], trade["id"])
    assert isinstance(opened["ts"], int) and opened["ts"] == locked["ts"]

    closed = (await api.post("/trade/close", headers=auth, json={"orderId": trade["id"]})).json()
    closing, credited = await _events(client, 2)
    assert closing["type"] == "POSITION_CLOSED" and closing["trade"] == closed["trade"]
    assert closing["trade"]["reason"] == "MANUAL"
    balance = (await api.get("/balance", headers=auth)).json()
    assert (credited["cause"], credited["amount"]) == ("POSITION_CLOSED", closed["trade"]["credited"])
    assert (credited["balance"], credited["usedMargin"]) == (balance["balance"], balance["usedMargin"])
    await client.close()

    # the statement: newest first, a page at a time, the amounts summing to the balance
    lines: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = (await api.get("/account/statement", headers=auth,
                              params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()  # fmt: skip
        lines += page["entries"]
        if (cursor := page["nextCursor"]) is None:
            break
    assert [line["seq"] for line in lines] == [5, 3, 1]
    assert [line["type"] for line in lines] == ["POSITION_CLOSED", "MARGIN_LOCKED", "DEPOSIT"]
    assert sum(line["amount"] for line in lines) == balance["balance"] == lines[0]["balanceAfter"]
    assert lines[1] == {"seq": 3, "time": lines[1]["time"], "type": "MARGIN_LOCKED", "amount": -trade["margin"],
                        "balanceAfter": locked["balance"], "positionId": trade["id"], "orderId": None}  # fmt: skip

    # resuming after 2 sends 3, 4 and 5 and nothing else; without since, from the last committed event on
    resumed, subscribed = await _subscribe(stack, token, since=2, path="/ws/account")
    assert subscribed == {"type": "SUBSCRIBED", "seq": 2}
    assert [event["seq"] for event in await _events(resumed, 3)] == [3, 4, 5]
    live, subscribed = await _subscribe(stack, token)
    assert subscribed == {"type": "SUBSCRIBED", "seq": 5}
    await api.post("/trade/create", headers=auth,
                   json={"asset": "BTC_USDC", "side": "SHORT", "quantity": "0.01", "leverage": 5})  # fmt: skip
    for socket in (resumed, live):
        assert [event["seq"] for event in await _events(socket, 2)] == [6, 7]
        await socket.close()

    # a since this account never reached: reload through REST, then go on from the last committed event
    stale, answer = await _subscribe(stack, token, since=99)
    assert answer == {"type": "RESYNC", "seq": 7}
    await stale.close()


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ("not json", 4400),
        (json.dumps({"type": "subscribe"}), 4400),
        (json.dumps({"type": "auth"}), 4400),
        (json.dumps({"type": "auth", "token": "x", "since": -1}), 4400),
        (json.dumps({"type": "auth", "token": "x", "since": True}), 4400),
        (json.dumps({"type": "auth", "token": "not.a.jwt"}), 4401),
    ],
)
async def test_a_bad_first_message_closes_with_a_clear_code(stack: Stack, first: str, code: int) -> None:
    async with connect(ws_url(stack)) as client:
        await client.send(first)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(client.recv(), 30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code
    assert closed.value.rcvd.reason


async def test_statement_refuses_bad_parameters(stack: Stack, api: httpx.AsyncClient) -> None:
    _, token = await new_user(api)
    auth = bearer(token)
    assert (await api.get("/account/statement")).status_code == 401
    assert (await api.get("/account/statement", headers=auth, params={"limit": 0})).status_code == 422
    bad = await api.get("/account/statement", headers=auth, params={"cursor": "not-ours"})
    assert bad.status_code == 422 and bad.json()["error"]["code"]
    first = (await api.get("/account/statement", headers=auth)).json()
    assert first["nextCursor"] is None and [line["type"] for line in first["entries"]] in ([], ["DEPOSIT"])


async def test_a_pending_order_is_accepted_then_cancelled_on_the_socket(
    stack: Stack, api: httpx.AsyncClient, redis_conn: aioredis.Redis
) -> None:
    _, token = await new_user(api)
    auth = bearer(token)
    await feed_engine(redis_conn, stack.stream_key, [BTC])
    client, subscribed = await _subscribe(stack, token, since=0)
    assert subscribed["type"] == "SUBSCRIBED"
    await _events(client, 1)  # the deposit
    order = {"asset": "BTC_USDC", "side": "LONG", "type": "LIMIT", "price": "100000", "quantity": "0.01",
             "leverage": 10}  # fmt: skip
    placed = await api.post("/orders", headers=auth, json=order)
    assert placed.status_code == 201, placed.text
    accepted, reserved = await _events(client, 2)
    assert accepted["type"] == "ORDER_ACCEPTED" and accepted["order"] == placed.json()["order"]
    assert (reserved["cause"], reserved["orderId"]) == ("ORDER_RESERVED", accepted["order"]["id"])
    assert reserved["reserved"] == -reserved["amount"] > 0
    cancelled = await api.delete(f"/orders/{accepted['order']['id']}", headers=auth)
    assert cancelled.status_code == 200, cancelled.text
    ended, released = await _events(client, 2)
    assert ended["type"] == "ORDER_CANCELLED" and ended["order"]["status"] == "CANCELLED"
    assert (released["cause"], released["amount"], released["reserved"]) == ("ORDER_RELEASED", -reserved["amount"], 0)
    balance = (await api.get("/balance", headers=auth)).json()
    assert released["balance"] == balance["balance"]
    await client.close()


async def test_a_socket_that_never_authenticates_is_closed(stack: Stack) -> None:
    async with connect(ws_url(stack)) as client:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(client.recv(), 30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408


async def test_one_user_cannot_hold_more_than_the_cap_of_sockets(stack: Stack, api: httpx.AsyncClient) -> None:
    # each socket's catch-up reads the engine's event history: the ninth of one user is refused (4429),
    # and another user is unaffected
    _, token = await new_user(api)
    held = [await _subscribe(stack, token, since=0) for _ in range(8)]
    assert all(subscribed["type"] == "SUBSCRIBED" for _, subscribed in held)
    refused = await connect(ws_url(stack))
    await refused.send(json.dumps({"type": "auth", "token": token}))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(refused.recv(), 30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
    _, other_token = await new_user(api)
    other, subscribed = await _subscribe(stack, other_token)
    assert subscribed["type"] == "SUBSCRIBED"
    for client in [other, *(client for client, _ in held)]:
        await client.close()


async def _closed_with(client: ClientConnection) -> tuple[int, str]:
    """The close code and reason the gateway ends `client` with (events before it are skipped)."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(client.recv(), 30)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_one_client_address_cannot_hold_more_than_its_cap_of_sockets(stack: Stack, artifacts_dir: Path) -> None:
    # one address opening sockets for many users: beyond MAX_ACCOUNT_SOCKETS_PER_CLIENT (3 here) each is
    # closed with 4429, whoever it authenticates as; another address is unaffected; a closed socket gives
    # its place back
    gateway, base_url = start_gateway(
        {**stack.env, "ENGINE_ADDR": stack.engine_addr, "MAX_ACCOUNT_SOCKETS_PER_CLIENT": "3"}, artifacts_dir
    )
    url = base_url.replace("http://", "ws://") + "/api/v1/ws/account"

    async def subscribe(token: str, source: str) -> tuple[ClientConnection, dict[str, Any]]:
        client = await connect(url, local_addr=(source, 0))
        await client.send(json.dumps({"type": "auth", "token": token}))
        return client, await _recv(client)

    try:
        async with httpx.AsyncClient(base_url=f"{base_url}/api/v1", timeout=30) as api:
            tokens = [(await new_user(api))[1] for _ in range(5)]
        held = [await subscribe(token, "127.0.0.8") for token in tokens[:3]]
        assert [subscribed["type"] for _, subscribed in held] == ["SUBSCRIBED"] * 3
        refused = await connect(url, local_addr=("127.0.0.8", 0))
        # the address is counted from the accept: the close can come before the auth message is sent
        with contextlib.suppress(ConnectionClosed):
            await refused.send(json.dumps({"type": "auth", "token": tokens[3]}))
        code, reason = await _closed_with(refused)
        assert code == 4429 and "per client address" in reason
        other, subscribed = await subscribe(tokens[3], "127.0.0.9")
        assert subscribed["type"] == "SUBSCRIBED"
        await held[0][0].close()

        async def place_given_back() -> bool:
            client = await connect(url, local_addr=("127.0.0.8", 0))
            try:
                await client.send(json.dumps({"type": "auth", "token": tokens[4]}))
                answer = await _recv(client)
            except ConnectionClosed:
                return False
            held.append((client, answer))
            return answer["type"] == "SUBSCRIBED"

        await apoll_until(place_given_back, "a place for the address again", 30)
        for client in [other, *(client for client, _ in held[1:])]:
            await client.close()
    finally:
        gateway.stop()


async def test_a_socket_is_closed_when_its_token_expires(stack: Stack, api: httpx.AsyncClient) -> None:
    # a token that expires a few seconds from now (signed with the test key): the socket opens, and the
    # gateway closes it with 4401 TOKEN_EXPIRED once the token's exp has passed
    user, _ = await new_user(api)
    now = int(time.time())
    token = jwt.encode({"sub": str(user["id"]), "iat": now, "exp": now + 3}, JWT_SECRET, algorithm="HS256")
    client, subscribed = await _subscribe(stack, token)
    assert subscribed["type"] == "SUBSCRIBED"
    assert await _closed_with(client) == (4401, "TOKEN_EXPIRED")
    assert time.time() >= now + 3
    # the same token cannot open another
    again = await connect(ws_url(stack))
    await again.send(json.dumps({"type": "auth", "token": token}))
    assert await _closed_with(again) == (4401, "TOKEN_EXPIRED")
