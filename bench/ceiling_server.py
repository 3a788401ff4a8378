"""`python -m bench.ceiling_server --port N`: serve the trivial FastAPI app (bench.gateway_ceiling) with the
uvicorn settings `python -m gateway` uses (uvicorn[standard]: uvloop + httptools, no access log, lifespan
on, one process), so the gap between it and the gateway is the platform's own work. Keep the two in
step when gateway/__main__.py changes how it runs uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from bench.gateway_ceiling import app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
