"""What the browser journeys share: the platform's prices as the fake Backpack is made to quote them
(expected figures computed here with Decimal, independently of the client), the texts the terminal
shows for them, and the page's price socket routed through the test."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import httpx
from playwright.sync_api import WebSocketRoute

from tests.e2e.platform import Platform

SPREAD = Decimal("0.01")  # SPREAD_BPS default 100, applied to the ask
TICK = Decimal("0.0001")  # every asset's price scale (decimal 4)
START_PRICES = {"BTC_USDC": ("100000", "100010"), "ETH_USDC": ("3000", "3001"), "SOL_USDC": ("200", "200.5")}


def platform_buy(ask: str) -> Decimal:
    return (Decimal(ask) * (1 + SPREAD)).quantize(TICK, ROUND_CEILING)


def platform_sell(bid: str) -> Decimal:
    return Decimal(bid).quantize(TICK, ROUND_FLOOR)


def price_text(value: Decimal) -> str:
    return f"{value:,.4f}"


def cents_text(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}${Decimal(abs(cents)).scaleb(-2):,.2f}"


def scaled_text(scaled: int, decimal: int) -> str:
    return price_text(Decimal(scaled).scaleb(-decimal))


class Quotes:
    """Keeps the fake Backpack quoting the chosen tops (re-sent so quotes never go stale)."""

    def __init__(self, mesh: Platform) -> None:
        self.mesh = mesh
        self.tops = dict(START_PRICES)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stopped.is_set():
                for symbol, (bid, ask) in list(self.tops.items()):
                    client.get(
                        f"http://127.0.0.1:{self.mesh.fake_port}/control/top",
                        params={"symbol": symbol, "bid": bid, "ask": ask},
                    )
                self.stopped.wait(0.25)

    def set(self, api: httpx.Client, symbol: str, bid: str, ask: str) -> None:
        """Quotes bid/ask and returns once the engine holds the resulting platform prices."""
        self.tops[symbol] = (bid, ask)
        want = (platform_buy(ask), platform_sell(bid))
        quote = None
        # generous: the first quotes wait for the pooler to connect to the fake on a busy machine
        for _ in range(1200):
            quote = api.get("/prices").json().get("prices", {}).get(symbol)
            if (
                quote
                and (
                    Decimal(quote["buyPrice"]).scaleb(-quote["decimal"]),
                    Decimal(quote["sellPrice"]).scaleb(-quote["decimal"]),
                )
                == want
            ):
                return
            self.stopped.wait(0.05)
        raise AssertionError(f"the engine never quoted {symbol} at {want}; its last quote: {quote}")


@contextlib.contextmanager
def driving(mesh: Platform) -> Iterator[Quotes]:
    quotes = Quotes(mesh)
    quotes.thread.start()
    try:
        yield quotes
    finally:
        quotes.stopped.set()
        quotes.thread.join(timeout=5)


class PriceSockets:
    """Routes the page's /ws/prices through the test, which can drop it and refuse reconnects."""

    def __init__(self) -> None:
        self.open: list[WebSocketRoute] = []
        self.refuse = False

    def handle(self, ws: WebSocketRoute) -> None:
        if self.refuse:
            ws.close(code=1011, reason="refused by the test")
            return
        ws.connect_to_server()
        self.open.append(ws)

    def drop_all(self) -> None:
        while self.open:
            self.open.pop().close(code=1011, reason="dropped by the test")


def error_message(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    assert response.status_code >= 400, response.text
    message: str = body["error"]["message"]
    return message
