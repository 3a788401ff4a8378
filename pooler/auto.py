"""FEED=auto: prices from the live venue when it works, from the simulation while it does not.

The live connection keeps retrying (with its backoff) the whole time. Once it has been down for the
fallback period (or, at start-up, after its first failed attempt) the simulation starts, continuing from
the last live prices, and the published source becomes `sim`; said loudly in the log, the metrics and
/healthz. As soon as live delivers prices again the published source switches back and the simulation
stops."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from pooler.connection import LiveFeed
from pooler.sim import SimFeed

log = logging.getLogger("pooler.feed")

_POLL_SECONDS = 0.05


class AutoFeed:
    def __init__(
        self, live: LiveFeed, sim: SimFeed, fallback_after: float, on_switch: Callable[[str, str], None]
    ) -> None:
        self.live = live
        self.sim = sim
        self.fallback_after = fallback_after
        self.active = live.source
        self.fallbacks = 0
        self._on_switch = on_switch

    @property
    def in_fallback(self) -> bool:
        return self.active == self.sim.source

    async def run(self) -> None:
        live_task = asyncio.create_task(self.live.run(), name="live-feed")
        sim_task: asyncio.Task[None] | None = None
        ever_priced = False
        try:
            while True:
                await asyncio.sleep(_POLL_SECONDS)
                if live_task.done():
                    live_task.result()  # LiveFeed.run only ends by raising: surface it
                status = self.live.status
                ever_priced = ever_priced or status.priced
                if not self.in_fallback and not status.priced:
                    down_for = time.monotonic() - (status.down_since or time.monotonic())
                    if down_for >= self.fallback_after or (not ever_priced and status.failures > 0):
                        start = {symbol: top.bid for symbol, top in status.last_tops.items() if top.bid is not None}
                        sim_task = asyncio.create_task(self.sim.run(start), name="sim-feed")
                        self.fallbacks += 1
                        self._switch(
                            self.sim.source, f"LIVE FEED UNAVAILABLE ({status.last_error}): publishing SIMULATED prices"
                        )
                elif self.in_fallback and status.priced and sim_task is not None:
                    sim_task.cancel()
                    # asyncio.wait, not a suppressed await: our own cancellation must still get through
                    await asyncio.wait([sim_task])
                    sim_task = None
                    self._switch(self.live.source, "live feed is back: publishing live prices again")
        finally:
            children = [task for task in (live_task, sim_task) if task is not None]
            for task in children:
                task.cancel()
            await asyncio.wait(children)

    def _switch(self, source: str, why: str) -> None:
        previous, self.active = self.active, source
        level = logging.ERROR if source == self.sim.source else logging.WARNING
        log.log(
            level,
            "feed source %s -> %s: %s",
            previous,
            source,
            why,
            extra={"from_source": previous, "to_source": source, "url": self.live.url},
        )
        self._on_switch(previous, source)
