"""The load every fault test runs under: a few concurrent clients, each a gateway of its own (a StreamReplies
call with its own gateway id), sending opens and closes, and placing and cancelling pending LIMIT/STOP orders
(some far from the price so they stay pending, some near it so the moving prices fill them, some expiring
within seconds), each with an Idempotency-Key and retrying with the same key whenever Redis refuses the XADD
or no reply comes in time, as a gateway's user would; and a price feed. What a client saw acknowledged is
kept for the checks (tests/chaos/verify.py, tests/chaos/verify_orders.py)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2
from redis.exceptions import RedisError

from mesh.stream_codec import encode_command
from tests.integration.engine.support import (
    ReplyClient,
    cancel_order,
    close_position,
    create_account,
    open_position,
    place_order,
    price_update,
)

ASSETS = {"BTC_USDC": (60_000_0000, 1_000), "ETH_USDC": (3_000_0000, 10_000)}
REPLY_WAIT_SECONDS = 2.0
# how long stop() lets the clients finish the operations in hand before it fails the test, naming them
# (a client retries until it is answered: past this the platform is not answering, which is the finding)
STOP_WAIT_SECONDS = 120.0
START_BALANCE = 5_000_000
# shares of a client's operations: placing a pending order, cancelling one of its own (the rest: market)
PLACE_SHARE, CANCEL_SHARE = 0.25, 0.1
# an order's distance from the price: "far" stays pending through a test (the walk and the 5% jumps move
# the price a few percent), "near" is filled by the walk within seconds; "expiring" is far and ends by expiry
ORDER_DISTANCE = {"far": 0.2, "near": 0.002, "expiring": 0.2}
EXPIRY_MS = (500, 3_000)


@dataclass
class Acknowledged:
    idempotency_key: str
    request_id: str
    reply: commands_pb2.Reply
    at: float
    command: commands_pb2.Command


@dataclass
class ClientLog:
    acknowledged: list[Acknowledged] = field(default_factory=list)
    attempts: int = 0
    retries: int = 0
    # the key of the operation being sent until it is answered, and the error of its last attempt
    in_hand: str | None = None
    last_error: str = ""


class Prices:
    """A random walk of both assets; `jump` moves them by a factor at once."""

    def __init__(self, rng: random.Random, mids: dict[str, int] | None = None) -> None:
        self.rng = rng
        self.mids = dict(mids or {asset: mid for asset, (mid, _) in ASSETS.items()})

    def step(self, factor: float | None = None) -> commands_pb2.Command:
        for asset, mid in self.mids.items():
            move = factor if factor is not None else self.rng.uniform(-0.003, 0.003)
            self.mids[asset] = max(10_000, int(mid * (1 + move)))
        return price_update({asset: (mid + mid // 500, mid) for asset, mid in self.mids.items()})


class Replies:
    """One gateway's reply streams: a StreamReplies call (same gateway id) to every engine address, as a gateway
    keeps to each engine pod; only the leader's is accepted, the others retry until it leads."""

    def __init__(self, addresses: list[str]) -> None:
        self.gateway_id = f"gw-{uuid.uuid4().hex[:8]}"
        self.calls = [ReplyClient(address, self.gateway_id) for address in addresses]

    async def start(self) -> Replies:
        for call in self.calls:
            call._task = asyncio.create_task(call._run())
        await asyncio.wait_for(asyncio.wait([asyncio.create_task(c.connected.wait()) for c in self.calls],
                                            return_when=asyncio.FIRST_COMPLETED), 60)  # fmt: skip
        return self

    async def close(self) -> None:
        for call in self.calls:
            await call.__aexit__()

    async def wait_for(self, request_id: str, within: float) -> commands_pb2.Reply:
        waits = [asyncio.create_task(call.wait_for(request_id, within)) for call in self.calls]
        try:
            for done in asyncio.as_completed(waits):
                with contextlib.suppress(TimeoutError):
                    return await done
            raise TimeoutError(request_id)
        finally:
            for wait in waits:
                wait.cancel()


