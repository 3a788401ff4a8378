"""Pure rules of the feeds: reconnect backoff, the random price path, configuration."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from pydantic import ValidationError

from pooler.config import LIVE_URL, PoolerSettings
from pooler.connection import backoff_delay, is_loopback
from pooler.pricepath import KNOWN_MARKETS, RandomWalk, market_for


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    for failures, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (5, 16.0), (6, 30.0), (200, 30.0)]:
        delays = [backoff_delay(failures, 0.5, 30.0, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        # jittered: not one fixed value
        assert len(set(delays)) > 100


def test_loopback_detection() -> None:
    assert is_loopback("ws://127.0.0.1:9")
    assert is_loopback("ws://localhost:9/")
    assert is_loopback("ws://[::1]:9")
    assert not is_loopback(LIVE_URL)


def test_random_walk_is_seeded_padded_and_never_crossed() -> None:
    markets = list(KNOWN_MARKETS.values())
    first, second = RandomWalk(markets, seed=7), RandomWalk(markets, seed=7)
    for _ in range(500):
        for market in markets:
            a, b = first.step(market.symbol), second.step(market.symbol)
            assert a == b
            assert a.bid < a.ask and a.bid > 0
            assert a.bid % market.tick == 0 and a.ask % market.tick == 0
            assert a.bid_qty % market.step == 0 and a.bid_qty > 0


def test_random_walk_starts_from_given_prices() -> None:
    walk = RandomWalk([market_for("BTC_USDC")], seed=1, start={"BTC_USDC": Decimal("50000.0")})
    assert abs(walk.step("BTC_USDC").bid - Decimal("50000.0")) <= Decimal("0.3")


def test_settings_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"FEED": "sim", "PUBLISH_INTERVAL_MS": "250", "SPREAD_BPS": "50", "QUOTE_MAX_AGE_MS": "900",
                        "POOLER_HTTP_PORT": "9999", "SIM_SEED": "3",
                        "BACKPACK_WS_URL": "ws://127.0.0.1:1"}.items():
        monkeypatch.setenv(name, value)
    settings = PoolerSettings()
    assert (settings.feed, settings.publish_interval_ms, settings.spread_bps, settings.quote_max_age_ms,
            settings.pooler_http_port, settings.sim_seed) == ("sim", 250, 50, 900, 9999, 3)


def test_defaults_match_the_conventions(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FEED", "BACKPACK_WS_URL", "PUBLISH_INTERVAL_MS", "SPREAD_BPS", "QUOTE_MAX_AGE_MS",
                 "POOLER_HTTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = PoolerSettings(_env_file=None)
    assert (settings.feed, settings.backpack_ws_url, settings.publish_interval_ms, settings.spread_bps,
            settings.quote_max_age_ms, settings.pooler_http_port) == ("auto", LIVE_URL, 100, 100, 5000, 9102)
    # no stream cap to configure: only the engine trims its log
    assert "stream_maxlen" not in PoolerSettings.model_fields


@pytest.mark.parametrize("overrides", [
    {"feed": "fake"},  # the fake needs its local URL
    {"backpack_ws_url": "http://example.com"},
    {"feed": "nope"},
    {"spread_bps": -1},
    {"feed_backoff_initial_ms": 5000, "feed_backoff_max_ms": 100},
])
def test_bad_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PoolerSettings(**overrides)
