"""Fan-out of committed account events to the gateways' StreamAccountEvents calls.

The TradeWriter hands every group commit's event rows here (`publish`, never awaiting); each call has a
bounded queue its servicer drains, one message per batch. Nothing is kept for a gateway that is not
attached and nothing is replayed on a reconnect: a gateway reads what it may have missed from PostgreSQL
(ListAccountEvents) and drops duplicates by sequence number. So a subscriber that falls too far behind
is ended rather than buffered without bound, or slowing trading: its gateway reconnects and catches up
from the table."""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
from typing import Any

import grpc
from exness.engine.v1 import events_pb2

from engine.event_store import event_from_row
from engine.metrics import EngineMetrics

log = logging.getLogger(__name__)

# events queued per subscriber before it is ended: several seconds of events at full command rate
QUEUE_CAPACITY = 50_000
# events per StreamAccountEvents message (~300 bytes each: far below gRPC's 4 MB limit)
MAX_BATCH = 1_000


class EventSubscriber:
    """The queue behind one StreamAccountEvents call."""

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self.items: collections.deque[events_pb2.AccountEvent] = collections.deque()
        self._wakeup = asyncio.Event()
        # None = open; otherwise how the call ends
        self.end_status: grpc.StatusCode | None = None
        self.end_detail = ""

    def offer(self, events: list[events_pb2.AccountEvent]) -> bool:
        if len(self.items) + len(events) > QUEUE_CAPACITY:
            return False
        self.items.extend(events)
        self._wakeup.set()
        return True

    def end(self, status: grpc.StatusCode, detail: str) -> None:
        if self.end_status is None:
            self.end_status, self.end_detail = status, detail
        self._wakeup.set()

    async def next_batch(self) -> list[events_pb2.AccountEvent] | None:
        """The queued events (at most MAX_BATCH), removed from the queue; None once the call is ended (what
        is still queued is dropped: the gateway reads it from PostgreSQL after reconnecting)."""
        while True:
            if self.end_status is not None:
                return None
            if self.items:
                count = min(len(self.items), MAX_BATCH)
                return [self.items.popleft() for _ in itertools.repeat(None, count)]
            self._wakeup.clear()
            await self._wakeup.wait()


class EventHub:
    def __init__(self, metrics: EngineMetrics) -> None:
        self.metrics = metrics
        self.subscribers: set[EventSubscriber] = set()

    def attach(self, gateway_id: str) -> EventSubscriber:
        subscriber = EventSubscriber(gateway_id)
        self.subscribers.add(subscriber)
        return subscriber

    def detach(self, subscriber: EventSubscriber) -> None:
        self.subscribers.discard(subscriber)

    def publish(self, rows: list[dict[str, Any]]) -> None:
        """Rows of account_events just committed (TradeWriter.on_commit)."""
        if not self.subscribers:
            return
        events = [event_from_row(row) for row in rows]
        self.metrics.events_published.inc(len(events))
        for subscriber in list(self.subscribers):
            if not subscriber.offer(events):
                log.warning("event subscriber fell behind: its stream is ended",
                            extra={"gateway_id": subscriber.gateway_id, "queued": len(subscriber.items)})  # fmt: skip
                self.metrics.event_subscribers_dropped.inc()
                subscriber.end(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many events queued: reconnect and catch up")
                self.detach(subscriber)

    def end_all(self, status: grpc.StatusCode, detail: str) -> None:
        for subscriber in list(self.subscribers):
            subscriber.end(status, detail)
        self.subscribers.clear()
