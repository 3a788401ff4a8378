"""Applying one stream entry to the trading state: the one check of what an entry must carry to be
understood (the same whether it is applied live, replayed, or met again as a pending entry), the call
into the domain, the closed-trade rows it produced, and the reply to its sender. No Redis here: what
reads and acknowledges entries (engine.consumer, engine.recovery) hands them in, so this unit is tested
on its own."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from exness.engine.v1 import commands_pb2

from engine import domain, orders_wire, translate
from engine.event_store import EVENTS, event_row
from engine.metrics import EngineMetrics
from engine.refusals import RULES_MISFIT_ADVICE, RefuseToLead
from engine.replies import ReplyHub
from engine.row_kinds import RowKey
from engine.stream import Fields, entry_time_ms
from engine.trade_rows import ORDERS, order_key, trade_key
from engine.trades import TradeWriter
from mesh.stream_codec import CodecError, decode_entry

log = logging.getLogger(__name__)


def price_decimals(rules: domain.Rules) -> dict[str, int]:
    """Asset -> the price scale entries must state under `rules`."""
    return {symbol: spec.decimal for symbol, spec in rules.assets.items()}


class EntryMalformed(ValueError):
    """A stream entry that cannot be understood: dead-lettered, never applied."""

    def __init__(self, error: str, command: commands_pb2.Command | None) -> None:
        super().__init__(error)
        self.command = command


class EntryApplier:
    """The state of one leader session and the position in the log it reflects (`last_applied_id`)."""

    def __init__(self, state: domain.TradingState, last_applied_id: str, *, price_decimals: dict[str, int],
                 hub: ReplyHub, writer: TradeWriter, metrics: EngineMetrics) -> None:  # fmt: skip
        self.state = state
        self.last_applied_id = last_applied_id
        self.price_decimals = price_decimals
        self.hub = hub
        self.writer = writer
        self.metrics = metrics
        self.commands_applied = 0
        self._applied_counters: dict[str | None, Any] = {}
        # Held while entries are applied (engine.consumer, engine.recovery) and while a snapshot captures the
        # state in slices (engine.lifecycle): nothing is applied between a capture's slices.
        self.applying = asyncio.Lock()
        # the rules entry this session wrote to put the configured rules in force: refused, it ends the session
        self.awaited_rules_entry: str | None = None

    async def capture(self, per_slice: int = domain.CAPTURE_SLICE) -> tuple[domain.StateCapture, str]:
        """The state and the id of the last entry in it, captured in slices with the loop free between
        them (TradingState.capture_in_slices) and no entry applied meanwhile (`applying` is held)."""
        async with self.applying:
            last_applied_id = self.last_applied_id
            steps = self.state.capture_in_slices(per_slice)
            while True:
                try:
                    next(steps)
                except StopIteration as done:
                    return done.value, last_applied_id
                await asyncio.sleep(0)

    def decode(self, fields: Fields) -> tuple[commands_pb2.Command, domain.Command]:
        """The one check of an entry: raises EntryMalformed, carrying the decoded Command when there is one
        (its reply_to gets the refusal)."""
        command: commands_pb2.Command | None = None
        try:
            command = decode_entry(fields)
            return command, translate.command_from_proto(command, self.price_decimals)
        except (CodecError, translate.MalformedCommand) as exc:
            raise EntryMalformed(str(exc), command) from exc

    def malformed(self, fields: Fields) -> str | None:
        try:
            self.decode(fields)
        except EntryMalformed as exc:
            return str(exc)
        return None

    def apply(self, entry_id: str, fields: Fields, *, live: bool, answer: bool) -> str | None:
        """Apply one entry to the state; returns why it is malformed (then nothing was applied). `live`: read
        from the group now (log what is odd); `answer`: the entry's sender may still wait for its reply."""
        try:
            command, domain_command = self.decode(fields)
        except EntryMalformed as exc:
            self.last_applied_id = entry_id
            if live:
                log.warning("malformed stream entry: dead-lettered", extra={"entry_id": entry_id, "error": str(exc)})
            if answer and exc.command is not None and exc.command.reply_to:
                self.hub.send(exc.command.reply_to, translate.invalid_command_reply(
                    str(exc), request_id=exc.command.request_id, stream_id=entry_id))  # fmt: skip
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
            if answer and command.reply_to:
                self.hub.send(command.reply_to, translate.invalid_command_reply(
                    error, request_id=command.request_id, stream_id=entry_id,
                    reason=commands_pb2.REJECT_REASON_ENGINE_FAULT))  # fmt: skip
            return error
        self.last_applied_id = entry_id
        if isinstance(domain_command, domain.ChangeRules):
            self._rules_applied(entry_id, outcome)
        try:
            rows = self._record(entry_id, command, domain_command, outcome, live=live)
            if answer and outcome.reply is not None and command.reply_to:
                self._answer(entry_id, command, outcome.reply, rows)
        except Exception as exc:
            # Applied to the state, but its side effects failed (e.g. a value a reply field cannot hold):
            # escaping, it would leave the entry unacknowledged and replay would hit it again. Replay applies
            # it identically; only the reply and rows after the failure are lost, and the sender is told.
            log.exception("entry applied, but its rows or reply failed: dead-lettered", extra={"entry_id": entry_id})
            error = f"engine error after applying: {exc!r}"
            if answer and command.reply_to:
                self.hub.send(command.reply_to, translate.invalid_command_reply(
                    error, request_id=command.request_id, stream_id=entry_id,
                    reason=commands_pb2.REJECT_REASON_ENGINE_FAULT))  # fmt: skip
            return error
        return None

    def _rules_applied(self, entry_id: str, outcome: domain.Outcome) -> None:
        """Later entries are decoded in the price scales of the rules now in force (unchanged if refused)."""
        self.price_decimals = price_decimals(self.state.rules)
        if entry_id == self.awaited_rules_entry and isinstance(outcome.reply, domain.Rejection):
            raise RefuseToLead(f"the configured rules entry {entry_id} was refused: {outcome.reply.message}",
                               RULES_MISFIT_ADVICE)  # fmt: skip

    def _record(self, entry_id: str, command: commands_pb2.Command, domain_command: domain.Command,
                outcome: domain.Outcome, *, live: bool) -> list[RowKey]:  # fmt: skip
        """Everything an applied entry changes outside the state: trade and event rows (their keys are
        returned), counters."""
        self.commands_applied += 1
        kind = command.WhichOneof("body")
        counter = self._applied_counters.get(kind)
        if counter is None:
            # the labelled child, looked up once per kind (a labels() call per entry cost ~3% of the engine)
            counter = self._applied_counters[kind] = self.metrics.commands_applied.labels(kind)
        counter.inc()
        rows = [self.writer.add(translate.closed_trade_row(trade)) for trade in outcome.closed_trades]
        rows += [self.writer.add(orders_wire.order_history_row(ended), ORDERS) for ended in outcome.finished_orders]
        rows += [self.writer.add(event_row(event), EVENTS) for event in outcome.events]
        if isinstance(domain_command, domain.ChangeRules):
            if isinstance(outcome.reply, domain.Rejection):
                log.error("rules entry refused: the rules in force stay",
                          extra={"entry_id": entry_id, "error": outcome.reply.message})  # fmt: skip
            elif live:
                log.info("rules entry applied: new rules in force", extra={"entry_id": entry_id})
        if live and outcome.skipped_quotes:
            log.warning("quotes skipped", extra={"entry_id": entry_id, "reasons": list(outcome.skipped_quotes)})
        return rows

    def _answer(self, entry_id: str, command: commands_pb2.Command, reply: domain.Reply, rows: list[RowKey]) -> None:
        message = translate.reply_to_proto(reply, request_id=command.request_id, stream_id=entry_id, state=self.state)
        if isinstance(reply, domain.PositionClosed):
            # side effects before replies: the close is reported once its trade row and its events are
            # committed (a retry's remembered close waits for the first one's row if that is still pending)
            self.writer.send_after_commit([trade_key(reply.trade.id), *rows], command.reply_to, message)
        elif isinstance(reply, domain.OrderCancelled):
            # likewise, a cancel once the order's history row and its events are committed
            self.writer.send_after_commit([order_key(reply.order.order.id), *rows], command.reply_to, message)
        else:
            self.hub.send(command.reply_to, message)
