"""`python -m gateway`: read the settings (refusing to start without JWT_SECRET outside dev mode) and
serve the app with uvicorn on GATEWAY_PORT. SIGTERM: stop accepting, let in-flight requests finish for up
to SHUTDOWN_GRACE_SECONDS, then close the engine, Redis and database connections."""

from __future__ import annotations

import logging
import sys

import uvicorn
from pydantic import ValidationError

from gateway.config import GatewaySettings
from gateway.main import create_app
from mesh.logging import configure_logging


def main() -> None:
    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        configure_logging("gateway")
        logging.getLogger("gateway").critical("invalid configuration: %s", exc)
        sys.exit(2)
    configure_logging("gateway", settings.log_level, settings.log_format)
    if settings.dev_mode and settings.jwt_secret is None:
        logging.getLogger("gateway").warning("DEV_MODE without JWT_SECRET: tokens die with this process")
    uvicorn.run(create_app(settings), host=settings.gateway_host, port=settings.gateway_port,
                log_config=None, access_log=False, lifespan="on",
                timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or None)


if __name__ == "__main__":
    main()
