"""gateway.errors: the status table for every reject reason and gRPC code, and database failures as 503."""

from __future__ import annotations

import grpc
from exness.engine.v1 import commands_pb2

from gateway.errors import GRPC_STATUS, REJECTION_STATUS, rejection_error


def test_every_reject_reason_has_a_status() -> None:
    assert set(REJECTION_STATUS) == set(commands_pb2.RejectReason.values())
    expected = {
        "POSITION_NOT_FOUND": 404,
        "IDEMPOTENCY_KEY_REUSED": 409,
        "PRICE_STALE": 503,
        "PRICE_UNAVAILABLE": 503,
        "INSUFFICIENT_BALANCE": 422,
        "UNKNOWN_ASSET": 422,
        # the engine's own defect is a 5xx, never blamed on the client's input
        "ENGINE_FAULT": 502,
        "INVALID_COMMAND": 422,
    }
    for code, status in expected.items():
        error = rejection_error(
            commands_pb2.Rejection(reason=commands_pb2.RejectReason.Value(f"REJECT_REASON_{code}"), message="why")
        )
        assert (error.status, error.code, error.message) == (status, code, "why")
    assert GRPC_STATUS[grpc.StatusCode.UNAVAILABLE] == 503
    assert GRPC_STATUS[grpc.StatusCode.DEADLINE_EXCEEDED] == 504
    assert GRPC_STATUS[grpc.StatusCode.NOT_FOUND] == 404


async def test_database_failures_are_503() -> None:
    from fastapi import FastAPI
    from httpx import ASGITransport, AsyncClient
    from sqlalchemy.exc import OperationalError

    from gateway.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/refused")
    async def refused() -> None:
        raise ConnectionRefusedError(111, "Connect call failed")

    @app.get("/lost")
    async def lost() -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    @app.get("/bug")
    async def bug() -> None:
        raise KeyError("oops")

    async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t") as client:
        for path in ("/refused", "/lost"):
            response = await client.get(path)
            assert response.status_code == 503
            assert response.json() == {
                "error": {"code": "DATABASE_UNAVAILABLE", "message": "the user database is unavailable"}
            }
        response = await client.get("/bug")
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "INTERNAL_ERROR"
