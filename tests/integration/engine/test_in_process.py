"""The Engine class in this process against real Redis, MongoDB and PostgreSQL: snapshots leave transient
garbage cycles to the collector, and a trimmed entry above last_applied_id fails the leader session."""

from __future__ import annotations

import gc
import weakref

import pytest

from engine.config import EngineSettings
from engine.consumer import Consumer
from engine.metrics import EngineMetrics
from engine.refusals import RefuseToLead
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


@pytest.mark.parametrize("accept", [False, True])
async def test_trimmed_entry_above_last_applied_is_a_gap(engine_settings: EngineSettings, accept: bool) -> None:
    settings = engine_settings.model_copy(update={"engine_accept_log_gap": accept})
    async with running_engine(settings) as engine:
        assert engine.applier is not None
        engine.applier.last_applied_id = "1000-5"
        consumer = Consumer(settings, engine.stream, engine.lease, EngineMetrics(), engine.applier)
        # delivered, then trimmed: at or below last_applied_id it was applied; nothing to do
        await consumer.process_batch([("1000-5", None), ("999-0", None)])
        assert engine.last_applied_id == "1000-5"
        if accept:
            await consumer.process_batch([("1000-6", None)])
        else:
            with pytest.raises(RefuseToLead, match="entry 1000-6, after the last applied 1000-5, was trimmed"):
                await consumer.process_batch([("1000-6", None)])
