"""Fixtures for pooler integration tests: a real fake-Backpack websocket server and poolers run in process
(stopped at the end of the test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from pooler.config import PoolerSettings
from pooler.fake_backpack import FakeBackpack
from pooler.service import Pooler
from tests.integration.pooler.helpers import SCRIPT, RunningPooler, wait_until


@pytest.fixture
async def fake() -> AsyncIterator[FakeBackpack]:
    server = FakeBackpack(script=SCRIPT, ticker_interval=0.2, close_grace=1.0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def start_pooler() -> AsyncIterator[Callable[[PoolerSettings], Awaitable[RunningPooler]]]:
    running: list[RunningPooler] = []

    async def start(settings: PoolerSettings) -> RunningPooler:
        runner = RunningPooler(Pooler(settings))
        running.append(runner)
        await wait_until(lambda: runner.pooler.http.listening or runner.task.done(), "pooler started")
        return runner

    yield start
    for runner in running:
        if not runner.task.done():
            await runner.close()
