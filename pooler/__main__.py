"""`python -m pooler`: run the pooler until SIGTERM or SIGINT, then shut down gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from mesh.settings import load_settings
from pooler.config import PoolerSettings
from pooler.service import Pooler

log = logging.getLogger("pooler")


async def _serve(settings: PoolerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    run = asyncio.create_task(Pooler(settings).run(stop))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([run, stopping], return_when=asyncio.FIRST_COMPLETED)
    if run.done():
        # it ended by itself: a start-up failure or a crashed task (already logged); exit non-zero
        stopping.cancel()
        run.result()
        return
    log.info("stopping (signal received)")
    try:
        await asyncio.wait_for(run, timeout=settings.shutdown_grace_seconds)
    except TimeoutError:
        log.error("shutdown took longer than SHUTDOWN_GRACE_SECONDS=%s", settings.shutdown_grace_seconds)


def main() -> None:
    settings = load_settings(PoolerSettings, "pooler")
    try:
        asyncio.run(_serve(settings))
    except OSError as exc:
        log.critical("pooler cannot run: %s", exc)
        sys.exit(1)


if __name__ == "__main__":
    main()
