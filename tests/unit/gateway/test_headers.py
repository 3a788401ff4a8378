"""gateway.headers: every HTTP answer carries nosniff, no framing and no referrer; a response without a
policy of its own gets the API's locked-down CSP, one with its own keeps it; API answers are not cached."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from gateway.headers import API_CONTENT_SECURITY_POLICY, SecurityHeadersMiddleware


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
    if scope["path"] == "/page":
        headers.append((b"content-security-policy", b"default-src 'self'"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=SecurityHeadersMiddleware(_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return await client.get(path)


async def test_api_answers_get_every_security_header_and_no_store() -> None:
    response = await _get("/api/v1/balance")
    expected: dict[str, Any] = {
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "content-security-policy": API_CONTENT_SECURITY_POLICY,
        "cache-control": "no-store",
    }
    assert {name: response.headers.get(name) for name in expected} == expected
    assert "frame-ancestors 'none'" in API_CONTENT_SECURITY_POLICY


async def test_a_page_keeps_its_own_policy_and_is_not_marked_no_store() -> None:
    response = await _get("/page")
    assert response.headers["content-security-policy"] == "default-src 'self'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in response.headers
