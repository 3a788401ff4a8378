"""The compatibility layer's candles (GET /api/v1/trade/candlesticks) against the whole platform, the
candle builder included: the original client's symbol and timeframe name the same series as
GET /api/v1/candles, in its shape (time in seconds, dollar numbers) and to the last digit; unknown
symbols and timeframes the platform does not keep are refused in words."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from harness.polling import poll_until
from tests.e2e.platform import Platform
from tests.e2e.ui.market import START_PRICES, driving, platform_sell

pytestmark = pytest.mark.e2e


def test_candlesticks_are_the_platform_candles_in_dollars(platform: Platform) -> None:
    with driving(platform) as quotes, httpx.Client(base_url=platform.api, timeout=10) as api:
        for symbol, (bid, ask) in START_PRICES.items():
            quotes.set(api, symbol, bid, ask)
        quotes.set(api, "BTC_USDC", "100250.5", "100260")
        moved = int(platform_sell("100250.5").scaleb(4))

        def closed_at_moved() -> bool:
            candles = api.get("/candles", params={"asset": "BTC_USDC", "interval": "1m"}).json()["candles"]
            return bool(candles) and candles[-1]["close"] == moved

        poll_until(closed_at_moved, "the live 1m candle of BTC_USDC at the moved bid", 60)
        for timeframe in ("1m", "5m", "1h", "1d"):
            ours = api.get("/candles", params={"asset": "BTC_USDC", "interval": timeframe, "limit": 500}).json()
            original = api.get("/trade/candlesticks", params={"symbol": "BTCUSDT", "timeframe": timeframe})
            assert original.status_code == 200, original.text
            sticks = original.json()["candlesticks"]
            assert len(sticks) == len(ours["candles"]) >= 1, (timeframe, sticks, ours)
            scale = Decimal(10) ** ours["decimal"]
            for stick, candle in zip(sticks, ours["candles"], strict=True):
                assert set(stick) == {"time", "open", "high", "low", "close"}
                assert stick["time"] == candle["time"] // 1000
                for field in ("open", "high", "low", "close"):
                    assert Decimal(str(stick[field])) == Decimal(candle[field]) / scale, (field, stick, candle)
            assert sticks[-1]["close"] == 100250.5
        # our own asset name reads the same series
        same = api.get("/trade/candlesticks", params={"symbol": "BTC_USDC", "timeframe": "1m"}).json()
        assert same["candlesticks"][-1]["close"] == 100250.5

        unknown = api.get("/trade/candlesticks", params={"symbol": "DOGEUSDT", "timeframe": "1m"})
        assert unknown.status_code == 404 and "DOGEUSDT" in unknown.json()["error"], unknown.text
        not_kept = api.get("/trade/candlesticks", params={"symbol": "BTCUSDT", "timeframe": "30m"})
        assert not_kept.status_code == 422, not_kept.text
        assert not_kept.json()["message"] == not_kept.json()["error"] and "30m" in not_kept.json()["error"]
        missing = api.get("/trade/candlesticks", params={"timeframe": "1m"})
        assert missing.status_code == 422 and "symbol" in missing.json()["error"], missing.text
