"""The Engine class run inside the test process (for what a separate process cannot show: the state of
its garbage collector, or one batch handed to it directly)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from engine.config import EngineSettings
from engine.lifecycle import Engine
from engine.metrics import EngineMetrics
from harness.polling import apoll_until


@asynccontextmanager
async def running_engine(settings: EngineSettings) -> AsyncIterator[Engine]:
    """An Engine leading (lease, restore, replay) and serving; stopped and closed on exit."""
    engine = Engine(settings, EngineMetrics())
    task = asyncio.create_task(engine.run())
    try:
        await apoll_until(lambda: engine.ready or task.done(), "the in-process engine to be ready", 60)
        if task.done():
            await task
        assert engine.ready, "in-process engine did not become ready"
        yield engine
    finally:
        engine.stop()
        await asyncio.wait_for(task, 60)
        await engine.close()
