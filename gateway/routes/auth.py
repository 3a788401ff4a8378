"""POST /signup and /signin. A user is the `gateway_users` row plus the engine account of the same id.
Signup writes the row, then creates the engine account through the stream. The row is never removed
again: when the engine half fails or times out (its CreateAccount may still run later), the row stays,
and both a repeated signup with the same e-mail and password and a signin (re)create the engine account
by user id (CreateAccount is idempotent per user id). So every engine account belongs to a row, and a
user whose first signup got a 503/504 finishes it by simply retrying.

Only an unfinished signup is finished that way: the row's `account_created` is set once CreateAccount
answered, and a finished user whose engine account is missing (the engine lost its state) gets 503
ACCOUNT_UNAVAILABLE and a CRITICAL log line, never a fresh STARTING_BALANCE_CENTS."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import db
from gateway.context import GatewayContext
from gateway.deps import ContextDep, SessionDep, auth_rate_limit, signin_email_attempt, signin_succeeded
from gateway.errors import ApiError, account_unavailable, engine_unavailable
from gateway.routes import ExactJsonRoute, error_responses
from gateway.schemas import AuthResponse, SigninRequest, SignupRequest, UserOut
from gateway.security import hash_password, issue_token, verify_password
from gateway.translate import create_account_command

log = logging.getLogger(__name__)

router = APIRouter(tags=["auth"], route_class=ExactJsonRoute, dependencies=[Depends(auth_rate_limit)])


async def create_engine_account(context: GatewayContext, session: AsyncSession, user: db.User) -> int:
    """CreateAccount through the stream, then the row marked complete; returns the balance in cents."""
    account = await context.engine.create_account(
        create_account_command(user.id, user.email, context.settings.starting_balance_cents)
    )
    await db.mark_account_created(session, user)
    return int(account.balance_cents)


async def engine_balance(context: GatewayContext, session: AsyncSession, user: db.User) -> int:
    """The account's balance. Creates the engine account only for a signup that never completed (its
    engine half failed or timed out); a completed user without one is an engine that lost it: 503."""
    try:
        response = await context.engine.get_account(str(user.id))
    except ApiError as exc:
        if exc.status != 404:
            raise
        if user.account_created:
            log.critical(
                "engine account of a completed user is missing; not re-creating it", extra={"user_id": str(user.id)}
            )
            raise account_unavailable() from None
        log.warning("signup never completed; creating the engine account", extra={"user_id": str(user.id)})
        return await create_engine_account(context, session, user)
    if not user.account_created:
        # the CreateAccount of a signup that got a 503/504 ran after all
        await db.mark_account_created(session, user)
    return int(response.account.balance_cents)


async def _existing_user(session: AsyncSession, body: SignupRequest) -> db.User:
    """The user a signup for a taken e-mail repeats, if its password is that user's; else 409."""
    user = await db.user_by_email(session, body.email)
    if user is None or not await verify_password(body.password, user.password_hash):
        raise ApiError(409, "EMAIL_TAKEN", "an account with this e-mail address already exists")
    return user


def _auth_response(context: GatewayContext, user: db.User, balance: int) -> AuthResponse:
    settings = context.settings
    return AuthResponse(
        user=UserOut(id=user.id, email=user.email, balance=balance, lastLoggedIn=user.last_logged_in),
        token=issue_token(user.id, settings.signing_secret, settings.jwt_ttl_seconds),
    )


@router.post(
    "/signup", status_code=201, response_model=AuthResponse, responses=error_responses(400, 409, 422, 429, 503, 504)
)
async def signup(body: SignupRequest, context: ContextDep, session: SessionDep) -> AuthResponse:
    """Create a user (e-mail normalised to lower case, password at least 8 characters) and their trading
    account with STARTING_BALANCE_CENTS. Repeating a signup with the same e-mail and password (e.g. after
    a 503 or 504) completes it and answers 201 with the account as it is; another password gets 409."""
    if not context.engine.ready:
        raise engine_unavailable("no reply stream to the engine")
    password_hash = await hash_password(body.password)
    try:
        user = await db.create_user(session, body.email, password_hash)
    except db.EmailTaken:
        user = await _existing_user(session, body)
        balance = await engine_balance(context, session, user)
        log.info("signup repeated", extra={"user_id": str(user.id)})
        return _auth_response(context, user, balance)
    # on a failure here the row stays (see the module docstring): a retry or a signin finishes the account
    balance = await create_engine_account(context, session, user)
    log.info("user signed up", extra={"user_id": str(user.id)})
    return _auth_response(context, user, balance)


@router.post("/signin", response_model=AuthResponse, responses=error_responses(400, 401, 422, 429, 503, 504))
async def signin(body: SigninRequest, request: Request, context: ContextDep, session: SessionDep) -> AuthResponse:
    """Exchange e-mail and password for a token. 429 RATE_LIMITED also when this e-mail address had
    SIGNIN_EMAIL_RATE_LIMIT failed attempts, from any client, even with the right password until the
    window passes (successful signins do not count). 503 ACCOUNT_UNAVAILABLE when the engine lost the
    account of a completed signup (it is never re-created with fresh money)."""
    attempt = await signin_email_attempt(context, request, body.email)
    try:
        user = await db.user_by_email(session, body.email)
        right = await verify_password(body.password, user.password_hash if user else None) and user is not None
    except BaseException:
        # the database failed (or the request was cancelled): no password was judged, so it is no failure
        await signin_succeeded(context, body.email, attempt)
        raise
    if not right or user is None:
        raise ApiError(401, "INVALID_CREDENTIALS", "wrong e-mail or password")
    await signin_succeeded(context, body.email, attempt)
    balance = await engine_balance(context, session, user)
    await db.touch_last_login(session, user)
    return _auth_response(context, user, balance)
