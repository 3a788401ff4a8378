"""gRPC servicers: EngineService for gateways (reply streams, reads from memory, closed trades from
PostgreSQL) and EngineAdminService for operators. Status codes are the ones the proto comments name."""

from __future__ import annotations

import base64
import binascii
import bisect
import operator
import time
from collections.abc import AsyncIterator

import grpc
from exness.engine.v1 import admin_service_pb2, admin_service_pb2_grpc, engine_service_pb2, engine_service_pb2_grpc
from sqlalchemy.exc import SQLAlchemyError

from engine import orders_wire, translate
from engine.domain import TradingState
from engine.event_rpcs import AccountEventRpcs
from engine.reads import EngineReads, NotLeader
from engine.rpc_checks import page_cursor, page_limit, require_at_most, require_gateway_id, require_user_id
from engine.trade_rows import ORDERS, TRADES, InvalidPageToken, decode_page_token, encode_page_token, order_key
from mesh.grpc_server import ServiceBinding

DEFAULT_PAGE_SIZE = 50
DEFAULT_POSITIONS_PAGE_SIZE = 100
# bounds the loop time of one ListPositions call (each position is valued and encoded on the loop)
MAX_PAGE_SIZE = 500
_sequence = operator.attrgetter("sequence")


def encode_position_token(sequence: int) -> str:
    return base64.urlsafe_b64encode(f"p:{sequence}".encode()).decode()


def decode_position_token(token: str) -> int:
    """The opening sequence of the last position of the previous page."""
    kind = ""
    try:
        kind, _, sequence_text = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        sequence = int(sequence_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        sequence = -1
    if kind != "p" or not 0 <= sequence < 2**63:
        raise InvalidPageToken(f"page_token {token[:40]!r} is not a token this service issued")
    return sequence


async def _serving_state(engine: EngineReads, context: grpc.aio.ServicerContext) -> TradingState:
    try:
        return engine.serving_state()
    except NotLeader:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "engine is a standby or still catching up; retry")
        raise


