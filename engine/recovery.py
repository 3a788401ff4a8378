"""Start of a leader session: restore the newest usable snapshot, check that the log is complete after
it, replay the stream from there (answering the entries whose sender may still wait), settle the
group's pending entries, and put the configured rules in force through the log."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from engine import domain, translate
from engine.applier import EntryApplier, price_decimals
from engine.config import EngineSettings
from engine.consumer import Consumer
from engine.event_store import EVENTS
from engine.lease import Lease, LeaseLost
from engine.metrics import EngineMetrics
from engine.refusals import RULES_MISFIT_ADVICE, UNRESTORABLE_ADVICE, RefuseToLead, log_gap
from engine.replies import ReplyHub
from engine.snapshots import NoUsableSnapshot, SnapshotInfo, SnapshotStore
from engine.stream import DeadLetter, Entry, StreamLog, entry_key
from engine.trade_rows import TRADES, kind_of_trade_row
from engine.trades import TradeWriter
from mesh.stream_codec import encode_command

log = logging.getLogger(__name__)


REPLAY_CHUNK = 5_000


class Recovery:
    def __init__(self, settings: EngineSettings, stream: StreamLog, snapshots: SnapshotStore, lease: Lease,
                 metrics: EngineMetrics, hub: ReplyHub, writer: TradeWriter) -> None:  # fmt: skip
        self.settings = settings
        self.rules = settings.rules()
        self.stream = stream
        self.snapshots = snapshots
        self.lease = lease
        self.metrics = metrics
        self.hub = hub
        self.writer = writer

    def _applier(self, state: domain.TradingState, last_applied_id: str) -> EntryApplier:
        # entries are decoded in the price scales of the rules in force, as when they were first applied
        # (the applier re-reads them after each rules entry), never in the configured ones
        return EntryApplier(state, last_applied_id, price_decimals=price_decimals(state.rules), hub=self.hub,
                            writer=self.writer, metrics=self.metrics)  # fmt: skip

    def _restore_body(self, body: dict[str, Any]) -> tuple[domain.TradingState, dict[str, Any]]:
        # the configured rules serve a format-2 snapshot only; newer ones record the rules in force
        state = domain.TradingState.restore(self.rules, body["state"])
        # the pending rows are decoded here too, so a damaged one makes the snapshot unusable (an older
        # one is tried) instead of failing after it was chosen
        pending = [(kind_of_trade_row(row), row) for row in body.get(TRADES.snapshot_key, [])]
        pending += [(EVENTS, EVENTS.from_json(row)) for row in body.get(EVENTS.snapshot_key, [])]
        return state, {**body, "pending_rows": pending}

    async def restore(self) -> tuple[EntryApplier, SnapshotInfo | None]:
        """The state of the newest restorable snapshot (or an empty one when there is none), and that snapshot."""
        started = time.monotonic()
        try:
            loaded = await asyncio.to_thread(self.snapshots.load_newest, self._restore_body)
        except NoUsableSnapshot as exc:
            for snapshot_id, error in exc.failures:
                log.critical("snapshot cannot be restored", extra={"snapshot_id": snapshot_id, "error": error})
            raise RefuseToLead(f"{len(exc.failures)} snapshot(s) exist but none can be restored ({exc}); "
                               "starting from an empty state would lose the accounts in them",
                               UNRESTORABLE_ADVICE) from exc  # fmt: skip
        if loaded is None:
            log.info("no snapshot: starting from an empty state and the whole stream")
            return self._applier(domain.TradingState(self.rules), "0-0"), None
        info, (state, body) = loaded
        applier = self._applier(state, str(body["last_applied_id"]))
        for kind, row in body["pending_rows"]:
            self.writer.add(row, kind)
        self.writer.wake()
        log.info("restored snapshot", extra={
            "snapshot_id": info.snapshot_id, "last_applied_id": applier.last_applied_id,
            "accounts": state.account_count, "pending_trade_rows": self.writer.pending_count(TRADES),
            "pending_event_rows": self.writer.pending_count(EVENTS),
            "seconds": round(time.monotonic() - started, 3),
        })  # fmt: skip
        return applier, info

    async def check_log_complete(self, last_applied_id: str) -> None:
        """The stream must hold every entry after last_applied_id: the snapshot's own entry is still there
        (the engine's XTRIM MINID keeps it), or, without a snapshot, nothing was ever trimmed. A gap (e.g. a
        MAXLEN trim past the snapshot) means entries were lost unapplied: refuse, unless the operator says so."""
        if last_applied_id != "0-0":
            if await self.stream.contains(last_applied_id):
                return
            gap = (f"the snapshot's last applied entry {last_applied_id} is no longer in the stream: "
                   "entries after it were trimmed before they were applied")  # fmt: skip
        else:
            trimmed = await self.stream.trimmed_count()
            if trimmed == 0:
                return
            gap = f"no snapshot, but {trimmed} entries were trimmed from the start of the stream"
        log_gap(gap, accept=self.settings.engine_accept_log_gap, last_applied_id=last_applied_id)

    async def replay(self, applier: EntryApplier, consumer: Consumer,
                     first_snapshot: Callable[[], Awaitable[object]] | None) -> None:  # fmt: skip
        """Everything after the snapshot, then the group's pending entries. `first_snapshot`: when there
        was no snapshot, writes one of the empty state (after the gap check), recording the rules the log
        starts under; without it a restart before the first scheduled snapshot would replay every entry
        under the rules then configured, not those that decided it."""
        started = time.monotonic()
        await self.stream.ensure_group()
        await self.check_log_complete(applier.last_applied_id)
        self.check_configured_rules_fit(applier)
        if first_snapshot is not None:
            try:
                await first_snapshot()
            except Exception:
                log.exception("first snapshot failed; until one is written, a restart replays under its configuration")
        claimed = await self.stream.claim_orphans()
        delivered = await self.stream.last_delivered_id()
        # Replayed entries that may never have been answered get their replies: those the group never
        # delivered (written while no engine read, or during a hand-over) and those delivered but never
        # acknowledged (the previous leader died between reading and XACK, before or after replying).
        # An acknowledged entry was answered before its XACK (replies are offered while the batch is
        # applied). A second copy of a reply is harmless: replay decides exactly as the first run did, so
        # the copy is identical, and the gateway routes replies by request id and drops those of requests
        # it no longer waits on (gateway/engine_client.py `_deliver`).
        unacknowledged = await self.stream.pending_ids()
        replayed, dead = await self._replay_stream(applier, entry_key(delivered), unacknowledged)
        if entry_key(applier.last_applied_id) > entry_key(delivered):
            await self.stream.finish_replay(dead, applier.last_applied_id, self.lease.epoch)
            self.metrics.dead_letters.inc(len(dead))
        while entries := await self.stream.read_own_pending(self.settings.read_batch_size):
            await consumer.process_batch(entries)
        # The restored and replayed state is long-lived and acyclic: keep the cyclic collector off it. Frozen
        # once per leader session, here only: freezing again later (e.g. per snapshot) would also pin every
        # transient garbage cycle alive at that moment in the permanent generation for good. Unfreeze first,
        # so what an earlier session of this process froze (its dropped state) is collectable again.
        gc.unfreeze()
        gc.freeze()
        log.info("replay done", extra={
            "replayed": replayed, "claimed_from_others": claimed, "last_applied_id": applier.last_applied_id,
            "seconds": round(time.monotonic() - started, 3),
        })  # fmt: skip

    async def _replay_stream(self, applier: EntryApplier, delivered_key: tuple[int, int],
                             unacknowledged: set[str]) -> tuple[int, list[DeadLetter]]:  # fmt: skip
        """XRANGE replay in chunks; returns (entries replayed, dead letters owed by undelivered entries)."""
        dead: list[DeadLetter] = []
        replayed = 0
        # Replay only adds long-lived, acyclic objects: the cyclic collector's full passes over the growing
        # heap would cost a third of the replay time and find nothing.
        gc.disable()
        try:
            while entries := await self.stream.range_after(applier.last_applied_id, REPLAY_CHUNK):
                # the chunk's replies go out once the epoch check says this is still the leader
                self.hub.hold()
                try:
                    async with applier.applying:
                        self._replay_chunk(applier, entries, delivered_key, unacknowledged, dead)
                    replayed += len(entries)
                    self.metrics.replayed_entries.inc(len(entries))
                    self.writer.wake()
                    if not self.lease.held:
                        raise LeaseLost()
                    await self.stream.check_epoch(self.lease.epoch, "replay replies")
                except BaseException:
                    self.hub.discard()
                    raise
                self.hub.release()
                # let gRPC calls and the lease keeper run between chunks
                await asyncio.sleep(0)
        finally:
            gc.enable()
        return replayed, dead

    @staticmethod
    def _replay_chunk(applier: EntryApplier, entries: list[Entry], delivered_key: tuple[int, int],
                      unacknowledged: set[str], dead: list[DeadLetter]) -> None:  # fmt: skip
        for entry_id, fields in entries:
            undelivered = entry_key(entry_id) > delivered_key
            error = applier.apply(entry_id, fields or {}, live=False,
                                  answer=undelivered or entry_id in unacknowledged)  # fmt: skip
            # entries the group already delivered get their dead letter on the pending path
            if error and undelivered:
                dead.append(DeadLetter(entry_id, fields, error))

    def check_configured_rules_fit(self, applier: EntryApplier) -> None:
        """Refuse to lead, before anything is replayed (answered, dead-lettered, acknowledged), when the
        restored state cannot take the configured rules: leading would end in that refusal anyway."""
        if applier.state.rules == self.rules:
            return
        misfit = applier.state.rules_misfit(self.rules)
        if misfit is not None:
            raise RefuseToLead(f"the configured rules cannot be put in force: {misfit}", RULES_MISFIT_ADVICE)

    async def put_configured_rules_in_force(self, applier: EntryApplier) -> None:
        """The state decides under the rules it holds (recorded by its snapshot, or by the last rules entry
        replayed). Configured rules that differ are put in force through the log, by a rules entry applied
        like any other, so a later replay decides each entry under the rules in force when it was first
        applied, and an order acknowledged under the old rules is never undone."""
        in_force = applier.state.rules
        if in_force == self.rules:
            return
        misfit = applier.state.rules_misfit(self.rules)
        if misfit is not None:
            raise RefuseToLead(f"the configured rules cannot be put in force: {misfit}", RULES_MISFIT_ADVICE)
        entry_id = await self.stream.append(encode_command(translate.rules_to_proto(self.rules)), self.lease.epoch)
        # refused when applied (e.g. a quote of an asset being removed arrived in between): refuse to lead
        # rather than serve under rules that are not the configured ones
        applier.awaited_rules_entry = entry_id
        log.warning("configured rules differ from those in force: rules entry written", extra={
            "entry_id": entry_id, "in_force": domain.encode_rules(in_force),
            "configured": domain.encode_rules(self.rules),
        })  # fmt: skip
