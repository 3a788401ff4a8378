"""gateway.limits: the sliding-window rate limiter, the body size limit and the rate-limit keys of a client
address (IPv6 by its /64) and of an e-mail address."""

from __future__ import annotations

import json

import pytest

from gateway.errors import ApiError
from gateway.limits import BodySizeLimitMiddleware, RateLimiter, client_bucket, email_bucket


def test_rate_limiter_window() -> None:
    limiter = RateLimiter(limit=3, window=60)
    decisions = [limiter.hit("1.2.3.4", now=600.0) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert decisions[0].headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "2",
        "RateLimit-Reset": "60",
        "RateLimit-Policy": "3;w=60",
    }
    refused = limiter.hit("1.2.3.4", now=601.0)
    assert not refused.allowed and refused.remaining == 0 and refused.headers()["Retry-After"] == "59"
    with pytest.raises(ApiError) as caught:
        refused.raise_if_limited()
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "59"  # type: ignore[index]
    assert limiter.hit("5.6.7.8", now=601.0).allowed  # per client
    # the previous window weighs in early in the next one, less later, and not at all after it
    assert not limiter.hit("1.2.3.4", now=665.0).allowed
    assert limiter.hit("1.2.3.4", now=690.0).allowed  # 3 * 0.5 + 1 + 1 = 2.5 hits in the sliding minute
    assert all(limiter.hit("1.2.3.4", now=781.0).allowed for _ in range(3))


def test_a_refunded_hit_no_longer_counts_in_its_window_or_the_next() -> None:
    limiter = RateLimiter(limit=2, window=60)
    first = limiter.hit("a", now=600.0)
    limiter.refund("a", first.window_index)
    assert [limiter.hit("a", now=601.0).allowed for _ in range(3)] == [True, True, False]
    # a hit refunded after its window ended comes off the previous window's weight
    late = RateLimiter(limit=2, window=60)
    hits = [late.hit("a", now=650.0) for _ in range(2)]
    assert not late.hit("a", now=661.0).allowed  # 2 * (1 - 1/60) + 0 > 1
    late.refund("a", hits[0].window_index)
    assert late.hit("a", now=661.0).allowed
    # and the limit holds again
    assert not late.hit("a", now=662.0).allowed


async def _call(
    app: BodySizeLimitMiddleware, chunks: list[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, bytes]:
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app({"type": "http", "headers": headers, "method": "POST", "path": "/"}, receive, send)  # type: ignore[arg-type]
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])  # type: ignore[misc]


async def test_body_size_limit() -> None:
    async def echo(scope, receive, send):  # type: ignore[no-untyped-def]
        message = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": message["body"]})

    app = BodySizeLimitMiddleware(echo, max_bytes=10)
    assert await _call(app, [b"12345", b"67890"], []) == (200, b"1234567890")
    status, body = await _call(app, [b"123456", b"78901"], [])
    assert status == 413 and json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert (await _call(app, [b"1"], [(b"content-length", b"11")]))[0] == 413


def test_an_ipv6_client_is_its_64_and_an_ipv4_client_its_address() -> None:
    assert client_bucket("2001:db8:1:2:aaaa::1") == client_bucket("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert client_bucket("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_bucket("2001:db8:1:3::1") != client_bucket("2001:db8:1:2::1")
    assert client_bucket("::ffff:198.51.100.7") == client_bucket("198.51.100.7") == "198.51.100.7"
    assert client_bucket("198.51.100.7") != client_bucket("198.51.100.8")
    assert client_bucket("unknown") == "unknown"


def test_an_email_bucket_is_a_digest_not_the_address() -> None:
    key = email_bucket("trader@example.com")
    assert key == email_bucket("trader@example.com") != email_bucket("other@example.com")
    assert "trader" not in key and len(key) == 32
