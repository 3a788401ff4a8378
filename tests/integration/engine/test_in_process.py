"""The Engine class in this process against real Redis, MongoDB and PostgreSQL: snapshots leave transient
garbage cycles to the collector, and a trimmed entry above last_applied_id fails the leader session."""

from __future__ import annotations

import gc
import weakref

from engine.config import EngineSettings
from tests.integration.engine.in_process import running_engine


class _Cycle:
    def __init__(self) -> None:
        self.me = self


async def test_snapshot_does_not_freeze_transient_garbage(engine_settings: EngineSettings) -> None:
    settings = engine_settings.model_copy(update={"snapshot_interval_seconds": 3600.0})
    async with running_engine(settings) as engine:
        garbage = _Cycle()
        alive = weakref.ref(garbage)
        del garbage
        await engine.take_snapshot()
        gc.collect()
        assert alive() is None, "a garbage cycle alive during a snapshot was moved to the permanent generation"
