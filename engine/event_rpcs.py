"""The account-event RPCs of EngineService (a mixin of engine.servicers.EngineServicer): the stream of
committed events each gateway holds, and the two PostgreSQL reads behind a client's resume and the
statement. Status codes are the ones engine_service.proto names."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from exness.engine.v1 import engine_service_pb2
from sqlalchemy.exc import SQLAlchemyError

from engine.domain import TradingState
from engine.event_store import (
    decode_statement_token,
    encode_statement_token,
    events_after,
    last_committed_seq,
    statement_page,
)
from engine.reads import EngineReads, NotLeader
from engine.rpc_checks import page_cursor, page_limit, require_gateway_id, require_user_id

DEFAULT_EVENTS_LIMIT = 500
MAX_EVENTS_LIMIT = 1_000
DEFAULT_STATEMENT_PAGE = 100
MAX_STATEMENT_PAGE = 500


async def _state(engine: EngineReads, context: grpc.aio.ServicerContext) -> TradingState:
    try:
        return engine.serving_state()
    except NotLeader:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "engine is a standby or still catching up; retry")
        raise


async def _database_down(context: grpc.aio.ServicerContext, exc: Exception) -> None:
    await context.abort(grpc.StatusCode.UNAVAILABLE, f"account events are unavailable: {type(exc).__name__}")


class AccountEventRpcs:
    engine: EngineReads

    async def StreamAccountEvents(
        self, request: engine_service_pb2.StreamAccountEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[engine_service_pb2.StreamAccountEventsResponse]:
        await require_gateway_id(request.gateway_id, context)
        if not self.engine.leader:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "engine is a standby; connect to the leader")
        subscriber = self.engine.event_hub.attach(request.gateway_id)
        try:
            # tells the gateway it is subscribed: from now on no committed event passes it by
            await context.send_initial_metadata(())
            while (batch := await subscriber.next_batch()) is not None:
                yield engine_service_pb2.StreamAccountEventsResponse(events=batch)
            if subscriber.end_status not in (None, grpc.StatusCode.OK):
                await context.abort(subscriber.end_status, subscriber.end_detail)
        finally:
            self.engine.event_hub.detach(subscriber)

    async def ListAccountEvents(
        self, request: engine_service_pb2.ListAccountEventsRequest, context: grpc.aio.ServicerContext
    ) -> engine_service_pb2.ListAccountEventsResponse:
        await require_user_id(request.user_id, context)
        if request.limit > MAX_EVENTS_LIMIT or request.after_seq >= 2**63:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"limit must be 1 .. {MAX_EVENTS_LIMIT}")
        limit = request.limit or DEFAULT_EVENTS_LIMIT
        last = (await _state(self.engine, context)).last_event_seq(request.user_id)
        database = self.engine.trade_store.engine
        try:
            committed = await last_committed_seq(database, request.user_id)
            events = [] if request.after_seq > last else await events_after(
                database, request.user_id, request.after_seq, limit + 1)  # fmt: skip
        except (SQLAlchemyError, OSError) as exc:
            await _database_down(context, exc)
            raise
        # numbers this account never reached (the client's view is of another history), or the events
        # right after after_seq are not kept
        if request.after_seq > last or (events and events[0].seq != request.after_seq + 1):
            return engine_service_pb2.ListAccountEventsResponse(resync=True, last_committed_seq=committed)
        return engine_service_pb2.ListAccountEventsResponse(
            events=events[:limit], more=len(events) > limit, last_committed_seq=committed
        )

    async def ListStatement(
        self, request: engine_service_pb2.ListStatementRequest, context: grpc.aio.ServicerContext
    ) -> engine_service_pb2.ListStatementResponse:
        await require_user_id(request.user_id, context)
        limit = await page_limit(request.page_size, MAX_STATEMENT_PAGE, DEFAULT_STATEMENT_PAGE, context)
        before = await page_cursor(request.page_token, decode_statement_token, context)
        try:
            lines = await statement_page(self.engine.trade_store.engine, request.user_id, limit + 1, before)
        except (SQLAlchemyError, OSError) as exc:
            await _database_down(context, exc)
            raise
        next_token = encode_statement_token(lines[limit - 1].seq) if len(lines) > limit else ""
        return engine_service_pb2.ListStatementResponse(lines=lines[:limit], next_page_token=next_token)
