"""HTTP and WebSocket routes, one module per resource. Routers under /api/v1 parse JSON bodies exactly
(numbers become Decimal, never float)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from gateway.schemas import ErrorResponse

_DESCRIPTIONS = {
    400: "Malformed JSON",
    401: "Missing, invalid or expired token",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    422: "Validation error or business rejection",
    429: "Rate limited",
    502: "The engine failed",
    503: "Engine, queue or price unavailable",
    504: "The engine did not answer in time (the body carries the request id)",
}


def error_responses(*statuses: int, model: type[BaseModel] = ErrorResponse) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route; `model`: their body (the compatibility layer has its own)."""
    return {status: {"model": model, "description": _DESCRIPTIONS[status]} for status in statuses}


def _refuse_constant(name: str) -> None:
    raise json.JSONDecodeError(f"{name} is not a number", name, 0)


# No field of the API needs more; a longer integer would only cost CPU (or hit Python's int limit).
MAX_JSON_INTEGER_DIGITS = 40


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INTEGER_DIGITS:
        raise json.JSONDecodeError(f"integer of {len(text)} digits is too long", text[:20], 0)
    return int(text)


class ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            # JSON numbers with a fraction become Decimal: "0.1" stays 0.1, no binary float on the way
            self._json = json.loads(
                await self.body(), parse_float=Decimal, parse_int=_bounded_int, parse_constant=_refuse_constant
            )
        return self._json


class ExactJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact_handler(request: Request) -> Response:
            return await handler(ExactJsonRequest(request.scope, request.receive))

        return exact_handler
