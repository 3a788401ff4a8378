"""Prometheus metrics of the gateway (served on /metrics) and the ASGI middleware that times requests."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter("gateway_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_SECONDS = Histogram(
    "gateway_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ENGINE_REPLIES = Counter("gateway_engine_replies_total", "Command outcomes seen by the gateway", ["outcome"])
ENGINE_REPLY_SECONDS = Histogram(
    "gateway_engine_reply_seconds",
    "XADD to reply latency",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
REPLY_STREAM_UP = Gauge("gateway_reply_stream_up", "1 while the StreamReplies call to the engine is open")
REPLY_STREAM_RECONNECTS = Counter("gateway_reply_stream_reconnects_total", "StreamReplies calls that ended")
ACCOUNT_SOCKETS = Gauge("gateway_account_sockets", "Open /ws/account connections (authenticated)")
ACCOUNT_EVENTS_SENT = Counter("gateway_account_events_sent_total", "Account events sent to /ws/account clients")
ACCOUNT_EVENT_STREAM_RECONNECTS = Counter(
    "gateway_account_event_stream_reconnects_total", "StreamAccountEvents calls that ended"
)
WS_CLIENTS = Gauge("gateway_ws_clients", "Open price WebSocket connections")
WS_CONFLATED = Counter("gateway_ws_conflated_total", "Price messages merged into a newer one for a slow client")
PRICE_SUBSCRIPTION_UP = Gauge("gateway_price_subscription_up", "1 while subscribed to the price channel")
PRICE_MESSAGES = Counter("gateway_price_messages_total", "Price updates received from pub/sub")
ENGINE_IN_FLIGHT = Gauge("gateway_engine_in_flight", "Commands sent to the engine and waiting for their reply")
IN_FLIGHT_OTHER_GATEWAYS = Gauge(
    "gateway_in_flight_other_gateways", "Writes in flight on the platform's other gateways, as of the last refresh"
)
IN_FLIGHT_SHARED = Gauge(
    "gateway_in_flight_shared", "1 while the in-flight cap is shared through Redis, 0 while this process counts alone"
)
EVENT_LOOP_LAG = Gauge("gateway_event_loop_lag_seconds", "How late the event loop last ran a timer")
RATE_LIMIT_FALLBACK = Counter(
    "gateway_rate_limit_fallback_total", "Auth rate limit hits counted in this process only because Redis failed"
)
RATE_LIMITED = Counter("gateway_rate_limited_total", "Requests refused by the auth rate limit", ["route"])


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (not the raw path: bounded labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            HTTP_REQUESTS.labels(scope["method"], _route_label(scope), str(status)).inc()
            HTTP_SECONDS.labels(scope["method"], _route_label(scope)).observe(time.perf_counter() - started)


def _route_label(scope: Scope) -> str:
    """The matched route's template: bounded label values. Routes of included routers know only their
    path below the prefix; when that is a suffix of the request path (no path parameters) the full path
    is the template."""
    template = getattr(scope.get("route"), "path", None)
    if template is None:
        return "unmatched"
    path: str = scope["path"]
    return path if path.endswith(template) else template
