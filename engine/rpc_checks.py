"""Checks every engine RPC makes on the ids a caller names, before any work: present, and no longer than
the platform issues (a longer one is not one of ours, and would be logged and kept)."""

from __future__ import annotations

import grpc

from engine import translate

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
