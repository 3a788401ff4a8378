"""FastAPI dependencies (`Annotated` aliases) the routes declare: the gateway context, a database
session, the authenticated user id, the Idempotency-Key and the auth rate limits (per client, per e-mail)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from gateway.context import GatewayContext
from gateway.limits import RateDecision, client_bucket, email_bucket
from gateway.metrics import RATE_LIMITED
from gateway.security import bearer_token, user_id_from_token

# auto_error=False: a missing or malformed header gets our own 401 body, not FastAPI's 403
_bearer = HTTPBearer(auto_error=False, description="JWT from /signup or /signin")


# Every dependency is `async def`: FastAPI runs a plain `def` dependency in a worker thread, a hop per
# dependency per request that costs more than the dependency itself.


async def get_context(connection: HTTPConnection) -> GatewayContext:
    context: GatewayContext = connection.app.state.context
    return context


ContextDep = Annotated[GatewayContext, Depends(get_context)]


async def get_session(context: ContextDep) -> AsyncIterator[AsyncSession]:
    async with context.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def current_user_id(
    context: ContextDep, request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> uuid.UUID:
    token = bearer_token(request.headers.get("authorization"))
    return user_id_from_token(token, context.settings.signing_secret)


CurrentUserId = Annotated[uuid.UUID, Depends(current_user_id)]


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=128,
            pattern=r"^[\x21-\x7e]+$",
            description="retrying with the same key returns the original outcome and never executes twice (per user)",
        ),
    ] = None,
) -> str:
    return key or ""


IdempotencyKey = Annotated[str, Depends(idempotency_key)]


async def auth_rate_limit(context: ContextDep, request: Request, response: Response) -> None:
    """One hit on the client's platform-wide bucket; the `RateLimit-*` headers go on every answer."""
    if context.auth_limiter is None:
        return
    client = request.client.host if request.client else "unknown"
    decision = await context.auth_limiter.hit(client_bucket(client))
    if not decision.allowed:
        RATE_LIMITED.labels(route=request.url.path).inc()
    decision.raise_if_limited()
    response.headers.update(decision.headers())
    # an error answer (a wrong password's 401) is built afresh by gateway.errors: it adds these too
    request.state.rate_limit_headers = decision.headers()


async def signin_email_attempt(context: GatewayContext, request: Request, email: str) -> RateDecision | None:
    """Count a signin attempt in the e-mail address's platform-wide bucket (any client address counts);
    429 when it holds SIGNIN_EMAIL_RATE_LIMIT failures already, whatever the password. The route gives the
    attempt back (`signin_succeeded`) when the password is right, so the bucket counts failures only;
    counting first and refunding a success (rather than checking first and counting a failure) keeps
    concurrent guesses from all slipping past one check."""
    if context.signin_email_limiter is None:
        return None
    decision = await context.signin_email_limiter.hit(email_bucket(email))
    if not decision.allowed:
        RATE_LIMITED.labels(route=request.url.path).inc()
    decision.raise_if_limited()
    return decision


async def signin_succeeded(context: GatewayContext, email: str, attempt: RateDecision | None) -> None:
    """The password was right, or never judged (the database failed): the attempt does not count against
    the e-mail address."""
    if context.signin_email_limiter is not None and attempt is not None:
        await context.signin_email_limiter.refund(email_bucket(email), attempt)
