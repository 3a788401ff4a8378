"""Account events for the `/ws/account` sockets of this gateway process.

`EventFeed` holds the process's one `StreamAccountEvents` call (reconnecting with backoff) and routes
each committed event to the sessions of its account. `AccountSession` is one socket: it numbers what it
has sent (`last_seq`) and never sends a sequence number twice or out of order. It starts by reading the
events after the client's `since` from PostgreSQL (ListAccountEvents, through the engine), having
registered for live events first so that none can pass between the read and the stream; live events
that the read already covered are dropped by their number. Whenever the stream (re)connects, or a live
event is not the next number (an event the session never saw), or its inbox overflows (a slow client),
it reads again from `last_seq`. So nothing is lost across a reconnect of the stream, an engine restart
or a hand-over, and the client that reconnects with `since` after a gateway restart resumes exactly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable

import grpc
from exness.engine.v1 import engine_service_pb2, events_pb2

from gateway import metrics
from gateway.engine_client import EngineClient
from gateway.errors import ApiError
from gateway.event_json import event_json

log = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0
HEALTHY_CALL_SECONDS = 10.0
# events read per ListAccountEvents call while catching up
REFILL_PAGE = 500
# live events waiting for one session; beyond that they are dropped and read back from the table
INBOX_CAPACITY = 2_000

SendText = Callable[[str], Awaitable[None]]


class AccountSession:
    def __init__(self, user_id: str, send_text: SendText, engine: EngineClient) -> None:
        self.user_id = user_id
        self._send_text = send_text
        self._engine = engine
        # the last sequence number sent; None until the start position is known
        self.last_seq: int | None = None
        self._inbox: asyncio.Queue[events_pb2.AccountEvent | None] = asyncio.Queue()
        self._refill_wanted = False

    def offer(self, event: events_pb2.AccountEvent) -> None:
        if self._inbox.qsize() >= INBOX_CAPACITY:
            self.refill()
            return
        self._inbox.put_nowait(event)

    def refill(self) -> None:
        """Read the table again from last_seq before the next live event (None in the inbox wakes it)."""
        if not self._refill_wanted:
            self._refill_wanted = True
            self._drop_inbox()
            self._inbox.put_nowait(None)

    def _drop_inbox(self) -> None:
        while not self._inbox.empty():
            self._inbox.get_nowait()

    async def start(self, since: int | None) -> None:
        """Send `SUBSCRIBED` and the events after `since` (none without it: from the last committed one on),
        or `RESYNC` when `since` cannot be resumed. Call after EventFeed.add (live events then queue up).
        Raises ApiError when the engine does not answer."""
        page = await self._engine.list_account_events(self.user_id, since or 0, 1 if since is None else REFILL_PAGE)
        if page.resync:
            await self._resync(page.last_committed_seq)
            return
        self.last_seq = page.last_committed_seq if since is None else since
        await self._send({"type": "SUBSCRIBED", "seq": self.last_seq})
        if since is not None and await self._send_page(page):
            await self._read_table()

    async def _resync(self, last_committed_seq: int) -> None:
        """The events after the client's position are not kept: it reloads through REST, and the socket
        goes on from the last committed event."""
        self.last_seq = last_committed_seq
        await self._send({"type": "RESYNC", "seq": last_committed_seq})

    async def run(self) -> None:
        """Forward live events in order, reading the table whenever one is missing; while the engine does
        not answer, keep trying (the events wait in the table)."""
        backoff = RECONNECT_MIN_SECONDS
        while True:
            event = await self._inbox.get()
            if event is None or self._refill_wanted:
                self._refill_wanted = False
                try:
                    await self._read_table()
                    backoff = RECONNECT_MIN_SECONDS
                except ApiError:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)
                    self.refill()
                continue
            assert self.last_seq is not None
            if event.seq <= self.last_seq:
                continue  # already sent (read from the table)
            if event.seq != self.last_seq + 1:
                self.refill()  # the events in between are committed: the table has them
                continue
            await self._send_event(event)

    async def _read_table(self) -> None:
        while True:
            assert self.last_seq is not None
            page = await self._engine.list_account_events(self.user_id, self.last_seq, REFILL_PAGE)
            if page.resync:
                await self._resync(page.last_committed_seq)
                return
            if not await self._send_page(page):
                return

    async def _send_page(self, page: engine_service_pb2.ListAccountEventsResponse) -> bool:
        """Send the page's events that come next; True when more pages follow."""
        for event in page.events:
            assert self.last_seq is not None
            if event.seq == self.last_seq + 1:
                await self._send_event(event)
        return page.more and bool(page.events)

    async def _send_event(self, event: events_pb2.AccountEvent) -> None:
        await self._send(event_json(event))
        self.last_seq = event.seq
        metrics.ACCOUNT_EVENTS_SENT.inc()

    async def _send(self, message: dict[str, object]) -> None:
        await self._send_text(json.dumps(message, separators=(",", ":")))


class EventFeed:
    """The process's StreamAccountEvents call and the sessions it feeds."""

    def __init__(self, engine: EngineClient, gateway_id: str) -> None:
        self._engine = engine
        self._gateway_id = gateway_id
        self._sessions: dict[str, set[AccountSession]] = {}
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._stream_loop(), name="account-event-stream")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def sessions_of(self, user_id: str) -> int:
        """How many sockets of `user_id` this process feeds."""
        return len(self._sessions.get(user_id, ()))

    def add(self, session: AccountSession) -> None:
        self._sessions.setdefault(session.user_id, set()).add(session)
        metrics.ACCOUNT_SOCKETS.inc()

    def remove(self, session: AccountSession) -> None:
        sessions = self._sessions.get(session.user_id)
        if sessions is not None and session in sessions:
            sessions.discard(session)
            metrics.ACCOUNT_SOCKETS.dec()
            if not sessions:
                del self._sessions[session.user_id]

    def _route(self, events: list[events_pb2.AccountEvent]) -> None:
        for event in events:
            for session in self._sessions.get(event.user_id, ()):
                session.offer(event)

    async def _stream_loop(self) -> None:
        backoff = RECONNECT_MIN_SECONDS
        request = engine_service_pb2.StreamAccountEventsRequest(gateway_id=self._gateway_id)
        while True:
            started = time.monotonic()
            try:
                call = self._engine.stub.StreamAccountEvents(request)
                await call.initial_metadata()
                self.connected = True
                # subscribed again: whatever was committed while the stream was down is in the table
                for sessions in list(self._sessions.values()):
                    for session in sessions:
                        session.refill()
                async for response in call:
                    self._route(list(response.events))
                log.warning("account event stream ended by the engine")
            except grpc.aio.AioRpcError as exc:
                log.warning("account event stream failed", extra={"grpc_code": str(exc.code()),
                                                                  "details": exc.details()})  # fmt: skip
            except Exception:
                log.exception("account event stream broke unexpectedly")
            finally:
                self.connected = False
            metrics.ACCOUNT_EVENT_STREAM_RECONNECTS.inc()
            if time.monotonic() - started > HEALTHY_CALL_SECONDS:
                backoff = RECONNECT_MIN_SECONDS
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)
