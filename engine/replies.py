"""Routing of replies to gateways: one bounded queue per gateway id, drained by that gateway's
StreamReplies call, which sends what is queued in one message (the replies of one applied batch). The
consumer loop only ever offers (never awaits), so a slow or absent gateway can never stall trading: its
replies are dropped and counted instead.

A reply for a gateway that is not attached is parked for a while (bounded in time and count): after an
engine restart or a hand-over the gateways reconnect a moment after the new leader starts replying (its
replay answers what the old leader left unanswered), and the replies of requests they still wait on
must reach them then.

Fencing (engine.fencing): while a batch is applied its replies are held (`hold`), and go out only once the
batch's acknowledgement passed the epoch check (`release`); a stale leader's are dropped (`discard`). An
acknowledgement that failed in transit is retried meanwhile (engine.consumer), the replies still held."""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import Callable

import grpc
from exness.engine.v1 import commands_pb2

from engine.metrics import EngineMetrics

log = logging.getLogger(__name__)

# Per gateway: enough for bursts of several seconds at full command rate; beyond that the gateway is stuck.
QUEUE_CAPACITY = 10_000
# Replies per StreamReplies message: ~100 KB, far below gRPC's 4 MB message limit
MAX_BATCH = 500
# A parked reply outlives any gateway's wait for it (ENGINE_REPLY_TIMEOUT_MS, 5 s by default) with room
# for its reconnect back-off; older ones can only be orphans.
PARK_SECONDS = 30.0
# gateway ids are per gateway process (GATEWAY_WORKERS per pod): gateway pods x workers must stay below
# this, or a hand-over drops the surplus gateways' replies (counted as gateway_absent)
MAX_PARKED_GATEWAYS = 512
# Replies handed to gRPC are kept this long: a call that breaks while they still sit in its send buffers
# never delivered them, so a reconnect with the same id gets them again (the gateway ignores replies for
# requests it no longer waits on, so a reply that did arrive is harmless twice). Covers the gateway's
# reply timeout (ENGINE_REPLY_TIMEOUT_MS, 5 s by default) with room for its reconnect.
RESEND_SECONDS = 10.0


