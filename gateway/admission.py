"""Admission of writes: a command is sent to the engine only when the platform can expect to answer it in
time. Two signals: the commands already waiting for a reply across every gateway process of the
platform (GATEWAY_MAX_IN_FLIGHT; the other processes' counts come through Redis, gateway.in_flight, so
N processes admit the bound once, not N times) and how late this process's event loop runs its timers
(GATEWAY_MAX_LOOP_LAG_MS). While the loop lags, this process's own in-flight bound shrinks to a
sixteenth (never to zero: shedding every write would drop the accepted throughput to nothing, while a
few commands in flight still finish in time). A write over the bound is refused with 503 and
`Retry-After` BEFORE anything is XADDed: the order was not executed and a retry is safe with or without
its Idempotency-Key. Refusing at the door keeps overload from turning into written but unanswered orders
(504s whose outcome the client must go and find out)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from gateway import metrics
from gateway.errors import ApiError
from gateway.in_flight import SharedInFlight

# how often the loop-lag probe wakes up: short enough to notice a stall within a request's lifetime,
# long enough to cost nothing (20 wake-ups a second)
LAG_PROBE_SECONDS = 0.05
RETRY_AFTER_SECONDS = 1
# while the loop lags, the in-flight bound is divided by this
LAGGING_DIVISOR = 16


class LoopLagProbe:
    """Measures how late the event loop runs a timer: a sleeper that records its overshoot. The value is
    the last sample, and it decays to the next one, so a single stall does not close the door for long."""

    def __init__(self, interval: float = LAG_PROBE_SECONDS) -> None:
        self.interval = interval
        self.lag_seconds = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loop-lag-probe")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            expected = time.perf_counter() + self.interval
            await asyncio.sleep(self.interval)
            self.lag_seconds = max(0.0, time.perf_counter() - expected)
            metrics.EVENT_LOOP_LAG.set(self.lag_seconds)


class Admission:
    """Decides, per write, whether it may go to the engine (`check`). `max_in_flight` 0 switches
    admission off, `max_loop_lag` 0 the lag signal; without `shared` the bound is this process's alone."""

    def __init__(
        self,
        max_in_flight: int,
        max_loop_lag: float,
        probe: LoopLagProbe | None = None,
        shared: SharedInFlight | None = None,
    ) -> None:
        self.max_in_flight = max_in_flight
        self.max_loop_lag = max_loop_lag
        self.probe = probe
        self.shared = shared

    def lagging(self) -> bool:
        return bool(self.max_loop_lag and self.probe is not None and self.probe.lag_seconds > self.max_loop_lag)

    def check(self, in_flight: int) -> None:
        """Raise the 503 that refuses a write now (`in_flight`: this process's commands waiting); return
        when it may be sent."""
        if not self.max_in_flight:
            return
        others = self.shared.others() if self.shared is not None else 0
        if in_flight + others >= self.max_in_flight:
            metrics.ENGINE_REPLIES.labels(outcome="refused_busy").inc()
            where = f" ({others} of them on other gateways)" if others else ""
            raise _refused("ENGINE_BUSY", f"{in_flight + others} commands are already waiting for the engine{where}")
        if self.lagging() and in_flight >= max(1, self.max_in_flight // LAGGING_DIVISOR):
            assert self.probe is not None
            metrics.ENGINE_REPLIES.labels(outcome="refused_overloaded").inc()
            raise _refused(
                "OVERLOADED",
                f"the gateway runs {self.probe.lag_seconds * 1000:.0f} ms behind with "
                f"{in_flight} commands waiting for the engine",
            )


def _refused(code: str, why: str) -> ApiError:
    return ApiError(
        503,
        code,
        f"{why}; the request was not sent to the engine and not executed, retry after {RETRY_AFTER_SECONDS}s",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
