"""Checks every engine RPC makes on the ids a caller names, before any work: present, and no longer than
the platform issues (a longer one is not one of ours, and would be logged and kept)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import grpc

from engine import translate

T = TypeVar("T")

# a gateway id names a host and a process
MAX_GATEWAY_ID_LENGTH = 256


async def require_at_most(name: str, value: str, limit: int, context: grpc.aio.ServicerContext) -> None:
    if len(value) > limit:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name} is {len(value)} characters (at most {limit})")


async def require_user_id(user_id: str, context: grpc.aio.ServicerContext) -> None:
    if not user_id:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "user_id is required")
    await require_at_most("user_id", user_id, translate.MAX_USER_ID_LENGTH, context)


async def require_gateway_id(gateway_id: str, context: grpc.aio.ServicerContext) -> None:
    if not gateway_id:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "gateway_id is required")
    await require_at_most("gateway_id", gateway_id, MAX_GATEWAY_ID_LENGTH, context)


async def page_limit(page_size: int, maximum: int, default: int, context: grpc.aio.ServicerContext) -> int:
    """The rows a paged read answers: `page_size`, or `default` when unset; more than `maximum` is refused."""
    if page_size > maximum:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be 1 .. {maximum}")
    return page_size or default


async def page_cursor(token: str, decode: Callable[[str], T], context: grpc.aio.ServicerContext) -> T | None:
    """Where a paged read resumes: None without a token; a token this service did not issue (`decode`
    raises ValueError) is INVALID_ARGUMENT."""
    if not token:
        return None
    try:
        return decode(token)
    except ValueError as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        raise
