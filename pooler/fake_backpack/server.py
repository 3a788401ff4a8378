"""The fake Backpack server: connection handling, the request/error rules of docs/backpack-protocol.md §3, the
price path driver, the fault-injection controls, and the REST klines of its own price path
(`pooler.fake_backpack.klines`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from pooler.backpack import ERROR_CODES
from pooler.fake_backpack import controls
from pooler.fake_backpack.klines import KlineBook, rest_klines
from pooler.fake_backpack.script import ScriptStep
from pooler.pricepath import KNOWN_MARKETS, Market, RandomWalk, Top, market_for

log = logging.getLogger("pooler.fake_backpack")

STREAM_TYPES = {"bookTicker", "depth", "trade", "ticker", "kline", "markPrice", "openInterest", "liquidation"}
DEPTH_WINDOWS = {"200ms", "600ms", "1000ms"}
KLINE_INTERVALS = {
    "1s",
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1month",
}


def _frame(stream: str, data: dict[str, object], raw: dict[str, str] | None = None) -> str:
    """byte-faithful: `data` first, its keys sorted (uppercase first), no spaces; `raw` replaces the JSON
    text of some values verbatim (fault injection: values no JSON encoder would write, e.g. 1e999999999)."""
    if raw:
        body = ",".join(
            f"{json.dumps(key)}:{raw[key] if key in raw else json.dumps(value, separators=(',', ':'))}"
            for key, value in sorted({**data, **dict.fromkeys(raw)}.items())
        )
        return '{"data":{' + body + '},"stream":' + json.dumps(stream) + "}"
    return (
        '{"data":' + json.dumps(data, separators=(",", ":"), sort_keys=True) + ',"stream":' + json.dumps(stream) + "}"
    )


def error_frame(code: int) -> str:
    return json.dumps(
        {"id": None, "error": {"code": code, "message": ERROR_CODES.get(code, "Error")}}, separators=(",", ":")
    )


@dataclass(eq=False, slots=True)
class _Client:
    ws: ServerConnection
    subscriptions: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Book:
    market: Market
    top: Top | None = None
    update_id: int = 1_000_000_000
    high: Decimal | None = None
    low: Decimal | None = None
    trades: int = 0


class FakeBackpack:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        symbols: list[str] | None = None,
        seed: int | None = None,
        script: list[ScriptStep] | None = None,
        interval_ms: int = 100,
        ticker_interval: float = 1.0,
        ping_interval: float = 60.0,
        ping_timeout: float = 120.0,
        close_grace: float = 30.0,
    ) -> None:
        names = list(symbols or KNOWN_MARKETS)
        for step in script or []:
            if step.symbol not in names:
                names.append(step.symbol)
        self.books = {name: _Book(market_for(name)) for name in names}
        self._host, self._port = host, port
        self._walk = RandomWalk([book.market for book in self.books.values()], seed)
        self._rng = random.Random(seed)
        self._script = script
        self._interval = interval_ms / 1000
        self._ticker_interval = ticker_interval
        self._ping_interval, self._ping_timeout = ping_interval, ping_timeout
        self._close_grace = close_grace
        self._clients: set[_Client] = set()
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[None]] = set()
        self.klines = KlineBook()
        self.paused = False
        self.refusing = False
        self.u_as_string = False
        self.counters = {
            "connections": 0,
            "subscribe_frames": 0,
            "bookTicker_frames": 0,
            "ticker_frames": 0,
            "error_frames": 0,
            "refused": 0,
        }
        # (symbol, bid, ask, time.time() when the frame was written) of the last bookTicker frames, for benches
        self.sent_log: list[tuple[str, str, str, float]] | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            process_request=self._process_request,
            ping_interval=self._ping_interval,
            ping_timeout=self._ping_timeout,
            close_timeout=self._close_grace,
            compression="deflate",
            max_size=1 << 20,
        )
        self._tasks = [
            asyncio.create_task(self._drive_prices(), name="fake-prices"),
            asyncio.create_task(self._drive_tickers(), name="fake-tickers"),
        ]
        log.info("fake Backpack listening on %s (%d markets)", self.url, len(self.books))

    async def stop(self) -> None:
        """Shut down like the venue: a Close frame (1001) to every client, up to the grace period for them to
        close, then drop whatever is left."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()

    # ---- the protocol ----------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        client = _Client(ws)
        self._clients.add(client)
        self.counters["connections"] += 1
        try:
            async for message in ws:
                await self._on_message(client, message)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)

    async def _on_message(self, client: _Client, message: str | bytes) -> None:
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        params = request.get("params") if isinstance(request, dict) else None
        method = request.get("method") if isinstance(request, dict) else None
        if (
            method not in ("SUBSCRIBE", "UNSUBSCRIBE")
            or not isinstance(params, list)
            or not all(isinstance(p, str) for p in params)
        ):
            await self._send_error(client, 4002)
            return
        if method == "UNSUBSCRIBE":
            client.subscriptions.difference_update(params)
            return
        self.counters["subscribe_frames"] += 1
        for stream in params:
            code = self._stream_error(stream)
            if code is not None:
                await self._send_error(client, code)
            else:
                # unknown or closed symbols are accepted in silence, exactly like the venue
                client.subscriptions.add(stream)

    @staticmethod
    def _stream_error(stream: str) -> int | None:
        parts = stream.split(".")
        kind = parts[0]
        if kind.startswith("account"):
            return 4003
        if kind not in STREAM_TYPES:
            return 4006
        if kind == "depth" and len(parts) == 3 and parts[1].endswith("ms") and parts[1] not in DEPTH_WINDOWS:
            return 4008
        if kind == "kline" and (len(parts) != 3 or parts[1] not in KLINE_INTERVALS):
            return 4006
        return None

    async def _send_error(self, client: _Client, code: int) -> None:
        self.counters["error_frames"] += 1
        with contextlib.suppress(ConnectionClosed):
            await client.ws.send(error_frame(code))

    async def _broadcast(self, stream: str, text: str) -> int:
        sent = 0
        for client in list(self._clients):
            if stream in client.subscriptions:
                with contextlib.suppress(ConnectionClosed):
                    await client.ws.send(text)
                    sent += 1
        return sent

    # ---- prices ----------------------------------------------------------------------------------------

    async def _drive_prices(self) -> None:
        while True:
            if self._script:
                for step in self._script:
                    await asyncio.sleep(step.after_ms / 1000)
                    await self._publish_while_running(Top(step.symbol, step.bid, step.ask, step.bid_qty, step.ask_qty))
            else:
                await asyncio.sleep(self._interval)
                for symbol in self.books:
                    await self._publish_while_running(self._walk.step(symbol))

    async def _publish_while_running(self, top: Top) -> None:
        # paused = a stalled venue: neither prices nor tickers (protocol pings go on)
        if not self.paused:
            await self.publish_top(top)

    async def publish_top(self, top: Top, empty_side: str | None = None, raw: dict[str, str] | None = None) -> int:
        """Make `top` the market's top of book and push the bookTicker frame to its subscribers; with
        `empty_side` ("ask" or "bid") that side goes out as null, the documented empty-book form; `raw`
        (key -> JSON text) overrides fields verbatim, e.g. {"a": "1e999999999"}."""
        book = self.books[top.symbol]
        book.top = top
        # the venue's u is the depth sequence: it jumps between bookTicker frames
        book.update_id += self._rng.randint(1, 40)
        book.high = max(book.high or top.bid, top.bid)
        book.low = min(book.low or top.bid, top.bid)
        book.trades += 1
        tick, step = book.market.tick, book.market.step
        emitted_us = time.time_ns() // 1000
        if empty_side != "bid":
            # the fake's "trades" for its klines: one per published top, at the bid
            self.klines.record(top.symbol, top.bid.quantize(tick), top.bid_qty.quantize(step), emitted_us / 1e6)
        stream = f"bookTicker.{top.symbol}"
        data: dict[str, object] = {
            "A": str(top.ask_qty.quantize(step)),
            "B": str(top.bid_qty.quantize(step)),
            "E": emitted_us,
            "T": emitted_us - self._rng.randint(0, 2000),
            "a": str(top.ask.quantize(tick)),
            "b": str(top.bid.quantize(tick)),
            "e": "bookTicker",
            "s": top.symbol,
            "u": str(book.update_id) if self.u_as_string else book.update_id,
        }
        if empty_side is not None:
            price_key = {"ask": "a", "bid": "b"}[empty_side]
            data[price_key] = data[price_key.upper()] = None
        text = _frame(stream, data, raw)
        sent = await self._broadcast(stream, text)
        self.counters["bookTicker_frames"] += sent
        if self.sent_log is not None and sent:
            self.sent_log.append((top.symbol, str(data["b"]), str(data["a"]), time.time()))
        return sent

    async def _drive_tickers(self) -> None:
        while True:
            await asyncio.sleep(self._ticker_interval)
            for symbol, book in self.books.items():
                if book.top is None or self.paused:
                    continue
                tick = book.market.tick
                data = {
                    "E": time.time_ns() // 1000,
                    "V": "1498114.9234",
                    "c": str(book.top.bid.quantize(tick)),
                    "e": "ticker",
                    "h": str(book.high),
                    "l": str(book.low),
                    "n": book.trades,
                    "o": str(book.market.start),
                    "s": symbol,
                    "v": "15089.56",
                }
                self.counters["ticker_frames"] += await self._broadcast(
                    f"ticker.{symbol}", _frame(f"ticker.{symbol}", data)
                )

    # ---- fault injection -------------------------------------------------------------------------------

    def drop_all(self) -> int:
        """Cut every connection without a Close frame (the client sees 1006)."""
        clients = list(self._clients)
        for client in clients:
            client.ws.transport.abort()
        return len(clients)

    async def close_all(self, code: int = 1001, reason: str = "server shutting down") -> int:
        """Send every client a Close frame, as the venue does before a restart."""
        clients = list(self._clients)
        for client in clients:
            # not awaited: the close handshake may take the whole grace period
            task = asyncio.create_task(client.ws.close(code, reason))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        await asyncio.sleep(0)
        return len(clients)

    async def send_raw_all(self, text: str) -> int:
        for client in list(self._clients):
            with contextlib.suppress(ConnectionClosed):
                await client.ws.send(text)
        return len(self._clients)

    def stats(self) -> dict[str, object]:
        return {
            **self.counters,
            "open": len(self._clients),
            "paused": self.paused,
            "refusing": self.refusing,
            "subscriptions": [sorted(client.subscriptions) for client in self._clients],
        }

    async def control(self, action: str, query: dict[str, str]) -> dict[str, object]:
        """HTTP control: /control/<action>?... (the actions: pooler.fake_backpack.controls)."""
        return await controls.control(self, action, query)

    def rest_klines(self, query: dict[str, str], now: float | None = None) -> tuple[HTTPStatus, str, str]:
        """`GET /api/v1/klines` as the venue answers it (pooler.fake_backpack.klines.rest_klines)."""
        return rest_klines(self.klines, set(self.books), query, now)

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urllib.parse.urlsplit(request.path)
        if parts.path == "/api/v1/klines":
            status, content_type, text = self.rest_klines(dict(urllib.parse.parse_qsl(parts.query)))
            response = connection.respond(status, text)
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = content_type
            return response
        if parts.path.startswith("/control/"):
            query = dict(urllib.parse.parse_qsl(parts.query))
            try:
                body = await self.control(parts.path.removeprefix("/control/"), query)
            except LookupError as exc:
                return connection.respond(HTTPStatus.NOT_FOUND, f"unknown control or symbol: {exc}\n")
            except (ValueError, ArithmeticError) as exc:
                return connection.respond(HTTPStatus.BAD_REQUEST, f"bad control parameters: {exc}\n")
            response = connection.respond(HTTPStatus.OK, json.dumps(body) + "\n")
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = "application/json"
            return response
        if self.refusing:
            self.counters["refused"] += 1
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable\n")
        return None