# the generated *_pb2_grpc modules carry no type information, hence the ignores on these two bases
class EngineServicer(AccountEventRpcs, engine_service_pb2_grpc.EngineServiceServicer):  # type: ignore[misc]
    def __init__(self, engine: EngineReads) -> None:
        self.engine = engine

    async def StreamReplies(
        self, request: engine_service_pb2.StreamRepliesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[engine_service_pb2.StreamRepliesResponse]:
        await require_gateway_id(request.gateway_id, context)
        if not self.engine.leader:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "engine is a standby; connect to the leader")
        stream = self.engine.hub.open(request.gateway_id)
        try:
            # tells the gateway its stream is registered before any reply exists
            await context.send_initial_metadata(())
            if request.accepts_batches:
                while (batch := await stream.next_batch()) is not None:
                    yield engine_service_pb2.StreamRepliesResponse(replies=batch)
                    stream.sent(len(batch))
            else:
                # a gateway from before batching reads only `reply`: one reply per message
                while (reply := await stream.next()) is not None:
                    yield engine_service_pb2.StreamRepliesResponse(reply=reply)
            if stream.end_status not in (None, grpc.StatusCode.OK):
                await context.abort(stream.end_status, stream.end_detail)
        finally:
            self.engine.hub.detach(stream)

    async def GetAccount(
        self, request: engine_service_pb2.GetAccountRequest, context: grpc.aio.ServicerContext
    ) -> engine_service_pb2.GetAccountResponse:
        await require_user_id(request.user_id, context)
        state = await _serving_state(self.engine, context)
        account = state.account(request.user_id)
        summary = state.account_summary(request.user_id)
        if account is None or summary is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"user {request.user_id} has no trading account")
        assert account is not None and summary is not None
        return engine_service_pb2.GetAccountResponse(
            account=translate.account_to_proto(account),
            used_margin_cents=summary.used_margin_cents,
            unrealized_pnl_cents=summary.unrealized_pnl_cents,
            equity_cents=summary.equity_cents,
            open_positions=summary.open_positions,
            reserved_margin_cents=summary.reserved_margin_cents,
            pending_orders=summary.pending_orders,
        )

    async def ListPositions(
        self, request: engine_service_pb2.ListPositionsRequest, context: grpc.aio.ServicerContext
    ) -> engine_service_pb2.ListPositionsResponse:
        await require_user_id(request.user_id, context)
        state = await _serving_state(self.engine, context)
        if state.account(request.user_id) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"user {request.user_id} has no trading account")
        limit = await page_limit(request.page_size, MAX_PAGE_SIZE, DEFAULT_POSITIONS_PAGE_SIZE, context)
        cursor = await page_cursor(request.page_token, decode_position_token, context)
        after = -1 if cursor is None else cursor
        # Opening order is sequence order, so the page starts by bisection; only the page is valued and
        # encoded, whatever the account holds (the tuple copy is one C-level pass)
        positions = state.positions_of(request.user_id)
        start = bisect.bisect_right(positions, after, key=_sequence)
        page = positions[start : start + limit]
        views = []
        for position in page:
            valuation = state.valuation(position)
            views.append(engine_service_pb2.PositionView(
                position=translate.position_to_proto(position),
                current_price=valuation.closing_price,
                unrealized_pnl_cents=valuation.unrealized_pnl_cents,
            ))  # fmt: skip
        more = start + limit < len(positions)
        return engine_service_pb2.ListPositionsResponse(
            positions=views, next_page_token=encode_position_token(page[-1].sequence) if more else ""
        )

    async def ListClosedTrades(
        self, request: engine_service_pb2.ListClosedTradesRequest, context: grpc.aio.ServicerContext
    ) -> engine_service_pb2.ListClosedTradesResponse:
        await require_user_id(request.user_id, context)
        limit = await page_limit(request.page_size, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, context)
        after = await page_cursor(request.page_token, decode_page_token, context)
        try:
            rows = await self.engine.trade_store.page(request.user_id, limit + 1, after)
        except (SQLAlchemyError, OSError) as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"closed trades are unavailable: {type(exc).__name__}")
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = encode_page_token(rows[-1]["closed_at_ms"], rows[-1]["id"])
        return engine_service_pb2.ListClosedTradesResponse(
            trades=[translate.closed_trade_from_row(row) for row in rows], next_page_token=next_token
        )

    async def ListOrders(
        self, request: engine_service_pb2.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> engine_service_pb2.ListOrdersResponse:
        await require_user_id(request.user_id, context)
        state = await _serving_state(self.engine, context)
        if state.account(request.user_id) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"user {request.user_id} has no trading account")
        # bounded by MAX_PENDING_ORDERS_PER_ACCOUNT: one page
        orders = state.pending_orders_of(request.user_id)
        return engine_service_pb2.ListOrdersResponse(orders=[orders_wire.order_to_proto(o) for o in orders])

    async def ListOrderHistory(
        self, request: engine_service_pb2.ListOrderHistoryRequest, context: grpc.aio.ServicerContext
    ) -> engine_service_pb2.ListOrderHistoryResponse:
        await require_user_id(request.user_id, context)
        if request.order_id:
            return await self._one_ended_order(request.user_id, request.order_id, context)
        limit = await page_limit(request.page_size, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, context)
        after = await page_cursor(request.page_token, decode_page_token, context)
        try:
            rows = await self.engine.trade_store.order_page(request.user_id, limit + 1, after)
        except (SQLAlchemyError, OSError) as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"order history is unavailable: {type(exc).__name__}")
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = encode_page_token(rows[-1]["finished_at_ms"], rows[-1]["id"])
        return engine_service_pb2.ListOrderHistoryResponse(
            orders=[orders_wire.order_record_from_row(row) for row in rows], next_page_token=next_token
        )

    async def _one_ended_order(
        self, user_id: str, order_id: str, context: grpc.aio.ServicerContext
    ) -> engine_service_pb2.ListOrderHistoryResponse:
        """The user's ended order `order_id`, committed or still waiting for its commit; none if unknown."""
        held = self.engine.writer.pending.get(order_key(order_id))
        row = None if held is None else held[1]
        if row is None:
            try:
                rows = await self.engine.trade_store.order_rows(user_id, order_id)
            except (SQLAlchemyError, OSError) as exc:
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"order history is unavailable: {type(exc).__name__}")
            row = rows[0] if rows else None
        if row is None or not orders_wire.is_order_row(row) or row["user_id"] != user_id:
            return engine_service_pb2.ListOrderHistoryResponse()
        return engine_service_pb2.ListOrderHistoryResponse(orders=[orders_wire.order_record_from_row(row)])

    async def GetPrices(
        self, request: engine_service_pb2.GetPricesRequest, context: grpc.aio.ServicerContext
    ) -> engine_service_pb2.GetPricesResponse:
        state = await _serving_state(self.engine, context)
        quotes = (state.quote(symbol) for symbol in sorted(state.rules.assets))
        return engine_service_pb2.GetPricesResponse(prices=[translate.price_view(q) for q in quotes if q is not None])


