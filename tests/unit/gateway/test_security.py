"""gateway.security: issued tokens round-trip, bad tokens and Authorization headers are 401s."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest

from gateway import security
from gateway.errors import ApiError
from gateway.security import bearer_token, issue_token, user_id_from_token
from tests.unit.gateway.helpers import SECRET


def _hs256_signed_with_header(header: dict[str, str], user_id: uuid.UUID, now: int) -> str:
    """A token whose header names another algorithm but whose signature is HMAC-SHA256 with the secret:
    the key-confusion forgery against servers that trust the header's `alg`."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part(dict(header))}.{part({'sub': str(user_id), 'exp': now + 60})}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_token_round_trip_and_rejections() -> None:
    user_id = uuid.uuid4()
    token = issue_token(user_id, SECRET, 60)
    assert user_id_from_token(token, SECRET) == user_id
    now = int(time.time())
    bad_tokens = {
        "TOKEN_EXPIRED": jwt.encode({"sub": str(user_id), "exp": now - 1}, SECRET, algorithm="HS256"),
        "INVALID_TOKEN": jwt.encode({"sub": str(user_id), "exp": now + 60}, None, algorithm="none"),  # type: ignore[arg-type]
        "HS512": jwt.encode({"sub": str(user_id), "exp": now + 60}, SECRET * 2, algorithm="HS512"),
    }
    bad_tokens["wrong secret"] = issue_token(user_id, "other-" + SECRET, 60)
    bad_tokens["RS256 header, HS key"] = _hs256_signed_with_header({"alg": "RS256", "typ": "JWT"}, user_id, now)
    bad_tokens["no sub"] = jwt.encode({"exp": now + 60}, SECRET, algorithm="HS256")
    bad_tokens["not a uuid"] = jwt.encode({"sub": "admin", "exp": now + 60}, SECRET, algorithm="HS256")
    for name, bad in bad_tokens.items():
        with pytest.raises(ApiError) as caught:
            user_id_from_token(bad, SECRET)
        assert caught.value.status == 401, name
        assert caught.value.code == ("TOKEN_EXPIRED" if name == "TOKEN_EXPIRED" else "INVALID_TOKEN")


def test_a_cached_token_still_expires_and_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_verified", {})
    monkeypatch.setattr(security, "TOKEN_CACHE_SIZE", 3)
    user_id = uuid.uuid4()
    token = issue_token(user_id, SECRET, 60)
    expires = int(jwt.decode(token, SECRET, algorithms=["HS256"])["exp"])
    assert user_id_from_token(token, SECRET, now=expires - 30) == user_id
    assert user_id_from_token(token, SECRET, now=expires - 1) == user_id  # from the cache
    assert (token, SECRET) in security._verified
    with pytest.raises(ApiError) as caught:
        user_id_from_token(token, SECRET, now=expires)
    assert caught.value.code == "TOKEN_EXPIRED"
    # the same token under another secret is verified (and refused) on its own
    with pytest.raises(ApiError):
        user_id_from_token(issue_token(user_id, SECRET, 60), "other-" + SECRET)
    for n in range(5):
        user_id_from_token(issue_token(uuid.uuid4(), SECRET, 60 + n), SECRET)
    assert len(security._verified) == 3


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    for bad, code in (
        (None, "MISSING_TOKEN"),
        ("", "MISSING_TOKEN"),
        ("Basic abc", "INVALID_TOKEN"),
        ("Bearer", "INVALID_TOKEN"),
    ):
        with pytest.raises(ApiError) as caught:
            bearer_token(bad)
        assert (caught.value.status, caught.value.code) == (401, code)
