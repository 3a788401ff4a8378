"""The account's own history: WS /ws/account (live account events, resumable by sequence number) and
GET /account/statement (every balance movement, newest first). Both are views of the engine's durable
account events (docs/contract.md, "Account events")."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from gateway.account_events import AccountSession
from gateway.deps import ContextDep, CurrentUserId
from gateway.errors import ApiError
from gateway.event_json import statement_line
from gateway.limits import client_bucket
from gateway.routes import ExactJsonRoute, error_responses
from gateway.schemas import StatementResponse
from gateway.security import verified_token

log = logging.getLogger(__name__)

router = APIRouter(tags=["account"], route_class=ExactJsonRoute)
ws_router = APIRouter()

# the first message must arrive within this many seconds
AUTH_TIMEOUT_SECONDS = 10.0
# close codes of /ws/account (the reason says more; docs/contract.md lists them)
CLOSE_GOING_AWAY = 1001  # the gateway is shutting down: reconnect with `since`
CLOSE_TRY_AGAIN = 1013  # the engine did not answer: reconnect with `since` a little later
CLOSE_BAD_AUTH_MESSAGE = 4400  # the first message is not {"type": "auth", "token": ..., "since": ...}
# the token is missing, invalid or expired, at the start or later, while the socket is open (the reason
# is the error code)
CLOSE_UNAUTHORIZED = 4401
CLOSE_AUTH_TIMEOUT = 4408  # no first message within AUTH_TIMEOUT_SECONDS
# the user already holds MAX_SOCKETS_PER_USER sockets on this gateway process, or the client address
# MAX_ACCOUNT_SOCKETS_PER_CLIENT (the reason says which)
CLOSE_TOO_MANY_SOCKETS = 4429
# each socket's catch-up reads the engine's event history: one user cannot open them without bound
MAX_SOCKETS_PER_USER = 8
MAX_SEQ = 2**63 - 1


class BadAuthMessage(ValueError):
    pass


def parse_auth_message(text: str) -> tuple[str, int | None]:
    """(token, since) of the first message; BadAuthMessage says what is wrong with it."""
    try:
        message: Any = json.loads(text)
    except ValueError:
        raise BadAuthMessage("the first message must be JSON") from None
    if not isinstance(message, dict) or message.get("type") != "auth":
        raise BadAuthMessage('the first message must be {"type": "auth", "token": "<JWT>"}')
    token, since = message.get("token"), message.get("since")
    if not isinstance(token, str) or not token:
        raise BadAuthMessage("token must be a non-empty string")
    if since is not None and (type(since) is not int or not 0 <= since <= MAX_SEQ):
        raise BadAuthMessage("since must be a sequence number (an integer >= 0) or absent")
    return token, since


async def _first_text(websocket: WebSocket) -> str | None:
    """The first message's text; None when the client went away."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    return message.get("text") or ""


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=reason[:120])


async def _authenticate(websocket: WebSocket, context: ContextDep) -> tuple[str, int | None, float] | None:
    """(user id, since, the token's `exp`) of the first message, or None once the socket is closed."""
    try:
        text = await asyncio.wait_for(_first_text(websocket), AUTH_TIMEOUT_SECONDS)
    except TimeoutError:
        await _close(websocket, CLOSE_AUTH_TIMEOUT, f"no auth message within {AUTH_TIMEOUT_SECONDS:g} s")
        return None
    if text is None:
        return None
    try:
        token, since = parse_auth_message(text)
        user_id, expires = verified_token(token, context.settings.signing_secret)
    except BadAuthMessage as exc:
        await _close(websocket, CLOSE_BAD_AUTH_MESSAGE, str(exc))
        return None
    except ApiError as exc:
        await _close(websocket, CLOSE_UNAUTHORIZED, exc.code)
        return None
    return str(user_id), since, expires


async def _read_until_disconnect(websocket: WebSocket) -> None:
    # later client frames are ignored; reading them is how a disconnect is noticed
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def account_socket(websocket: WebSocket, context: ContextDep) -> None:
    """Live account events. First message: {"type": "auth", "token": "<JWT>", "since": <seq, optional>}.
    Then {"type": "SUBSCRIBED", "seq": N} (or {"type": "RESYNC", "seq": N}) and every event after N in
    order, each once: {"type", "seq", "ts", ...}, until the token expires (4401)."""
    await websocket.accept()
    client = client_bucket(websocket.client.host if websocket.client else "unknown")
    per_client = context.settings.max_account_sockets_per_client
    if not context.account_sockets.open(client, per_client):
        await _close(websocket, CLOSE_TOO_MANY_SOCKETS, f"at most {per_client} account sockets per client address")
        return
    try:
        authenticated = await _authenticate(websocket, context)
        if authenticated is not None:
            await _serve(websocket, context, *authenticated)
    finally:
        context.account_sockets.close(client)


async def _serve(websocket: WebSocket, context: ContextDep, user_id: str, since: int | None, expires: float) -> None:
    if context.events.sessions_of(user_id) >= MAX_SOCKETS_PER_USER:
        await _close(websocket, CLOSE_TOO_MANY_SOCKETS, f"at most {MAX_SOCKETS_PER_USER} account sockets per user")
        return
    session = AccountSession(user_id, websocket.send_text, context.engine)
    context.events.add(session)
    reader = asyncio.create_task(_read_until_disconnect(websocket))
    # the token's lifetime is the socket's: a socket must not outlive the sign-in that opened it
    expiry = asyncio.create_task(asyncio.sleep(max(0.0, expires - time.time())))
    forwarder: asyncio.Task[None] | None = None
    try:
        await session.start(since)
        forwarder = asyncio.create_task(session.run())
        await asyncio.wait({reader, forwarder, expiry}, return_when=asyncio.FIRST_COMPLETED)
        if forwarder.done():
            await forwarder  # raises what ended it
        elif expiry.done():
            await _close(websocket, CLOSE_UNAUTHORIZED, "TOKEN_EXPIRED")
    except ApiError as exc:
        await _close(websocket, CLOSE_TRY_AGAIN, exc.code)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        context.events.remove(session)
        for task in (reader, forwarder, expiry):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        await _close(websocket, CLOSE_GOING_AWAY, "closing")


ws_router.add_api_websocket_route("/ws/account", account_socket)


@router.get("/account/statement", response_model=StatementResponse,
            responses=error_responses(401, 404, 422, 503, 504))  # fmt: skip
async def statement(
    user_id: CurrentUserId,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> StatementResponse:
    """Every movement of your free balance, newest first, a page at a time: the starting balance (DEPOSIT),
    margins locked, closes credited. The amounts of all lines sum to your balance."""
    response = await context.engine.list_statement(str(user_id), limit, cursor or "")
    if not response.lines and not cursor:
        # the statement lives in PostgreSQL: an empty first page may be a user without an engine account
        await context.engine.get_account(str(user_id))
    return StatementResponse(
        entries=[statement_line(line) for line in response.lines], nextCursor=response.next_page_token or None
    )
