"""The running engine: single-writer lease, restore from the newest snapshot, XRANGE replay, the
consumer-group loop that applies entries in order, reply routing, periodic snapshots and stream
trimming. Trading rules live in engine.domain; this module only sequences I/O around them.

Lifecycle: standby (polls for the lease) -> leader (restore, replay, catch up) -> ready (health
SERVING, reads served) -> on SIGTERM: finish the batch, flush closed trades, snapshot, release the
lease. A leader whose lease lapses stops applying at once, drops its state and goes back to standby."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2
from redis.exceptions import RedisError

from engine import translate
from engine.config import EngineSettings
from engine.domain import AccountCreated, PositionClosed, TradingState
from engine.domain.codec import decode_account
from engine.lease import Lease
from engine.metrics import EngineMetrics
from engine.replies import ReplyHub
from engine.snapshots import NoUsableSnapshot, SnapshotInfo, SnapshotStore
from engine.stream import DeadLetter, Entry, Fields, StreamLog, entry_key, entry_time_ms
from engine.trades import TradeStore, TradeWriter
from mesh.codec import CodecError, decode_entry

log = logging.getLogger(__name__)

REPLAY_CHUNK = 5_000
# XREADGROUP blocks at most this long, so a stop request or a lost lease is noticed quickly
READ_BLOCK_MS = 200
LAG_REFRESH_SECONDS = 1.0
LEAD_RETRY_SECONDS = 1.0


class NotLeader(Exception):
    pass


class LeaseLost(Exception):
    pass


class RefuseToLead(Exception):
    """Leading would apply entries to a state that does not match the log (no restorable snapshot, or a gap
    in the stream): fatal, the process exits non-zero so orchestration surfaces it to an operator."""


class Engine:
    def __init__(self, settings: EngineSettings, metrics: EngineMetrics) -> None:
        self.settings = settings
        self.rules = settings.rules()
        self.price_decimals = {symbol: spec.decimal for symbol, spec in self.rules.assets.items()}
        self.metrics = metrics
        self.instance_name = settings.engine_instance_name
        self.redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
        self.stream = StreamLog(self.redis, settings.stream_key, settings.consumer_group, self.instance_name,
                                settings.dead_letter_stream)
        self.lease = Lease(self.redis, settings.lease_key, self.instance_name, settings.lease_ttl_ms)
        self.snapshots = SnapshotStore(settings.mongodb_url, settings.mongodb_database, settings.stream_key,
                                       settings.snapshot_keep)
        self.trade_store = TradeStore(settings.database_url)
        self.hub = ReplyHub(metrics)
        self.writer = TradeWriter(self.trade_store, self.hub, metrics)
        self.state: TradingState | None = None
        # e-mail -> user id, for the operators' LookupAccount (derived from the state, never snapshotted)
        self.emails: dict[str, str] = {}
        self.last_applied_id = "0-0"
        self.commands_applied = 0
        # leader: holds the lease and has a state; ready: leader and caught up with the stream
        self.leader = False
        self.ready = False
        self.last_snapshot: SnapshotInfo | None = None
        self.on_serving_changed: Callable[[bool], Awaitable[None]] | None = None
        self._stopping = asyncio.Event()
        self._snapshot_lock = asyncio.Lock()
        self._snapshot_task: asyncio.Task[None] | None = None
        self._next_snapshot_at = 0.0
        metrics.snapshot_age.set_function(self._snapshot_age_seconds)

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
            except LeaseLost:
                log.error("lease lost: stopped applying, state dropped; back to standby")
            except RefuseToLead as exc:
                log.critical("refusing to lead", extra={"reason": str(exc)})
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
                    log.info("standby: another engine holds the lease",
                             extra={"lease_key": self.lease.key, "holder": await self.lease.holder()})
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
        writer = asyncio.create_task(self.writer.run(), name="trade-writer")
        try:
            await self._restore()
            self.leader = True
            self.metrics.leader.set(1)
            await self._replay()
            await self._consume()
            if self._stopping.is_set() and self.lease.held:
                writer.cancel()
                await self._shutdown_as_leader()
            elif not self._stopping.is_set():
                raise LeaseLost()
        finally:
            keeper.cancel()
            writer.cancel()
            await asyncio.gather(keeper, writer, return_exceptions=True)

    async def _step_down(self) -> None:
        was_ready = self.ready
        self.leader = self.ready = False
        self.metrics.leader.set(0)
        self.hub.end_all(grpc.StatusCode.UNAVAILABLE, "engine is not the leader any more")
        if was_ready and self.on_serving_changed:
            await self.on_serving_changed(False)
        if self._snapshot_task:
            await asyncio.gather(self._snapshot_task, return_exceptions=True)
            self._snapshot_task = None
        self.state = None
        self.emails = {}
        self.writer = TradeWriter(self.trade_store, self.hub, self.metrics)

    async def _shutdown_as_leader(self) -> None:
        grace = self.settings.shutdown_grace_seconds
        try:
            await asyncio.wait_for(self.writer.flush_all(), timeout=max(1.0, grace / 2))
        except Exception as exc:
            log.warning("closed trades not committed at shutdown; they are kept in the snapshot",
                        extra={"pending_rows": len(self.writer.pending), "error": repr(exc)})
        if self._snapshot_task:
            await asyncio.gather(self._snapshot_task, return_exceptions=True)
        try:
            await self.take_snapshot()
        except Exception:
            log.exception("final snapshot failed; the next start replays from the previous one")
        with contextlib.suppress(RedisError):
            await self.lease.release()
        log.info("leader stopped cleanly", extra={"last_applied_id": self.last_applied_id})

    # ---------------------------------------------------------------------------- restore and replay

    def _restore_body(self, body: dict[str, Any]) -> tuple[TradingState, dict[str, Any]]:
        return TradingState.restore(self.rules, body["state"]), body

    async def _restore(self) -> None:
        started = time.monotonic()
        try:
            loaded = await asyncio.to_thread(self.snapshots.load_newest, self._restore_body)
        except NoUsableSnapshot as exc:
            for snapshot_id, error in exc.failures:
                log.critical("snapshot cannot be restored", extra={"snapshot_id": snapshot_id, "error": error})
            raise RefuseToLead(f"{len(exc.failures)} snapshot(s) exist but none can be restored ({exc}); "
                               "starting from an empty state would lose the accounts in them") from exc
        if loaded is None:
            self.state = TradingState(self.rules)
            self.last_applied_id = "0-0"
            self.emails = {}
            log.info("no snapshot: starting from an empty state and the whole stream")
            return
        info, (state, body) = loaded
        self.state = state
        self.last_applied_id = str(body["last_applied_id"])
        self.emails = {}
        for row in body["state"]["accounts"]:
            account = decode_account(row)
            self.emails.setdefault(account.email.lower(), account.user_id)
        for row in body.get("pending_trades", []):
            self.writer.add(row)
        self.writer.wake()
        self.last_snapshot = info
        log.info("restored snapshot", extra={
            "snapshot_id": info.snapshot_id, "last_applied_id": self.last_applied_id, "accounts": state.account_count,
            "pending_trade_rows": len(self.writer.pending), "seconds": round(time.monotonic() - started, 3),
        })  # fmt: skip

    async def _check_log_complete(self) -> None:
        """The stream must hold every entry after last_applied_id: the snapshot's own entry is still there
        (the engine's XTRIM MINID keeps it), or, without a snapshot, nothing was ever trimmed. A gap (e.g. a
        MAXLEN trim past the snapshot) means entries were lost unapplied: refuse, unless the operator says so."""
        if self.last_applied_id != "0-0":
            if await self.stream.contains(self.last_applied_id):
                return
            gap = (f"the snapshot's last applied entry {self.last_applied_id} is no longer in the stream: "
                   "entries after it were trimmed before they were applied")
        else:
            trimmed = await self.stream.trimmed_count()
            if trimmed == 0:
                return
            gap = f"no snapshot, but {trimmed} entries were trimmed from the start of the stream"
        self._log_gap(gap)

    def _log_gap(self, gap: str) -> None:
        """Refuse to lead over a gap in the log, or, with ENGINE_ACCEPT_LOG_GAP, say loudly that we do."""
        if not self.settings.engine_accept_log_gap:
            raise RefuseToLead(f"gap in the log: {gap} (ENGINE_ACCEPT_LOG_GAP=true starts anyway, losing them)")
        log.critical("gap in the log accepted (ENGINE_ACCEPT_LOG_GAP): the state misses the lost entries",
                     extra={"gap": gap, "last_applied_id": self.last_applied_id})  # fmt: skip

    async def _replay(self) -> None:
        started = time.monotonic()
        await self.stream.ensure_group()
        await self._check_log_complete()
        claimed = await self.stream.claim_orphans()
        delivered = await self.stream.last_delivered_id()
        dead: list[DeadLetter] = []
        replayed = 0
        # Replay only adds long-lived, acyclic objects: the cyclic collector's full passes over the growing
        # heap would cost a third of the replay time and find nothing.
        gc.disable()
        try:
            while True:
                entries = await self.stream.range_after(self.last_applied_id, REPLAY_CHUNK)
                if not entries:
                    break
                for entry_id, fields in entries:
                    error = self._apply(entry_id, fields or {}, live=False)
                    # entries the group already delivered get their dead letter on the pending path
                    if error and entry_key(entry_id) > entry_key(delivered):
                        dead.append(DeadLetter(entry_id, fields, error))
                replayed += len(entries)
                self.metrics.replayed_entries.inc(len(entries))
                self.writer.wake()
                if not self.lease.held:
                    raise LeaseLost()
                # let gRPC calls and the lease keeper run between chunks
                await asyncio.sleep(0)
        finally:
            gc.enable()
        if entry_key(self.last_applied_id) > entry_key(delivered):
            await self.stream.finish_replay(dead, self.last_applied_id)
            self.metrics.dead_letters.inc(len(dead))
        while entries := await self.stream.read_own_pending(self.settings.read_batch_size):
            await self._process_batch(entries)
        # The restored and replayed state is long-lived and acyclic: keep the cyclic collector off it. Frozen
        # once per leader session, here only: freezing again later (e.g. per snapshot) would also pin every
        # transient garbage cycle alive at that moment in the permanent generation for good. Unfreeze first,
        # so what an earlier session of this process froze (its dropped state) is collectable again.
        gc.unfreeze()
        gc.freeze()
        log.info("replay done", extra={
            "replayed": replayed, "claimed_from_others": claimed, "last_applied_id": self.last_applied_id,
            "seconds": round(time.monotonic() - started, 3),
        })  # fmt: skip

    # ---------------------------------------------------------------------------------- the loop

    async def _consume(self) -> None:
        batch_size = self.settings.read_batch_size
        self._next_snapshot_at = time.monotonic() + self.settings.snapshot_interval_seconds
        next_lag_refresh = 0.0
        while not self._stopping.is_set() and self.lease.held:
            entries = await self.stream.read_new(batch_size, READ_BLOCK_MS)
            if not self.lease.held:
                # read but not applied: the entries stay pending for whoever holds the lease now
                break
            if entries:
                await self._apply_skipped(entries[0][0])
                await self._process_batch(entries)
            else:
                await self._apply_skipped(None)
            if not self.ready and len(entries) < batch_size:
                self.ready = True
                log.info("caught up with the stream: serving", extra={"last_applied_id": self.last_applied_id})
                if self.on_serving_changed:
                    await self.on_serving_changed(True)
            if time.monotonic() >= self._next_snapshot_at and self._snapshot_task is None:
                self._snapshot_task = asyncio.create_task(self._scheduled_snapshot(), name="snapshot")
            if time.monotonic() >= next_lag_refresh:
                await self.stream_figures()
                next_lag_refresh = time.monotonic() + LAG_REFRESH_SECONDS

    async def _apply_skipped(self, next_id: str | None) -> None:
        """Apply (and acknowledge: XACK is per group) the entries after last_applied_id that the group
        delivered to another consumer: an old leader's XREADGROUP > sent before its lease lapsed but run by
        Redis after we took over moves fresh entries into its own pending list, past our '>' cursor, and
        nobody else would ever apply them. `next_id`: the first entry our read got (those before it were
        skipped); None after an empty read (then up to the group's last delivered entry)."""
        if next_id is None:
            delivered = await self.stream.last_delivered_id()
            if entry_key(delivered) <= entry_key(self.last_applied_id):
                return
            upper = delivered
        else:
            last_ms, last_seq = entry_key(self.last_applied_id)
            if entry_key(next_id) == (last_ms, last_seq + 1):
                return  # no id lies between: skip the round trip
            upper = f"({next_id}"
        batch_size = self.settings.read_batch_size
        while entries := await self.stream.range_between(self.last_applied_id, upper, batch_size):
            log.warning("entries delivered to another consumer and never applied: applying them", extra={
                "first_id": entries[0][0], "last_id": entries[-1][0], "entries": len(entries),
            })  # fmt: skip
            await self._process_batch(entries)

    async def _process_batch(self, entries: list[Entry]) -> None:
        acks: list[str] = []
        dead: list[DeadLetter] = []
        for entry_id, fields in entries:
            acks.append(entry_id)
            if fields is None:
                # trimmed after delivery: at or below last_applied_id it was applied (a snapshot holds it);
                # above, it is lost unapplied
                if entry_key(entry_id) > entry_key(self.last_applied_id):
                    self._log_gap(f"entry {entry_id}, after the last applied {self.last_applied_id}, was "
                                  "trimmed before it was applied")
                continue
            if entry_key(entry_id) <= entry_key(self.last_applied_id):
                # applied by replay or before the crash; a malformed one still owes its dead letter
                error = _malformed(fields)
                if error:
                    dead.append(DeadLetter(entry_id, fields, error))
                continue
            error = self._apply(entry_id, fields, live=True)
            if error:
                dead.append(DeadLetter(entry_id, fields, error))
        self.metrics.batch_size.observe(len(entries))
        self.writer.wake()
        await self.stream.ack(acks, dead)
        if dead:
            self.metrics.dead_letters.inc(len(dead))

    def _apply(self, entry_id: str, fields: Fields, *, live: bool) -> str | None:
        """Apply one entry to the state; returns why it is malformed (then nothing was applied)."""
        assert self.state is not None
        command: commands_pb2.Command | None = None
        try:
            command = decode_entry(fields)
            domain_command = translate.command_from_proto(command, self.price_decimals)
        except (CodecError, translate.MalformedCommand) as exc:
            self.last_applied_id = entry_id
            if live:
                log.warning("malformed stream entry: dead-lettered", extra={"entry_id": entry_id, "error": str(exc)})
                if command is not None and command.reply_to:
                    self.hub.send(command.reply_to, translate.invalid_command_reply(
                        str(exc), request_id=command.request_id, stream_id=entry_id))
            return str(exc)
        try:
            outcome = self.state.apply(domain_command, entry_id=entry_id, time_ms=entry_time_ms(entry_id),
                                       idempotency_key=command.idempotency_key)  # fmt: skip
        except Exception as exc:
            # A bug in a handler must not turn one entry into a crash loop (replay would hit it again).
            # Whatever the handler did before raising, replay does identically, so determinism holds.
            self.last_applied_id = entry_id
            log.exception("entry raised inside the domain: dead-lettered", extra={"entry_id": entry_id})
            error = f"engine error: {exc!r}"
            if live and command.reply_to:
                self.hub.send(command.reply_to, translate.invalid_command_reply(
                    error, request_id=command.request_id, stream_id=entry_id,
                    reason=commands_pb2.REJECT_REASON_ENGINE_FAULT))
            return error
        self.last_applied_id = entry_id
        self.commands_applied += 1
        self.metrics.commands_applied.labels(command.WhichOneof("body")).inc()
        for trade in outcome.closed_trades:
            self.writer.add(translate.closed_trade_row(trade))
        if live and outcome.skipped_quotes:
            log.warning("quotes skipped", extra={"entry_id": entry_id, "reasons": list(outcome.skipped_quotes)})
        reply = outcome.reply
        if isinstance(reply, AccountCreated) and not reply.already_existed:
            self.emails.setdefault(reply.account.email.lower(), reply.account.user_id)
        if live and reply is not None and command.reply_to:
            message = translate.reply_to_proto(
                reply, request_id=command.request_id, stream_id=entry_id, state=self.state
            )
            if isinstance(reply, PositionClosed):
                # side effects before replies: the close is reported once its row is committed
                self.writer.send_after_commit(reply.trade.id, command.reply_to, message)
            else:
                self.hub.send(command.reply_to, message)
        return None

    # ------------------------------------------------------------------------------------ snapshots

    async def _scheduled_snapshot(self) -> None:
        try:
            await self.take_snapshot()
        except NotLeader:
            pass
        except Exception:
            log.exception("snapshot failed; the next one is tried at the next interval")
        finally:
            self._next_snapshot_at = time.monotonic() + self.settings.snapshot_interval_seconds
            self._snapshot_task = None

    async def take_snapshot(self) -> SnapshotInfo:
        """Capture the state (on the loop, between entries, so it matches last_applied_id), write it from a
        worker thread, prune old snapshots, and trim the stream below the oldest one kept."""
        async with self._snapshot_lock:
            if not self.leader or self.state is None:
                raise NotLeader()
            started = time.monotonic()
            last_applied_id = self.last_applied_id
            body = {
                "last_applied_id": last_applied_id,
                "state": self.state.snapshot(),
                "pending_trades": list(self.writer.pending.values()),
            }
            accounts = self.state.account_count
            try:
                info, oldest = await asyncio.to_thread(self._write_snapshot, body, last_applied_id, accounts)
            except Exception:
                self.metrics.snapshot_failures.inc()
                raise
            self.last_snapshot = info
            trimmed = await self.stream.trim_below(oldest.last_applied_id) if oldest else 0
            seconds = time.monotonic() - started
            self.metrics.snapshot_duration.observe(seconds)
            log.info("snapshot written", extra={
                "snapshot_id": info.snapshot_id, "accounts": accounts, "size_bytes": info.size_bytes,
                "seconds": round(seconds, 3), "trimmed_entries": trimmed,
            })  # fmt: skip
            return info

    def _write_snapshot(
        self, body: dict[str, Any], last_applied_id: str, accounts: int
    ) -> tuple[SnapshotInfo, SnapshotInfo | None]:
        info = self.snapshots.write(body, last_applied_id=last_applied_id, accounts=accounts)
        return info, self.snapshots.prune()

    def _snapshot_age_seconds(self) -> float:
        if self.last_snapshot is None:
            return -1.0
        return max(0.0, time.time() - self.last_snapshot.created_at_ms / 1000)

    # ----------------------------------------------------------------------------------------- reads

    def serving_state(self) -> TradingState:
        """The state for read RPCs; NotLeader while standby or still replaying."""
        if not self.ready or self.state is None:
            raise NotLeader()
        return self.state

    async def stream_figures(self) -> tuple[int, int]:
        """(lag after last_applied_id, stream length); -1 when Redis does not answer."""
        try:
            lag = await self.stream.lag_after(self.last_applied_id if self.leader else None)
            length = await self.stream.length()
        except RedisError:
            return -1, -1
        self.metrics.stream_lag.set(lag)
        return lag, length


def _malformed(fields: Fields) -> str | None:
    try:
        translate.command_from_proto(decode_entry(fields))
    except (CodecError, translate.MalformedCommand) as exc:
        return str(exc)
    return None
