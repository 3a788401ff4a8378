"""Every error the API returns: the `{"error": {"code", "message"}}` body, the ONE table that maps engine
outcomes (gRPC status codes and `RejectReason`s) to HTTP statuses, and the handlers that replace
FastAPI's default 404/405/422/500 bodies with that shape."""

from __future__ import annotations

import logging
from http import HTTPStatus

import grpc
from exness.engine.v1 import commands_pb2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

Reason = commands_pb2.RejectReason


class ApiError(Exception):
    """An error response: HTTP status, a stable machine-readable code, a sentence for people."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.headers = headers
        self.details = details

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.request_id:
            error["requestId"] = self.request_id
        if self.details:
            error["details"] = self.details
        return {"error": error}


def validation_error(details: list[dict[str, str]]) -> ApiError:
    """The one 422 VALIDATION_ERROR: `details` lists `{field, message}` per bad field, the message sums them up,
    whether pydantic or the unit conversion found the fault."""
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details) or "invalid request"
    return ApiError(422, "VALIDATION_ERROR", summary, details=details)


# The one table: engine outcome -> HTTP status. Rejections are business answers (the engine decided);
# gRPC statuses are transport or read answers.
REJECTION_STATUS: dict[int, int] = {
    Reason.REJECT_REASON_UNSPECIFIED: 422,
    Reason.REJECT_REASON_INVALID_COMMAND: 422,
    Reason.REJECT_REASON_ACCOUNT_NOT_FOUND: 404,
    Reason.REJECT_REASON_UNKNOWN_ASSET: 422,
    Reason.REJECT_REASON_PRICE_UNAVAILABLE: 503,
    Reason.REJECT_REASON_PRICE_STALE: 503,
    Reason.REJECT_REASON_INVALID_QUANTITY: 422,
    Reason.REJECT_REASON_INVALID_LEVERAGE: 422,
    Reason.REJECT_REASON_INVALID_SLIPPAGE: 422,
    Reason.REJECT_REASON_SLIPPAGE_EXCEEDED: 422,
    Reason.REJECT_REASON_INSUFFICIENT_BALANCE: 422,
    Reason.REJECT_REASON_IMMEDIATE_LIQUIDATION: 422,
    Reason.REJECT_REASON_INVALID_STOP_LOSS: 422,
    Reason.REJECT_REASON_INVALID_TAKE_PROFIT: 422,
    Reason.REJECT_REASON_POSITION_NOT_FOUND: 404,
    Reason.REJECT_REASON_IDEMPOTENCY_KEY_REUSED: 409,
    Reason.REJECT_REASON_ACCOUNT_CONFLICT: 409,
    Reason.REJECT_REASON_TOO_MANY_POSITIONS: 422,
    Reason.REJECT_REASON_TOO_MANY_ORDERS: 422,
    Reason.REJECT_REASON_INVALID_ORDER_PRICE: 422,
    Reason.REJECT_REASON_ORDER_WRONG_SIDE: 422,
    Reason.REJECT_REASON_INVALID_EXPIRY: 422,
    Reason.REJECT_REASON_ORDER_NOT_FOUND: 404,
    Reason.REJECT_REASON_ORDER_NOT_PENDING: 409,
    # a defect in the engine, not the client's doing
    Reason.REJECT_REASON_ENGINE_FAULT: 502,
}

GRPC_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 422,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.CANCELLED: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# anything else (INTERNAL, UNKNOWN, DATA_LOSS, UNIMPLEMENTED) is the engine misbehaving
ENGINE_FAULT_STATUS = 502

# the code clients see when the engine's own message would say too much about the transport
GRPC_CODE_NAMES: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.UNAVAILABLE: "ENGINE_UNAVAILABLE",
    grpc.StatusCode.CANCELLED: "ENGINE_UNAVAILABLE",
    grpc.StatusCode.DEADLINE_EXCEEDED: "ENGINE_TIMEOUT",
    # the engine's reads answer NOT_FOUND only for a user without an engine account: the code of the writes
    grpc.StatusCode.NOT_FOUND: "ACCOUNT_NOT_FOUND",
}


def rejection_error(rejection: commands_pb2.Rejection) -> ApiError:
    name = Reason.Name(rejection.reason) if rejection.reason in Reason.values() else "REJECT_REASON_UNSPECIFIED"
    code = name.removeprefix("REJECT_REASON_")
    if code == "UNSPECIFIED":
        code = "REJECTED"
    message = rejection.message or code.replace("_", " ").lower()
    return ApiError(REJECTION_STATUS.get(rejection.reason, 422), code, message)


def grpc_error(error: grpc.aio.AioRpcError, what: str) -> ApiError:
    code = error.code()
    status = GRPC_STATUS.get(code, ENGINE_FAULT_STATUS)
    name = GRPC_CODE_NAMES.get(code, code.name if code else "ENGINE_ERROR")
    if status == ENGINE_FAULT_STATUS:
        log.error("engine call failed", extra={"call": what, "grpc_code": str(code), "details": error.details()})
        return ApiError(status, "ENGINE_ERROR", f"the engine failed to answer {what}")
    if status in (503, 504):
        return ApiError(status, name, f"the engine did not answer {what}: {code.name.lower()}")
    return ApiError(status, name, error.details() or f"{what} failed: {code.name.lower()}")


def engine_unavailable(why: str) -> ApiError:
    return ApiError(503, "ENGINE_UNAVAILABLE", f"the trading engine is unavailable: {why}")


def account_unavailable() -> ApiError:
    """A completed user whose engine account is gone (the engine lost state): nothing is created in its
    place, so no money appears; an operator restores the engine's state."""
    return ApiError(503, "ACCOUNT_UNAVAILABLE", "your trading account is unavailable; try again later")


