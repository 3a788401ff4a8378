"""The simulated feed: a seeded random walk per asset, in process, emitting venue-shaped tops (the same
`BookTicker` the parser produces) so simulated prices take exactly the live path through the pooler."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from pooler.backpack import BookTicker
from pooler.connection import next_session
from pooler.events import Emit, TopOfBook
from pooler.pricepath import RandomWalk, market_for

SOURCE = "sim"


class SimFeed:
    source = SOURCE

    def __init__(self, symbols: list[str], emit: Emit, interval_seconds: float, seed: int | None = None) -> None:
        self.symbols = list(symbols)
        self._emit = emit
        self._interval = interval_seconds
        self._seed = seed
        self._update_id = 0

    async def run(self, start: dict[str, Decimal] | None = None) -> None:
        """Emit a top per asset every interval, forever; `start` continues from known prices (e.g. the last
        live bids) instead of the built-in ones."""
        walk = RandomWalk([market_for(symbol) for symbol in self.symbols], self._seed, start)
        session = next_session()
        while True:
            now_us = time.time_ns() // 1000
            for symbol in self.symbols:
                top = walk.step(symbol)
                self._update_id += 1
                ticker = BookTicker(
                    symbol=symbol,
                    ask=top.ask,
                    ask_qty=top.ask_qty,
                    bid=top.bid,
                    bid_qty=top.bid_qty,
                    update_id=self._update_id,
                    event_time_us=now_us,
                    engine_time_us=now_us,
                )
                self._emit(TopOfBook(SOURCE, session, ticker, time.monotonic(), time.time_ns() // 1_000_000))
            await asyncio.sleep(self._interval)
