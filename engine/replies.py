"""Routing of replies to gateways: one bounded queue per gateway id, drained by that gateway's
StreamReplies call. The consumer loop only ever offers (never awaits), so a slow or absent gateway can
never stall trading: its replies are dropped and counted instead."""

from __future__ import annotations

import asyncio
import collections
import logging

import grpc
from exness.engine.v1 import commands_pb2

from engine.metrics import EngineMetrics

log = logging.getLogger(__name__)

# Per gateway: enough for bursts of several seconds at full command rate; beyond that the gateway is stuck.
QUEUE_CAPACITY = 10_000


class GatewayStream:
    """The queue behind one StreamReplies call."""

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self.items: collections.deque[commands_pb2.Reply] = collections.deque()
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

    async def next(self) -> commands_pb2.Reply | None:
        """The next reply, or None once the stream has been ended and drained (replies queued before a
        shutdown still go out while the server's grace period lets the call finish)."""
        while True:
            if self.items:
                return self.items.popleft()
            if self.end_status is not None:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()


class ReplyHub:
    def __init__(self, metrics: EngineMetrics) -> None:
        self.metrics = metrics
        self.streams: dict[str, GatewayStream] = {}

    def open(self, gateway_id: str) -> GatewayStream:
        """A gateway (re)connects: a previous call with the same id is ended and its undelivered replies
        move to the new call, so a reconnect loses nothing that was still queued."""
        stream = GatewayStream(gateway_id)
        previous = self.streams.get(gateway_id)
        if previous is not None:
            stream.items.extend(previous.items)
            previous.items.clear()
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
            log.info("gateway disconnected", extra={"gateway_id": stream.gateway_id})

    def send(self, gateway_id: str, reply: commands_pb2.Reply) -> bool:
        stream = self.streams.get(gateway_id)
        if stream is None:
            self.metrics.replies_dropped.labels("gateway_absent").inc()
            return False
        if not stream.offer(reply):
            self.metrics.replies_dropped.labels("queue_full").inc()
            log.warning("reply queue full; reply dropped", extra={"gateway_id": gateway_id})
            return False
        self.metrics.replies_sent.inc()
        return True

    def end_all(self, status: grpc.StatusCode, detail: str) -> None:
        for stream in list(self.streams.values()):
            stream.end(status, detail)
        self.streams.clear()
        self.metrics.gateways.set(0)

    @property
    def gateway_ids(self) -> list[str]:
        return sorted(self.streams)