def engine_timeout(request_id: str, seconds: float) -> ApiError:
    return ApiError(
        504,
        "ENGINE_TIMEOUT",
        f"the engine did not answer within {seconds:g}s; retry with the same Idempotency-Key to get "
        f"the original outcome (request {request_id})",
        request_id=request_id,
    )


def gateway_stopping(request_id: str) -> ApiError:
    return ApiError(
        504,
        "ENGINE_TIMEOUT",
        "the gateway stopped before the engine answered; the command may still be executed: retry with "
        f"the same Idempotency-Key to get the original outcome (request {request_id})",
        request_id=request_id,
    )


def request_error(exc: RequestValidationError) -> ApiError:
    """The ApiError of a request FastAPI could not parse: 400 for malformed JSON, else the one 422."""
    details = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err.get("loc", ()) if part != "body") or "body"
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            return ApiError(
                400, "INVALID_JSON", f"the body is not valid JSON: {err.get('ctx', {}).get('error', message)}"
            )
        details.append({"field": location, "message": message.removeprefix("Value error, ")})
    return validation_error(details)


async def _validation_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    error = request_error(exc)
    return JSONResponse(error.body(), status_code=error.status)


async def _api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {**getattr(request.state, "rate_limit_headers", {}), **(exc.headers or {})}
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers or None)


def http_error(exc: StarletteHTTPException) -> ApiError:
    """Starlette's and FastAPI's own HTTP errors (an unparseable body, an unknown path) as ours."""
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "Error"
    code = phrase.upper().replace(" ", "_").replace("-", "_")
    message = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else phrase.lower()
    return ApiError(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _http_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error = http_error(exc)
    return JSONResponse(
        {"error": {"code": error.code, "message": error.message}}, status_code=error.status, headers=error.headers
    )


async def _database_down_handler(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", extra={"path": request.url.path, "error": str(exc)[:300]})
    return JSONResponse(
        {"error": {"code": "DATABASE_UNAVAILABLE", "message": "the user database is unavailable"}}, status_code=503
    )


def _internal_error() -> JSONResponse:
    return JSONResponse({"error": {"code": "INTERNAL_ERROR", "message": "internal error"}}, status_code=500)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path}, exc_info=exc)
    return _internal_error()


class UnexpectedErrorMiddleware:
    """Turns an exception no handler took into the 500 body *inside* the other middleware. Starlette
    answers those from its outermost layer, past CORS, so a browser on another origin would see a
    network error instead of the 500; from here the answer passes CORS (and the metrics) like any other."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            log.exception("unhandled error", extra={"path": scope.get("path", "")}, exc_info=exc)
            await _internal_error()(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    # driver-level failures (connection refused or lost, server shutting down), not programming errors
    app.add_exception_handler(DBAPIError, _database_down_handler)
    app.add_exception_handler(OSError, _database_down_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
