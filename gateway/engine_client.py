"""The gateway's link to the engine, one method per engine operation (`create_account`, `open_position`,
`close_position`, `amend_position`, `get_account`, `list_positions`, `list_closed_trades`, `get_prices`,
`list_account_events`, `list_statement`), so
routes never touch gRPC stubs or reply unions. Writes: a `Command` is XADDed to the Redis stream and its `Reply` comes
back on this instance's single long-lived `EngineService.StreamReplies` call, matched by request id.
Reads: gRPC unary calls. Engine failures and rejections leave here as `ApiError`s (see gateway.errors)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
import redis.asyncio as aioredis
from exness.common.v1 import trading_pb2
from exness.engine.v1 import commands_pb2, engine_service_pb2, engine_service_pb2_grpc
from redis.exceptions import RedisError

from gateway import metrics
from gateway.admission import Admission, LoopLagProbe
from gateway.errors import (
    ApiError,
    engine_timeout,
    engine_unavailable,
    gateway_stopping,
    grpc_error,
    rejection_error,
)
from gateway.in_flight import SharedInFlight
from gateway.stream_writer import StreamWriter, xadd_never_sent
from mesh.grpc_channel import insecure_channel
from mesh.stream_codec import encode_command

log = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0
# a call that stayed up this long was healthy: the next failure starts the backoff from the bottom
HEALTHY_CALL_SECONDS = 10.0
# Commands awaiting a reply, at most (GATEWAY_MAX_IN_FLIGHT sets it for the service, across the platform):
# the engine queues at most 10,000 replies per gateway and drops the rest, so the bound must stay well
# below that.
MAX_IN_FLIGHT = 5_000

ResponseT = TypeVar("ResponseT")


class EngineClient:
    def __init__(
        self,
        address: str,
        gateway_id: str,
        redis: aioredis.Redis,
        stream_key: str,
        reply_timeout: float,
        max_in_flight: int = MAX_IN_FLIGHT,
        max_loop_lag: float = 0.0,
        in_flight_key: str | None = None,
    ) -> None:
        """`in_flight_key`: the Redis hash where the platform's gateways share their in-flight counts
        (gateway.in_flight); without it the bound is this instance's alone."""
        self.gateway_id = gateway_id
        self._probe = LoopLagProbe() if max_loop_lag > 0 else None
        self._shared = (
            SharedInFlight(redis, in_flight_key, gateway_id, lambda: len(self._pending))
            if in_flight_key and max_in_flight
            else None
        )
        self.admission = Admission(max_in_flight, max_loop_lag, self._probe, self._shared)
        self.reply_timeout = reply_timeout
        self._writer = StreamWriter(redis, stream_key)
        self._channel = insecure_channel(address)
        self.stub = engine_service_pb2_grpc.EngineServiceStub(self._channel)
        self._pending: dict[str, asyncio.Future[commands_pb2.Reply]] = {}
        self._call: grpc.aio.UnaryStreamCall | None = None
        # the engine has registered the current call (it sent the call's initial metadata)
        self._registered = False
        self._loop_task: asyncio.Task[None] | None = None

    # ---- lifecycle

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._reply_loop(), name="engine-reply-stream")
        if self._probe is not None:
            self._probe.start()
        if self._shared is not None:
            self._shared.start()
        metrics.ENGINE_IN_FLIGHT.set_function(lambda: len(self._pending))

    async def close(self) -> None:
        if self._probe is not None:
            await self._probe.close()
        if self._shared is not None:
            await self._shared.close()
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        # a request still waiting was written to the stream: the engine may execute it after we stop, so
        # its outcome is unknown (504, retry with the Idempotency-Key), never a cancellation (a 500)
        for request_id, future in self._pending.items():
            if not future.done():
                future.set_exception(gateway_stopping(request_id))
        await self._channel.close()

    @property
    def ready(self) -> bool:
        """The engine channel is READY and the engine has registered our reply stream: a write now can
        get its reply."""
        call = self._call
        return (
            call is not None
            and self._registered
            and not call.done()
            and self._channel.get_state(try_to_connect=True) == grpc.ChannelConnectivity.READY
        )

    async def _reply_loop(self) -> None:
        backoff = RECONNECT_MIN_SECONDS
        # accepts_batches: this gateway reads several replies per message (`replies`) as well as one
        request = engine_service_pb2.StreamRepliesRequest(gateway_id=self.gateway_id, accepts_batches=True)
        while True:
            started = time.monotonic()
            try:
                await self._channel.channel_ready()
                self._call = call = self.stub.StreamReplies(request)
                # the engine sends the call's initial metadata once it has registered the stream (before
                # any reply exists): only from then on does a command's reply have somewhere to go
                await call.initial_metadata()
                if not call.done():
                    self._registered = True
                    metrics.REPLY_STREAM_UP.set(1)
                    log.info("reply stream registered", extra={"gateway_id": self.gateway_id})
                async for response in call:
                    # an engine sends one `reply` (older ones) or a batch of `replies`
                    if response.HasField("reply"):
                        self._deliver(response.reply)
                    for reply in response.replies:
                        self._deliver(reply)
                log.warning("reply stream ended by the engine")
            except grpc.aio.AioRpcError as exc:
                log.warning("reply stream failed", extra={"grpc_code": str(exc.code()), "details": exc.details()})
            except Exception:
                # never let the one reply stream die for good: log it and reconnect like any other failure
                log.exception("reply stream broke unexpectedly")
            finally:
                self._call = None
                self._registered = False
                metrics.REPLY_STREAM_UP.set(0)
            metrics.REPLY_STREAM_RECONNECTS.inc()
            if time.monotonic() - started > HEALTHY_CALL_SECONDS:
                backoff = RECONNECT_MIN_SECONDS
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)

    def _deliver(self, reply: commands_pb2.Reply) -> None:
        future = self._pending.get(reply.request_id)
        if future is None or future.done():
            # its request already timed out (504); a retry with the same Idempotency-Key gets this outcome
            metrics.ENGINE_REPLIES.labels(outcome="orphan").inc()
            log.info("reply without a waiting request", extra={"request_id": reply.request_id})
            return
        future.set_result(reply)

    # ---- writes

    async def submit(self, command: commands_pb2.Command) -> commands_pb2.Reply:
        """XADD `command` (request id and reply_to filled in) and wait for its reply.
        503 when the reply stream is down or admission refuses it (too many commands waiting across the
        platform, this process's loop running late: gateway.admission); nothing is sent then, so nothing
        runs later unseen. 504 when the engine does not answer in time."""
        if not self.ready:
            raise engine_unavailable("no reply stream to the engine")
        self.admission.check(len(self._pending))
        request_id = command.request_id or str(uuid.uuid4())
        command.request_id = request_id
        command.reply_to = self.gateway_id
        future: asyncio.Future[commands_pb2.Reply] = asyncio.get_running_loop().create_future()
        # registered before XADD: a fast reply must find its waiter
        self._pending[request_id] = future
        started = time.perf_counter()
        try:
            try:
                await self._writer.xadd(encode_command(command))
            except RedisError as exc:
                log.warning("XADD failed", extra={"error": str(exc), "request_id": request_id})
                if xadd_never_sent(exc):
                    raise ApiError(
                        503,
                        "QUEUE_UNAVAILABLE",
                        "the command queue (Redis) is unavailable; the request was not sent and not executed",
                        headers={"Retry-After": "1"},
                    ) from None
                # the command may have reached the stream (the connection broke or timed out after the
                # write): its outcome is unknown, so wait for a reply as usual and answer 504 if none
                # comes, telling the client to retry with its Idempotency-Key, never "not executed"
            try:
                reply = await asyncio.wait_for(future, self.reply_timeout)
            except TimeoutError:
                metrics.ENGINE_REPLIES.labels(outcome="timeout").inc()
                log.warning("engine reply timed out", extra={"request_id": request_id})
                raise engine_timeout(request_id, self.reply_timeout) from None
        finally:
            self._pending.pop(request_id, None)
        metrics.ENGINE_REPLIES.labels(outcome=reply.WhichOneof("result") or "empty").inc()
        metrics.ENGINE_REPLY_SECONDS.observe(time.perf_counter() - started)
        return reply

    async def _write(self, command: commands_pb2.Command, result: str) -> commands_pb2.Reply:
        """`submit`, expecting the reply's `result` field: a rejection becomes its ApiError, any other
        outcome is the engine misbehaving (502)."""
        reply = await self.submit(command)
        outcome = reply.WhichOneof("result")
        if outcome == "rejection":
            raise rejection_error(reply.rejection)
        if outcome != result:
            raise ApiError(502, "ENGINE_ERROR", f"unexpected engine reply {outcome!r} to {result}")
        return reply

    async def create_account(self, command: commands_pb2.Command) -> trading_pb2.Account:
        """CreateAccount; idempotent per user id (an existing account with the same e-mail is returned)."""
        return (await self._write(command, "account_created")).account_created.account

    async def open_position(self, command: commands_pb2.Command) -> commands_pb2.PositionOpened:
        return (await self._write(command, "position_opened")).position_opened

    async def close_position(self, command: commands_pb2.Command) -> commands_pb2.PositionClosed:
        return (await self._write(command, "position_closed")).position_closed

    async def amend_position(self, command: commands_pb2.Command) -> commands_pb2.PositionAmended:
        return (await self._write(command, "position_amended")).position_amended

    async def place_order(self, command: commands_pb2.Command) -> commands_pb2.OrderPlaced:
        return (await self._write(command, "order_placed")).order_placed

    async def cancel_order(self, command: commands_pb2.Command) -> commands_pb2.OrderCancelled:
        return (await self._write(command, "order_cancelled")).order_cancelled

    # ---- reads

    async def _read(self, method: Callable[..., Awaitable[ResponseT]], request: object, what: str) -> ResponseT:
        """One unary call with the reply timeout as its deadline; gRPC errors become ApiErrors."""
        try:
            return await method(request, timeout=self.reply_timeout)
        except grpc.aio.AioRpcError as exc:
            raise grpc_error(exc, what) from None

    async def get_account(self, user_id: str) -> engine_service_pb2.GetAccountResponse:
        """The account and its money figures; 404 when the user has no engine account."""
        return await self._read(
            self.stub.GetAccount, engine_service_pb2.GetAccountRequest(user_id=user_id), "GetAccount"
        )

    async def list_positions(
        self, user_id: str, page_size: int, page_token: str
    ) -> engine_service_pb2.ListPositionsResponse:
        request = engine_service_pb2.ListPositionsRequest(user_id=user_id, page_size=page_size, page_token=page_token)
        return await self._read(self.stub.ListPositions, request, "ListPositions")

    async def list_closed_trades(
        self, user_id: str, page_size: int, page_token: str
    ) -> engine_service_pb2.ListClosedTradesResponse:
        request = engine_service_pb2.ListClosedTradesRequest(
            user_id=user_id, page_size=page_size, page_token=page_token
        )
        return await self._read(self.stub.ListClosedTrades, request, "ListClosedTrades")

    async def list_orders(self, user_id: str) -> engine_service_pb2.ListOrdersResponse:
        return await self._read(
            self.stub.ListOrders, engine_service_pb2.ListOrdersRequest(user_id=user_id), "ListOrders"
        )

    async def list_order_history(
        self, user_id: str, page_size: int, page_token: str, order_id: str = ""
    ) -> engine_service_pb2.ListOrderHistoryResponse:
        request = engine_service_pb2.ListOrderHistoryRequest(
            user_id=user_id, page_size=page_size, page_token=page_token, order_id=order_id
        )
        return await self._read(self.stub.ListOrderHistory, request, "ListOrderHistory")

    async def get_prices(self) -> engine_service_pb2.GetPricesResponse:
        return await self._read(self.stub.GetPrices, engine_service_pb2.GetPricesRequest(), "GetPrices")

    async def list_account_events(
        self, user_id: str, after_seq: int, limit: int
    ) -> engine_service_pb2.ListAccountEventsResponse:
        request = engine_service_pb2.ListAccountEventsRequest(user_id=user_id, after_seq=after_seq, limit=limit)
        return await self._read(self.stub.ListAccountEvents, request, "ListAccountEvents")

    async def list_statement(
        self, user_id: str, page_size: int, page_token: str
    ) -> engine_service_pb2.ListStatementResponse:
        request = engine_service_pb2.ListStatementRequest(user_id=user_id, page_size=page_size, page_token=page_token)
        return await self._read(self.stub.ListStatement, request, "ListStatement")