class AdminServicer(admin_service_pb2_grpc.EngineAdminServiceServicer):  # type: ignore[misc]
    def __init__(self, engine: EngineReads) -> None:
        self.engine = engine

    async def GetStatus(
        self, request: admin_service_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> admin_service_pb2.GetStatusResponse:
        engine = self.engine
        lag, length = await engine.stream_figures()
        snapshot = engine.last_snapshot
        state = engine.state if engine.leader else None
        # the newest snapshot's hash: hashing the live state here would serialise it on the loop
        hashed = snapshot if state is not None and snapshot is not None and snapshot.state_hash else None
        return admin_service_pb2.GetStatusResponse(
            instance_name=engine.instance_name,
            leader=engine.leader,
            last_applied_id=engine.last_applied_id if engine.leader else "",
            stream_lag=lag,
            stream_length=length,
            last_snapshot_id=snapshot.snapshot_id if snapshot else "",
            snapshot_age_ms=int(time.time() * 1000) - snapshot.created_at_ms if snapshot else 0,
            accounts=state.account_count if state else 0,
            open_positions=state.open_position_count if state else 0,
            pending_trade_rows=engine.writer.pending_count(TRADES) + engine.writer.pending_count(ORDERS),
            state_hash=hashed.state_hash if hashed else "",
            state_hash_id=hashed.last_applied_id if hashed else "",
            gateways=engine.hub.gateway_ids,
            commands_applied=engine.commands_applied,
        )

    async def TakeSnapshot(
        self, request: admin_service_pb2.TakeSnapshotRequest, context: grpc.aio.ServicerContext
    ) -> admin_service_pb2.TakeSnapshotResponse:
        started = time.monotonic()
        try:
            info = await self.engine.take_snapshot()
        except NotLeader:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "only the leader takes snapshots")
            raise
        except Exception as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"snapshot failed: {exc!r}"[:500])
            raise
        return admin_service_pb2.TakeSnapshotResponse(
            snapshot_id=info.snapshot_id, last_applied_id=info.last_applied_id,
            duration_ms=int((time.monotonic() - started) * 1000), size_bytes=info.size_bytes, accounts=info.accounts,
            state_hash=info.state_hash,
        )  # fmt: skip

    async def LookupAccount(
        self, request: admin_service_pb2.LookupAccountRequest, context: grpc.aio.ServicerContext
    ) -> admin_service_pb2.LookupAccountResponse:
        key = request.WhichOneof("key")
        if key is None or not getattr(request, key):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "give user_id or email")
        await require_at_most("user_id", request.user_id, translate.MAX_USER_ID_LENGTH, context)
        await require_at_most("email", request.email, translate.MAX_EMAIL_LENGTH, context)
        state = await _serving_state(self.engine, context)
        user_id = request.user_id if key == "user_id" else state.user_id_for_email(request.email.strip()) or ""
        account = state.account(user_id) if user_id else None
        if account is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no account with {key} {getattr(request, key)!r}")
        assert account is not None
        return admin_service_pb2.LookupAccountResponse(
            account=translate.account_to_proto(account),
            positions=[translate.position_to_proto(p) for p in state.positions_of(user_id)],
        )


def bindings(engine: EngineReads) -> list[ServiceBinding]:
    engine_servicer, admin_servicer = EngineServicer(engine), AdminServicer(engine)
    return [
        ServiceBinding(
            engine_service_pb2.DESCRIPTOR.services_by_name["EngineService"].full_name,
            lambda server: engine_service_pb2_grpc.add_EngineServiceServicer_to_server(engine_servicer, server),
        ),
        ServiceBinding(
            admin_service_pb2.DESCRIPTOR.services_by_name["EngineAdminService"].full_name,
            lambda server: admin_service_pb2_grpc.add_EngineAdminServiceServicer_to_server(admin_servicer, server),
        ),
    ]
