"""Passwords and tokens: bcrypt hashing (run in a worker thread so the event loop never blocks on it)
and HS256 JWTs whose `sub` is the user id. Verified tokens are remembered (a bounded cache keyed by the
raw token and the secret, still checked against their `exp` on every use), because a trader sends the
same token with every order and verifying it again is a large part of an order's CPU."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid

import anyio.to_thread
import bcrypt
import jwt

from gateway.errors import ApiError

ALGORITHM = "HS256"
BCRYPT_ROUNDS = 12
# a real hash to compare against when the e-mail is unknown, so both paths cost one bcrypt check
_DUMMY_HASH = bcrypt.hashpw(b"timing-equaliser", bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


def _prehash(password: str) -> bytes:
    # bcrypt reads at most 72 bytes; hashing first makes every character of a long password count
    return base64.b64encode(hashlib.sha256(password.encode()).digest())


def _hash_sync(password: str) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


def _verify_sync(password: str, password_hash: str) -> bool:
    return bcrypt.checkpw(_prehash(password), password_hash.encode())


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hash_sync, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """False for a wrong password or an unknown user (`password_hash` None), in about the same time."""
    ok = await anyio.to_thread.run_sync(_verify_sync, password, password_hash or _DUMMY_HASH)
    return ok and password_hash is not None


def issue_token(user_id: uuid.UUID, secret: str, ttl_seconds: int) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "iat": now, "exp": now + ttl_seconds}, secret, algorithm=ALGORITHM)


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": "Bearer"})


# tokens verified recently: (token, secret) -> (user id, exp). Bounded: the oldest entry goes first.
TOKEN_CACHE_SIZE = 10_000
_verified: dict[tuple[str, str], tuple[uuid.UUID, float]] = {}


def user_id_from_token(token: str, secret: str, now: float | None = None) -> uuid.UUID:
    """The user id in a valid token; 401 for a missing, tampered, expired or unsigned (`alg: none`) one."""
    return verified_token(token, secret, now)[0]


def verified_token(token: str, secret: str, now: float | None = None) -> tuple[uuid.UUID, float]:
    """(user id, `exp` in epoch seconds) of a valid token; 401 like `user_id_from_token`. Only a token
    that verified is cached, with its `exp`: it stops working when it expires, cached or not."""
    now = time.time() if now is None else now
    cached = _verified.get((token, secret))
    if cached is not None:
        if now < cached[1]:
            return cached
        del _verified[(token, secret)]
        raise _unauthorized("TOKEN_EXPIRED", "the token has expired; sign in again")
    verified = _verify(token, secret)
    if len(_verified) >= TOKEN_CACHE_SIZE:
        del _verified[next(iter(_verified))]
    _verified[(token, secret)] = verified
    return verified


def _verify(token: str, secret: str) -> tuple[uuid.UUID, float]:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError:
        raise _unauthorized("TOKEN_EXPIRED", "the token has expired; sign in again") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("INVALID_TOKEN", "the token is invalid") from None
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise _unauthorized("INVALID_TOKEN", "the token's subject is not a user id") from None
    # PyJWT accepts a token until its `exp` has passed; the cache must not keep one longer
    return user_id, float(claims["exp"])


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise _unauthorized("MISSING_TOKEN", "an Authorization: Bearer <token> header is required")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("INVALID_TOKEN", "the Authorization header must be 'Bearer <token>'")
    return token.strip()
