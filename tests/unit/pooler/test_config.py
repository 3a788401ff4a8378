"""pooler.config: the settings' environment names, defaults and refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pooler.config import LIVE_URL, PoolerSettings


def test_settings_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "FEED": "sim",
        "PUBLISH_INTERVAL_MS": "250",
        "SPREAD_BPS": "50",
        "QUOTE_MAX_AGE_MS": "900",
        "POOLER_HTTP_PORT": "9999",
        "SIM_SEED": "3",
        "BACKPACK_WS_URL": "ws://127.0.0.1:1",
    }.items():
        monkeypatch.setenv(name, value)
    settings = PoolerSettings()
    assert (
        settings.feed,
        settings.publish_interval_ms,
        settings.spread_bps,
        settings.quote_max_age_ms,
        settings.pooler_http_port,
        settings.sim_seed,
    ) == ("sim", 250, 50, 900, 9999, 3)


def test_defaults_match_the_conventions(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "FEED",
        "BACKPACK_WS_URL",
        "PUBLISH_INTERVAL_MS",
        "SPREAD_BPS",
        "QUOTE_MAX_AGE_MS",
        "POOLER_HTTP_PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = PoolerSettings(_env_file=None)
    assert (
        settings.feed,
        settings.backpack_ws_url,
        settings.publish_interval_ms,
        settings.spread_bps,
        settings.quote_max_age_ms,
        settings.pooler_http_port,
    ) == ("auto", LIVE_URL, 100, 100, 5000, 9102)
    # no stream cap to configure: only the engine trims its log
    assert "stream_maxlen" not in PoolerSettings.model_fields


@pytest.mark.parametrize(
    "overrides",
    [
        {"feed": "fake"},  # the fake needs its local URL
        {"backpack_ws_url": "http://example.com"},
        {"feed": "nope"},
        {"spread_bps": -1},
        {"feed_backoff_initial_ms": 5000, "feed_backoff_max_ms": 100},
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PoolerSettings(**overrides)
