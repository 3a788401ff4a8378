"""`python -m gateway`: read the settings (refusing to start without JWT_SECRET outside dev mode) and
serve the app with uvicorn on GATEWAY_PORT. SIGTERM: stop accepting, let in-flight requests finish for up
to SHUTDOWN_GRACE_SECONDS, then close the engine, Redis and database connections."""

from __future__ import annotations

import logging

import uvicorn

from gateway.config import GatewaySettings, trusted_proxies
from gateway.main import create_app
from mesh.settings import load_settings


def main() -> None:
    settings = load_settings(GatewaySettings, "gateway")
    if settings.dev_mode and settings.jwt_secret is None:
        logging.getLogger("gateway").warning("DEV_MODE without JWT_SECRET: tokens die with this process")
    uvicorn.run(create_app(settings), host=settings.gateway_host, port=settings.gateway_port,
                log_config=None, access_log=False, lifespan="on",
                # the client address (and so the auth rate limit's key) comes from X-Forwarded-For only
                # when the connection is from a trusted proxy
                proxy_headers=True, forwarded_allow_ips=trusted_proxies(settings.forwarded_allow_ips),
                timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or None)


if __name__ == "__main__":
    main()
