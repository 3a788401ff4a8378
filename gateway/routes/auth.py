"""POST /signup and /signin. Signup writes the user row, then creates the engine account through the
stream and waits for it; if the engine side fails the row is removed again, and signin (re)creates a
missing engine account (CreateAccount is idempotent), so no user is ever left unable to sign in or trade."""

from __future__ import annotations

import logging

from exness.engine.v1 import engine_service_pb2
from fastapi import APIRouter, Depends

from gateway import db
from gateway.context import GatewayContext
from gateway.deps import ContextDep, SessionDep, auth_rate_limit
from gateway.errors import ApiError, engine_unavailable, rejection_error
from gateway.routes import ExactJsonRoute, error_responses
from gateway.schemas import AuthResponse, SigninRequest, SignupRequest, UserOut
from gateway.security import hash_password, issue_token, verify_password
from gateway.translate import create_account_command

log = logging.getLogger(__name__)

router = APIRouter(tags=["auth"], route_class=ExactJsonRoute, dependencies=[Depends(auth_rate_limit)])


async def create_engine_account(context: GatewayContext, user: db.User) -> int:
    """CreateAccount through the stream; returns the account's balance in cents."""
    reply = await context.engine.submit(
        create_account_command(user.id, user.email, context.settings.starting_balance_cents))
    if reply.WhichOneof("result") == "rejection":
        raise rejection_error(reply.rejection)
    if reply.WhichOneof("result") != "account_created":
        raise ApiError(502, "ENGINE_ERROR", "unexpected reply to CreateAccount")
    return int(reply.account_created.account.balance_cents)


async def engine_balance(context: GatewayContext, user: db.User) -> int:
    """The account's balance; creates the engine account if the engine has none (a signup whose engine
    half failed, or an engine that lost it)."""
    try:
        response = await context.engine.read(context.engine.stub.GetAccount,
                                             engine_service_pb2.GetAccountRequest(user_id=str(user.id)), "GetAccount")
    except ApiError as exc:
        if exc.status != 404:
            raise
        log.warning("user has no engine account; creating it", extra={"user_id": str(user.id)})
        return await create_engine_account(context, user)
    return int(response.account.balance_cents)


def _auth_response(context: GatewayContext, user: db.User, balance: int) -> AuthResponse:
    settings = context.settings
    return AuthResponse(
        user=UserOut(id=user.id, email=user.email, balance=balance, lastLoggedIn=user.last_logged_in),
        token=issue_token(user.id, settings.signing_secret, settings.jwt_ttl_seconds))


@router.post("/signup", status_code=201, response_model=AuthResponse,
             responses=error_responses(400, 409, 422, 429, 503, 504))
async def signup(body: SignupRequest, context: ContextDep, session: SessionDep) -> AuthResponse:
    """Create a user (e-mail normalised to lower case, password at least 8 characters) and their trading
    account with STARTING_BALANCE_CENTS."""
    if not context.engine.ready:
        raise engine_unavailable("no reply stream to the engine")
    password_hash = await hash_password(body.password)
    try:
        user = await db.create_user(session, body.email, password_hash)
    except db.EmailTaken:
        raise ApiError(409, "EMAIL_TAKEN", "an account with this e-mail address already exists") from None
    try:
        balance = await create_engine_account(context, user)
    except BaseException:
        # no half-made user: the e-mail is free again and the client can retry the signup
        await db.delete_user(session, user.id)
        raise
    log.info("user signed up", extra={"user_id": str(user.id)})
    return _auth_response(context, user, balance)


@router.post("/signin", response_model=AuthResponse, responses=error_responses(400, 401, 422, 429, 503, 504))
async def signin(body: SigninRequest, context: ContextDep, session: SessionDep) -> AuthResponse:
    """Exchange e-mail and password for a token."""
    user = await db.user_by_email(session, body.email)
    if not await verify_password(body.password, user.password_hash if user else None) or user is None:
        raise ApiError(401, "INVALID_CREDENTIALS", "wrong e-mail or password")
    balance = await engine_balance(context, user)
    await db.touch_last_login(session, user)
    return _auth_response(context, user, balance)
