"""The candle builder's settings: defaults, and a backfill URL that is http(s) or empty (no backfill)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from candles.config import BACKPACK_REST_URL, CandleSettings


def test_defaults_backfill_from_the_venue() -> None:
    settings = CandleSettings()
    assert settings.candles_backfill_url == BACKPACK_REST_URL
    assert settings.candles_grpc_port == 50061 and settings.candle_channel == "ws:candle:update"


@pytest.mark.parametrize("url", ["", "http://127.0.0.1:9103", "https://api.backpack.exchange/"])
def test_a_backfill_url_is_http_or_empty(url: str) -> None:
    assert CandleSettings(candles_backfill_url=url).candles_backfill_url == url.rstrip("/")


@pytest.mark.parametrize("url", ["ftp://venue", "api.backpack.exchange", "wss://ws.backpack.exchange", "http://"])
def test_anything_else_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="CANDLES_BACKFILL_URL"):
        CandleSettings(candles_backfill_url=url)
