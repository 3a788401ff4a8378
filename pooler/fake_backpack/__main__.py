"""`python -m pooler.fake_backpack --port N [--script FILE | --seed S]`: run the fake Backpack server until
SIGTERM/SIGINT, then close every connection with a Close frame as the venue does."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from mesh.logging import configure_logging
from pooler.fake_backpack.script import load_script
from pooler.fake_backpack.server import FakeBackpack


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pooler.fake_backpack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--script", type=Path, help="JSON Lines price script, played in a loop")
    source.add_argument("--seed", type=int, help="seed of the random price path")
    parser.add_argument("--symbols", default=None, help="comma-separated markets (default: BTC_USDC,ETH_USDC,SOL_USDC)")
    parser.add_argument("--interval-ms", type=int, default=100, help="random path: a top per market this often")
    parser.add_argument("--ticker-interval", type=float, default=1.0, help="seconds between ticker frames")
    parser.add_argument("--ping-interval", type=float, default=60.0, help="seconds between protocol pings")
    parser.add_argument("--ping-timeout", type=float, default=120.0, help="close when a pong is this late")
    parser.add_argument("--close-grace", type=float, default=30.0, help="seconds clients get to answer a Close")
    parser.add_argument("--log-format", default="text", choices=("text", "json"))
    return parser


async def _run(args: argparse.Namespace) -> None:
    server = FakeBackpack(
        args.host,
        args.port,
        symbols=[s.strip() for s in args.symbols.split(",") if s.strip()] if args.symbols else None,
        seed=args.seed,
        script=load_script(args.script) if args.script else None,
        interval_ms=args.interval_ms,
        ticker_interval=args.ticker_interval,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        close_grace=args.close_grace,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    await stop.wait()
    await server.stop()


def main() -> None:
    args = _parser().parse_args()
    configure_logging("fake-backpack", "INFO", args.log_format)
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
