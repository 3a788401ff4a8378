"""The running engine: its connections, the single-writer lease and the life of a leader session. The
session's parts live beside it: engine.recovery (restore, replay), engine.consumer (the consume loop),
engine.applier (one entry applied to the state), engine.snapshotting; trading rules live in
engine.domain. The servicers read it through engine.reads.EngineReads.

Lifecycle: standby (polls for the lease) -> leader (restore, replay, catch up) -> ready (health
SERVING, reads served) -> on SIGTERM: finish the batch, flush closed trades, snapshot, release the
lease. A leader whose lease lapses stops applying at once, drops its state and goes back to standby."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from engine.applier import EntryApplier
from engine.config import EngineSettings
from engine.consumer import Consumer
from engine.domain import TradingState
from engine.event_hub import EventHub
from engine.event_store import EVENTS
from engine.fencing import StaleEpoch
from engine.lease import Lease, LeaseLost
from engine.metrics import EngineMetrics
from engine.reads import NotLeader
from engine.recovery import Recovery
from engine.refusals import RefuseToLead
from engine.replies import ReplyHub
from engine.snapshots import SnapshotInfo, SnapshotStore
from engine.snapshotting import Snapshotter
from engine.stream import StreamLog
from engine.trades import TradeStore, TradeWriter

log = logging.getLogger(__name__)

LEAD_RETRY_SECONDS = 1.0


class Engine:
    def __init__(self, settings: EngineSettings, metrics: EngineMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.instance_name = settings.engine_instance_name
        self.redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
        self.lease = Lease(self.redis, settings.lease_key, self.instance_name, settings.lease_ttl_ms)
        self.stream = StreamLog(self.redis, settings.stream_key, settings.consumer_group, self.instance_name,
                                settings.dead_letter_stream, self.lease.epoch_key)  # fmt: skip
        self.snapshots = SnapshotStore(settings.mongodb_url, settings.mongodb_database, settings.stream_key,
                                       settings.snapshot_keep)  # fmt: skip
        self.snapshotter = Snapshotter(self.snapshots, self.stream, metrics, settings)
        self.trade_store = TradeStore(settings.database_url, settings.stream_key)
        self.hub = ReplyHub(metrics)
        self.event_hub = EventHub(metrics)
        self.writer = self._new_writer()
        # the leader session's state and log position; None while standby or restoring
        self.applier: EntryApplier | None = None
        self._applied_in_earlier_sessions = 0
        # leader: holds the lease (StreamReplies accepted); ready: leader and caught up with the stream
        self.leader = False
        self.ready = False
        self.on_serving_changed: Callable[[bool], Awaitable[None]] | None = None
        self._stopping = asyncio.Event()

    def _new_writer(self) -> TradeWriter:
        """A writer for a leader session: committed account events go to the StreamAccountEvents calls."""
        writer = TradeWriter(self.trade_store, self.hub, self.metrics)
        writer.on_commit[EVENTS.name] = self.event_hub.publish
        return writer

    # ------------------------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Ask the loop to stop after the batch in hand (the SIGTERM path)."""
        self._stopping.set()

    async def close(self) -> None:
        await self.trade_store.close()
        await self.redis.aclose()
        # pymongo's close may wait on an unreachable server; never let that hold the process at exit
        closer = threading.Thread(target=self.snapshots.close, name="mongo-close", daemon=True)
        closer.start()
        for _ in range(100):
            if not closer.is_alive():
                return
            await asyncio.sleep(0.05)

    async def run(self) -> None:
        """Standby until the lease is ours, then lead; again after a lost lease, until stopped."""
        while not self._stopping.is_set():
            if not await self._acquire_lease():
                return
            try:
                await self._lead()
            except StaleEpoch as exc:
                self.metrics.fenced_writes.labels(exc.where).inc()
                log.error("fenced off: a newer leader holds the lease; stopped applying, state dropped; back to "
                          "standby", extra={"error": str(exc)})  # fmt: skip
            except LeaseLost:
                log.error("lease lost: stopped applying, state dropped; back to standby")
            except RefuseToLead as exc:
                log.critical("refusing to lead", extra={"reason": str(exc), "what_to_do": exc.advice})
                with contextlib.suppress(Exception):
                    await self.lease.release()
                raise
            except Exception:
                log.exception("leader session failed; releasing the lease and retrying")
                with contextlib.suppress(Exception):
                    await self.lease.release()
                await self._sleep_unless_stopping(LEAD_RETRY_SECONDS)
            finally:
                await self._step_down()

    async def _acquire_lease(self) -> bool:
        poll = max(0.05, self.settings.lease_ttl_ms / 1000 / 5)
        announced = False
        while not self._stopping.is_set():
            try:
                if await self.lease.try_acquire():
                    log.info("lease acquired", extra={"lease_key": self.lease.key})
                    return True
                if not announced:
                    log.info(
                        "standby: another engine holds the lease",
                        extra={"lease_key": self.lease.key, "holder": await self.lease.holder()},
                    )
                    announced = True
            except RedisError as exc:
                log.warning("cannot reach Redis for the lease", extra={"error": repr(exc)})
            await self._sleep_unless_stopping(poll)
        return False

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _keep_lease(self) -> None:
        interval = self.settings.lease_ttl_ms / 1000 / 3
        while True:
            await asyncio.sleep(interval)
            try:
                if not await self.lease.renew():
                    log.error("lease renewal refused: another engine holds the lease")
                    return
            except RedisError as exc:
                # keep trying: the lease stays trusted only until its local deadline passes
                log.warning("lease renewal failed", extra={"error": repr(exc)})

    async def _lead(self) -> None:
        keeper = asyncio.create_task(self._keep_lease(), name="lease-keeper")
        self.writer.epoch = self.lease.epoch
        writer = asyncio.create_task(self.writer.run(), name="trade-writer")
        try:
            # leader from the lease on: gateways may attach their StreamReplies during restore and replay,
            # which answer the entries the previous leader left unanswered (see engine.recovery)
            self.leader = True
            self.metrics.leader.set(1)
            await self._recover_and_consume()
            if self._stopping.is_set() and self.lease.held:
                writer.cancel()
                await self._shutdown_as_leader()
            elif not self._stopping.is_set():
                raise LeaseLost()
        finally:
            keeper.cancel()
            writer.cancel()
            await asyncio.gather(keeper, writer, return_exceptions=True)

    async def _recover_and_consume(self) -> None:
        recovery = Recovery(self.settings, self.stream, self.snapshots, self.lease, self.metrics, self.hub,
                            self.writer)  # fmt: skip
        self.applier, restored_from = await recovery.restore()
        if restored_from is not None:
            self.snapshotter.last_snapshot = restored_from
        consumer = Consumer(self.settings, self.stream, self.lease, self.metrics, self.applier)
        await recovery.replay(self.applier, consumer, self.take_snapshot if restored_from is None else None)
        await recovery.put_configured_rules_in_force(self.applier)
        self.snapshotter.start_interval()
        await consumer.consume(
            stopping=self._stopping.is_set, on_caught_up=self._caught_up,
            on_turn=lambda: self.snapshotter.start_if_due(self._capture), refresh_lag=self.stream_figures,
        )  # fmt: skip

    async def _caught_up(self) -> None:
        self.ready = True
        log.info("caught up with the stream: serving", extra={"last_applied_id": self.last_applied_id})
        if self.on_serving_changed:
            await self.on_serving_changed(True)

    async def _step_down(self) -> None:
        was_ready = self.ready
        self.leader = self.ready = False
        self.metrics.leader.set(0)
        self.hub.end_all(grpc.StatusCode.UNAVAILABLE, "engine is not the leader any more")
        self.event_hub.end_all(grpc.StatusCode.UNAVAILABLE, "engine is not the leader any more")
        if was_ready and self.on_serving_changed:
            await self.on_serving_changed(False)
        await self.snapshotter.wait_scheduled()
        if self.applier is not None:
            self._applied_in_earlier_sessions += self.applier.commands_applied
        self.applier = None
        self.writer = self._new_writer()

    async def _shutdown_as_leader(self) -> None:
        grace = self.settings.shutdown_grace_seconds
        try:
            await asyncio.wait_for(self.writer.flush_all(), timeout=max(1.0, grace / 2))
        except Exception as exc:
            log.warning(
                "closed trades not committed at shutdown; they are kept in the snapshot",
                extra={"pending_rows": len(self.writer.pending), "error": repr(exc)},
            )
        await self.snapshotter.wait_scheduled()
        try:
            await self.take_snapshot()
        except Exception:
            log.exception("final snapshot failed; the next start replays from the previous one")
        with contextlib.suppress(RedisError):
            await self.lease.release()
        log.info("leader stopped cleanly", extra={"last_applied_id": self.last_applied_id})

    # ------------------------------------------------------------------------------------ snapshots

    async def _capture(self) -> tuple[Callable[[], dict[str, Any]], str, int, int]:
        """On the loop, between two entries: shallow copies only, in slices with the loop free between them
        and no entry applied meanwhile (EntryApplier.capture); the body is encoded from them later, in the
        snapshot writer's thread."""
        applier = self.applier
        if not self.leader or applier is None or not self.lease.held:
            raise NotLeader()
        epoch = self.lease.epoch
        state, last_applied_id = await applier.capture()
        # rows are never changed once pending (a committed row leaves, a new one is a new dict)
        pending_rows = list(self.writer.pending.values())
        held = [state]

        def encode() -> dict[str, Any]:
            # One-shot: the body becomes the capture's only holder, so its 100k-item lists are freed in the
            # writer's thread when the write is done, not on the loop. The state is encoded by
            # SnapshotStore.write, piece by piece (StateCapture.json_pieces).
            pending: dict[str, list[Any]] = {"pending_trades": [], EVENTS.snapshot_key: []}
            for kind, row in pending_rows:
                pending[kind.snapshot_key].append(kind.to_json(row))
            return {"last_applied_id": last_applied_id, "state": held.pop(), **pending}

        return encode, last_applied_id, applier.state.account_count, epoch

    async def take_snapshot(self) -> SnapshotInfo:
        return await self.snapshotter.take(self._capture)

    # ------------------------------------------------------------------------- reads (EngineReads)

    @property
    def state(self) -> TradingState | None:
        return self.applier.state if self.applier else None

    @property
    def last_applied_id(self) -> str:
        return self.applier.last_applied_id if self.applier else "0-0"

    @property
    def commands_applied(self) -> int:
        return self._applied_in_earlier_sessions + (self.applier.commands_applied if self.applier else 0)

    @property
    def last_snapshot(self) -> SnapshotInfo | None:
        return self.snapshotter.last_snapshot

    def serving_state(self) -> TradingState:
        """The state for read RPCs; NotLeader while standby or still replaying."""
        state = self.state
        if not self.ready or state is None:
            raise NotLeader()
        return state

    async def stream_figures(self) -> tuple[int, int]:
        """(lag after last_applied_id, stream length); -1 when Redis does not answer."""
        try:
            lag = await self.stream.lag_after(self.last_applied_id if self.leader else None)
            length = await self.stream.length()
        except RedisError:
            return -1, -1
        self.metrics.stream_lag.set(lag)
        return lag, length
