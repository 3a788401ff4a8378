"""Browser security headers on every HTTP answer of the gateway, the API's JSON as much as the terminal's
pages: no MIME sniffing, never framed (clickjacking), no referrer, and for anything that does not set its
own policy (the pages in gateway.web do) a Content-Security-Policy that lets nothing load or run, since a
JSON body has no business doing either. API answers are also `Cache-Control: no-store`: they carry
account data and tokens, which no shared or browser cache should keep."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DEFAULT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": API_CONTENT_SECURITY_POLICY,
}
API_PREFIX = "/api/"


class SecurityHeadersMiddleware:
    """Adds `DEFAULT_HEADERS` to each HTTP response that does not set them itself (and `no-store` under
    /api/). Outermost, so error answers, 413s and CORS preflights get them too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith(API_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULT_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if api and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