class GatewayStream:
    """The queue behind one StreamReplies call."""

    def __init__(self, gateway_id: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.gateway_id = gateway_id
        self.items: collections.deque[commands_pb2.Reply] = collections.deque()
        # (when handed to gRPC, reply): not known to have reached the gateway, see RESEND_SECONDS
        self.recent: collections.deque[tuple[float, commands_pb2.Reply]] = collections.deque(maxlen=QUEUE_CAPACITY)
        self._clock = clock
        self._wakeup = asyncio.Event()
        # None = open; otherwise how the call ends (OK when replaced by a reconnect)
        self.end_status: grpc.StatusCode | None = None
        self.end_detail = ""

    def offer(self, reply: commands_pb2.Reply) -> bool:
        if len(self.items) >= QUEUE_CAPACITY:
            return False
        self.items.append(reply)
        self._wakeup.set()
        return True

    def end(self, status: grpc.StatusCode, detail: str) -> None:
        self.end_status, self.end_detail = status, detail
        self._wakeup.set()

    async def next_batch(self) -> list[commands_pb2.Reply] | None:
        """Every queued reply (at most MAX_BATCH), left queued until `sent` says they went out: a call that
        breaks mid-send leaves them for the gateway's reconnect (a reply sent twice is ignored by the
        gateway, one never sent would be lost). The consumer queues a whole applied batch without
        yielding, so this is that batch's replies, in one StreamReplies message. None once the stream has
        been ended and drained."""
        while True:
            if self.items:
                return list(itertools.islice(self.items, MAX_BATCH))
            if self.end_status is not None:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    def sent(self, count: int) -> None:
        """The first `count` replies of `next_batch` went out (fewer may be left: a reconnect took them)."""
        items, recent, now = self.items, self.recent, self._clock()
        for _ in range(min(count, len(items))):
            recent.append((now, items.popleft()))

    async def next(self) -> commands_pb2.Reply | None:
        """The next reply, or None once the stream has been ended and drained (replies queued before a
        shutdown still go out while the server's grace period lets the call finish)."""
        while True:
            if self.items:
                reply = self.items.popleft()
                self.recent.append((self._clock(), reply))
                return reply
            if self.end_status is not None:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    def take_undelivered(self) -> list[commands_pb2.Reply]:
        """What this call may not have delivered, oldest first, and empties it: the replies handed to gRPC
        within RESEND_SECONDS, then those still queued."""
        horizon = self._clock() - RESEND_SECONDS
        replies = [reply for at, reply in self.recent if at >= horizon]
        replies.extend(self.items)
        self.recent.clear()
        self.items.clear()
        return replies


class ReplyHub:
    def __init__(self, metrics: EngineMetrics, clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self.streams: dict[str, GatewayStream] = {}
        # gateway id -> (replies waiting for it to attach, when they expire), see the module docstring
        self.parked: dict[str, tuple[GatewayStream, float]] = {}
        self._clock = clock
        # replies of the batch being applied, held until its fenced acknowledgement; None when not holding
        self._held: list[tuple[str, commands_pb2.Reply]] | None = None

    def open(self, gateway_id: str) -> GatewayStream:
        """A gateway (re)connects: a previous call with the same id is ended and its undelivered replies
        move to the new call, so a reconnect loses nothing that was still queued; so do its parked ones."""
        stream = GatewayStream(gateway_id, self._clock)
        self._expire_parked()
        parked = self.parked.pop(gateway_id, None)
        if parked is not None:
            stream.items.extend(parked[0].items)
            log.info(
                "gateway connected; parked replies handed over",
                extra={"gateway_id": gateway_id, "replies": len(stream.items)},
            )
        previous = self.streams.get(gateway_id)
        if previous is not None:
            stream.items.extend(previous.take_undelivered())
            previous.end(grpc.StatusCode.OK, "replaced by a newer StreamReplies call with the same gateway_id")
            log.info("gateway reconnected; older reply stream ended", extra={"gateway_id": gateway_id})
        else:
            log.info("gateway connected", extra={"gateway_id": gateway_id})
        self.streams[gateway_id] = stream
        self.metrics.gateways.set(len(self.streams))
        return stream

    def detach(self, stream: GatewayStream) -> None:
        if self.streams.get(stream.gateway_id) is stream:
            del self.streams[stream.gateway_id]
            self.metrics.gateways.set(len(self.streams))
            log.info("gateway disconnected", extra={"gateway_id": stream.gateway_id, "undelivered": len(stream.items)})
            # the call went away with replies queued or maybe undelivered: they wait for the reconnect
            undelivered = stream.take_undelivered()
            parked = self._park(stream.gateway_id) if undelivered else None
            if parked is not None:
                parked.items.extend(undelivered)
            else:
                self.metrics.replies_dropped.labels("gateway_absent").inc(len(undelivered))

    def hold(self) -> None:
        """Hold every reply sent from now on until `release` or `discard`."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Send the held replies (their batch's side effects passed the epoch check)."""
        held, self._held = self._held or [], None
        for gateway_id, reply in held:
            self._deliver(gateway_id, reply)

    def discard(self) -> int:
        """Drop the held replies (a stale leader's, or a batch that failed): the next leader owes them."""
        held, self._held = self._held or [], None
        if held:
            self.metrics.replies_dropped.labels("fenced").inc(len(held))
        return len(held)

    def send(self, gateway_id: str, reply: commands_pb2.Reply) -> bool:
        """Queue a reply (or hold it, see `hold`); False when it was dropped."""
        if self._held is not None:
            self._held.append((gateway_id, reply))
            return True
        return self._deliver(gateway_id, reply)

    def _deliver(self, gateway_id: str, reply: commands_pb2.Reply) -> bool:
        stream = self.streams.get(gateway_id) or self._park(gateway_id)
        if stream is None:
            self.metrics.replies_dropped.labels("gateway_absent").inc()
            return False
        if not stream.offer(reply):
            self.metrics.replies_dropped.labels("queue_full").inc()
            log.warning("reply queue full; reply dropped", extra={"gateway_id": gateway_id})
            return False
        self.metrics.replies_sent.inc()
        return True

    def _park(self, gateway_id: str) -> GatewayStream | None:
        """The parking queue of an absent gateway (its expiry pushed back), or None when too many are parked."""
        self._expire_parked()
        now = self._clock()
        parked = self.parked.get(gateway_id)
        if parked is None:
            if len(self.parked) >= MAX_PARKED_GATEWAYS:
                return None
            parked = (GatewayStream(gateway_id, self._clock), now)
        self.parked[gateway_id] = (parked[0], now + PARK_SECONDS)
        return parked[0]

    def _expire_parked(self) -> None:
        now = self._clock()
        for gateway_id, (stream, expires_at) in list(self.parked.items()):
            if expires_at <= now:
                del self.parked[gateway_id]
                self.metrics.replies_dropped.labels("gateway_absent").inc(len(stream.items))

    def end_all(self, status: grpc.StatusCode, detail: str) -> None:
        self.discard()
        for stream in list(self.streams.values()):
            stream.end(status, detail)
        self.streams.clear()
        # the state that made the parked replies is dropped too; the next leader answers what is owed
        self.parked.clear()
        self.metrics.gateways.set(0)

    @property
    def gateway_ids(self) -> list[str]:
        return sorted(self.streams)