class Client:
    def __init__(self, name: str, redis_client: aioredis.Redis, stream_key: str, replies: Replies,
                 prices: Prices, rng: random.Random) -> None:  # fmt: skip
        self.name = name
        self.redis = redis_client
        self.stream_key = stream_key
        self.replies = replies
        self.prices = prices
        self.rng = rng
        self.users = [f"{name}-u{i}" for i in range(3)]
        self.open_ids: dict[str, list[str]] = {user: [] for user in self.users}
        # orders placed and not cancelled yet (some filled or expired meanwhile: their cancel is refused)
        self.order_ids: dict[str, list[str]] = {user: [] for user in self.users}
        self.log = ClientLog()

    async def call(self, command: commands_pb2.Command, key: str) -> commands_pb2.Reply:
        """Send until a reply comes: every attempt a new request id, always the same idempotency key."""
        self.log.in_hand = key
        while True:
            request_id = f"{key}#{self.log.attempts}"
            self.log.attempts += 1
            command.request_id, command.reply_to, command.idempotency_key = request_id, self.replies.gateway_id, key
            try:
                await self.redis.xadd(self.stream_key, encode_command(command))
                reply = await self.replies.wait_for(request_id, within=REPLY_WAIT_SECONDS)
            except (RedisError, OSError, TimeoutError) as exc:
                self.log.retries += 1
                self.log.last_error = repr(exc)[:200]
                await asyncio.sleep(0.2)
                continue
            self.log.acknowledged.append(Acknowledged(key, request_id, reply, time.monotonic(), command))
            self.log.in_hand = None
            return reply

    async def setup(self) -> None:
        for user in self.users:
            await self.call(create_account(user, f"{user}@example.com", START_BALANCE), f"{user}-account")

    async def step(self) -> None:
        user = self.rng.choice(self.users)
        key = f"{self.name}-{uuid.uuid4().hex[:12]}"
        roll = self.rng.random()
        if roll < PLACE_SHARE:
            await self._place(user, key)
        elif roll < PLACE_SHARE + CANCEL_SHARE and self.order_ids[user]:
            order_id = self.order_ids[user].pop(self.rng.randrange(len(self.order_ids[user])))
            await self.call(cancel_order(user, order_id), key)
        elif self.open_ids[user] and self.rng.random() < 0.45:
            position_id = self.open_ids[user].pop(self.rng.randrange(len(self.open_ids[user])))
            await self.call(close_position(user, position_id), key)
        else:
            await self._open(user, key)

    def _order_size(self) -> tuple[str, int, str, int]:
        """asset, its sell price as last sent, side, quantity: a notional of $200 .. $2,000."""
        asset = self.rng.choice(sorted(ASSETS))
        mid, step = self.prices.mids[asset], ASSETS[asset][1]
        side = self.rng.choice(("LONG", "SHORT"))
        return asset, mid, side, max(step, self.rng.randint(200, 2_000) * 10**12 // mid // step * step)

    async def _open(self, user: str, key: str) -> None:
        asset, mid, side, quantity = self._order_size()
        direction = 1 if side == "LONG" else -1
        stop_loss = int(mid * (1 - direction * 0.01)) if self.rng.random() < 0.4 else 0
        take_profit = int(mid * (1 + direction * 0.01)) if self.rng.random() < 0.4 else 0
        command = open_position(user, asset, side, quantity, self.rng.choice((2, 5, 20, 50)), stop_loss=stop_loss,
                                take_profit=take_profit)  # fmt: skip
        reply = await self.call(command, key)
        if reply.WhichOneof("result") == "position_opened":
            self.open_ids[user].append(reply.position_opened.position.id)

    async def _place(self, user: str, key: str) -> None:
        """A LIMIT or STOP order on the side of the price it waits for (a LIMIT LONG below the buy price, a
        STOP LONG above it; a SHORT's mirrored about the sell price), `ORDER_DISTANCE` away."""
        asset, mid, side, quantity = self._order_size()
        order_type = self.rng.choice(("LIMIT", "STOP"))
        kind = self.rng.choice(sorted(ORDER_DISTANCE))
        market = mid + mid // 500 if side == "LONG" else mid  # the feed's buy price is 0.2% above its sell
        waits_below = (order_type == "LIMIT") == (side == "LONG")
        price = int(market * (1 - ORDER_DISTANCE[kind] if waits_below else 1 + ORDER_DISTANCE[kind]))
        direction = 1 if side == "LONG" else -1
        stop_loss = int(price * (1 - direction * 0.01)) if self.rng.random() < 0.3 else 0
        take_profit = int(price * (1 + direction * 0.01)) if self.rng.random() < 0.3 else 0
        expires_at_ms = int(time.time() * 1000) + self.rng.randint(*EXPIRY_MS) if kind == "expiring" else 0
        command = place_order(user, asset, side, order_type, price, quantity, self.rng.choice((2, 5, 20)),
                              stop_loss=stop_loss, take_profit=take_profit, expires_at_ms=expires_at_ms)  # fmt: skip
        reply = await self.call(command, key)
        if reply.WhichOneof("result") == "order_placed":
            self.order_ids[user].append(reply.order_placed.order.id)


class Load:
    """`clients` concurrent clients and a price feed, until `stop()`; `running` while they trade."""

    def __init__(self, redis_url: str, stream_key: str, engine_addresses: list[str], *, prefix: str,
                 clients: int = 3, seed: int = 17, feed: bool = True,
                 mids: dict[str, int] | None = None) -> None:  # fmt: skip
        """`feed`: publish prices (a random walk from `mids`); without it another feed (the pooler) does, and
        `mids` are only where the clients size their orders and place their levels."""
        self.redis = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=1)
        self.stream_key = stream_key
        self.addresses = engine_addresses
        # user ids start with it: this test's rows in the session's shared PostgreSQL database
        self.prefix = prefix
        self.rng = random.Random(seed)
        self.prices = Prices(self.rng, mids)
        self.feed = feed
        self.client_count = clients
        # False: the feed keeps quoting the same prices (fresh, unmoved)
        self.prices_move = True
        self.clients: list[Client] = []
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._replies: list[ReplyClient] = []

    async def __aenter__(self) -> Load:
        if self.feed:
            await self.send_prices()
        for i in range(self.client_count):
            replies = await Replies(self.addresses).start()
            self._replies.append(replies)
            client = Client(
                f"{self.prefix}c{i}",
                self.redis,
                self.stream_key,
                replies,
                self.prices,
                random.Random(self.rng.random()),
            )
            await client.setup()
            self.clients.append(client)
        self._tasks = [asyncio.create_task(self._trade(c)) for c in self.clients]
        if self.feed:
            self._tasks.append(asyncio.create_task(self._feed()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        for replies in self._replies:
            await replies.close()
        await self.redis.aclose()

    async def stop(self) -> None:
        """Let every client finish the operation in hand (each ends acknowledged), then stop."""
        self._stopping.set()
        _, waiting = await asyncio.wait(self._tasks, timeout=STOP_WAIT_SECONDS)
        if waiting:
            for task in waiting:
                task.cancel()
            stuck = [(c.name, c.log.in_hand, c.log.last_error) for c in self.clients if c.log.in_hand is not None]
            raise AssertionError(
                f"{len(stuck)} clients still unanswered {STOP_WAIT_SECONDS:.0f} s after the load stopped "
                f"(client, Idempotency-Key, last attempt's error): {stuck}"
            )
        for task in self._tasks:
            task.result()  # a client that failed fails the test

    async def send_prices(self, factor: float | None = None) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.redis.xadd(self.stream_key, encode_command(self.prices.step(factor)))

    async def _trade(self, client: Client) -> None:
        while not self._stopping.is_set():
            await client.step()
            await asyncio.sleep(client.rng.uniform(0.01, 0.05))

    async def _feed(self) -> None:
        while not self._stopping.is_set():
            await self.send_prices(None if self.prices_move else 0.0)
            await asyncio.sleep(0.1)

    def replies_from(self, address: str) -> dict[str, commands_pb2.Reply]:
        """Replies (by request id) every client's gateway received from the engine at `address` so far."""
        return {rid: r for rs in self._replies for call in rs.calls if call.address == address
                for rid, r in call.replies.items()}  # fmt: skip

    @property
    def acknowledged(self) -> list[Acknowledged]:
        return [ack for client in self.clients for ack in client.log.acknowledged]

    def acknowledged_after(self, moment: float) -> int:
        return sum(1 for ack in self.acknowledged if ack.at > moment)

    async def recovered_after(self, moment: float, within: float = 60) -> float:
        """Seconds from `moment` until every client had an operation acknowledged after it."""
        from harness.polling import apoll_until

        def every_client_served() -> bool:
            return all(any(a.at > moment for a in c.log.acknowledged) for c in self.clients)

        await apoll_until(every_client_served, "every client to get an acknowledged operation", within)
        return max(min(a.at for a in c.log.acknowledged if a.at > moment) for c in self.clients) - moment
