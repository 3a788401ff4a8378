"""When and how the leader snapshots: every SNAPSHOT_INTERVAL_SECONDS (one at a time, off the consume
loop's critical path), on demand (TakeSnapshot, shutdown, the first snapshot of an empty state). The
state is captured on the event loop between two entries, so it matches last_applied_id, by shallow copies
only (a few ms at 100k accounts / 200k positions, bench.snapshot_pause); it is encoded and written from a
worker thread while entries go on being applied, old snapshots are pruned, and the stream is trimmed below
the oldest one kept."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from engine.config import EngineSettings
from engine.fencing import StaleEpoch
from engine.metrics import EngineMetrics
from engine.reads import NotLeader
from engine.snapshots import SnapshotInfo, SnapshotStore
from engine.stream import StreamLog

log = logging.getLogger(__name__)

# (the snapshot body's encoder, its last_applied_id, account count, the capturing session's epoch), captured on
# the loop; the encoder runs in the writer's thread and needs nothing from the live state; raises NotLeader
# without a state
Capture = Callable[[], Awaitable[tuple[Callable[[], dict[str, Any]], str, int, int]]]


class Snapshotter:
    def __init__(self, store: SnapshotStore, stream: StreamLog, metrics: EngineMetrics,
                 settings: EngineSettings) -> None:  # fmt: skip
        self.store = store
        self.stream = stream
        self.metrics = metrics
        self.interval = settings.snapshot_interval_seconds
        self.last_snapshot: SnapshotInfo | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._next_at = 0.0
        metrics.snapshot_age.set_function(self.age_seconds)

    def start_interval(self) -> None:
        self._next_at = time.monotonic() + self.interval

    def start_if_due(self, capture: Capture) -> None:
        if time.monotonic() >= self._next_at and self._task is None:
            self._task = asyncio.create_task(self._scheduled(capture), name="snapshot")

    async def wait_scheduled(self) -> None:
        if self._task:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _scheduled(self, capture: Capture) -> None:
        try:
            await self.take(capture)
        except NotLeader:
            pass
        except StaleEpoch as exc:
            self.metrics.fenced_writes.labels("snapshot").inc()
            log.error("snapshot fenced off: a newer leader holds the lease", extra={"error": str(exc)})
        except Exception:
            log.exception("snapshot failed; the next one is tried at the next interval")
        finally:
            self.start_interval()
            self._task = None

    async def take(self, capture: Capture) -> SnapshotInfo:
        """Capture the state (on the loop, between entries, so it matches last_applied_id), encode and write
        it from a worker thread, prune old snapshots, and trim the stream below the oldest one kept."""
        async with self._lock:
            started = time.monotonic()
            encode, last_applied_id, accounts, epoch = await capture()
            captured = time.monotonic() - started
            self.metrics.snapshot_capture.observe(captured)
            try:
                info, oldest = await asyncio.to_thread(self._write, encode, last_applied_id, accounts, epoch)
            except Exception:
                self.metrics.snapshot_failures.inc()
                raise
            self.last_snapshot = info
            trimmed = await self.stream.trim_below(oldest.last_applied_id, epoch) if oldest else 0
            seconds = time.monotonic() - started
            self.metrics.snapshot_duration.observe(seconds)
            log.info("snapshot written", extra={
                "snapshot_id": info.snapshot_id, "accounts": accounts, "size_bytes": info.size_bytes,
                "seconds": round(seconds, 3), "capture_ms": round(captured * 1000, 2), "trimmed_entries": trimmed,
            })  # fmt: skip
            return info

    def _write(
        self, encode: Callable[[], dict[str, Any]], last_applied_id: str, accounts: int, epoch: int
    ) -> tuple[SnapshotInfo, SnapshotInfo | None]:
        # The encoding makes millions of short-lived rows; with the state frozen out of the collector's
        # view (engine.recovery), each full collection they set off would hold the GIL, and so the loop,
        # for ~0.1 s. Nothing here makes cycles: collection resumes when the write is done.
        collecting = gc.isenabled()
        gc.disable()
        try:
            info = self.store.write(encode(), last_applied_id=last_applied_id, accounts=accounts, epoch=epoch)
        finally:
            if collecting:
                gc.enable()
        return info, self.store.prune()

    def age_seconds(self) -> float:
        if self.last_snapshot is None:
            return -1.0
        return max(0.0, time.time() - self.last_snapshot.created_at_ms / 1000)
