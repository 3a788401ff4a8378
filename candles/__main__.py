"""`python -m candles`: the candle builder process (candles.service), until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import sys

from candles.config import CandleSettings
from candles.service import serve
from mesh.settings import load_settings


def main() -> None:
    settings = load_settings(CandleSettings, "candles")
    sys.exit(asyncio.run(serve(settings)))


if __name__ == "__main__":
    main()
