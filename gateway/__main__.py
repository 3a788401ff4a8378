"""`python -m gateway`: read the settings (refusing to start without JWT_SECRET outside dev mode) and
serve the app with uvicorn on GATEWAY_PORT, in GATEWAY_WORKERS processes. SIGTERM: stop accepting, let
in-flight requests finish for up to SHUTDOWN_GRACE_SECONDS, then close the engine, Redis and database
connections.

With several workers each is a gateway of its own: its own engine client, reply stream and gateway id
(GATEWAY_ID, given or the default, plus the worker's process id, so two workers never share a reply
stream), its own admission bounds and its own /metrics (a scrape sees the worker that answered it)."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import uvicorn
from fastapi import FastAPI

from gateway import db
from gateway.config import GatewaySettings, trusted_proxies
from gateway.main import create_app
from mesh.settings import load_settings

# The largest WebSocket message a client may send; a larger one closes its socket with 1009 (message too
# big) before it is buffered. /ws/prices reads nothing from clients, so nothing legitimate comes near it.
WS_MAX_MESSAGE_BYTES = 64 * 1024


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn calls this factory in each)."""
    settings = load_settings(GatewaySettings, "gateway")
    return create_app(settings.model_copy(update={"gateway_id": f"{settings.gateway_id}-{os.getpid()}"}))


def main() -> None:
    settings = load_settings(GatewaySettings, "gateway")
    if settings.dev_mode and settings.jwt_secret is None:
        logging.getLogger("gateway").warning("DEV_MODE without JWT_SECRET: tokens die with this process")
    options: dict[str, Any] = dict(
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # the client address (and so the auth rate limit's key) comes from X-Forwarded-For only when the
        # connection is from a trusted proxy
        proxy_headers=True,
        forwarded_allow_ips=trusted_proxies(settings.forwarded_allow_ips),
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or None,
        ws_max_size=WS_MAX_MESSAGE_BYTES,
    )
    if settings.gateway_workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    if settings.jwt_secret is None:
        # dev mode: one throw-away secret for all workers, or a token would work on one worker only
        os.environ["JWT_SECRET"] = settings.signing_secret
    # migrate once here, not concurrently in every worker
    asyncio.run(db.upgrade_to_head(settings.async_database_url))
    uvicorn.run("gateway.__main__:worker_app", factory=True, workers=settings.gateway_workers, **options)


if __name__ == "__main__":
    main()
