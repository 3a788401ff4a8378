"""gateway.config: the JWT secret rule, settings from the environment, rates and trusted proxies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.config import GatewaySettings, parse_rate, trusted_proxies
from tests.unit.gateway.helpers import SECRET


def test_jwt_secret_is_required_outside_dev_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("DEV_MODE", raising=False)
    with pytest.raises(ValidationError, match="JWT_SECRET is required"):
        GatewaySettings()
    dev = GatewaySettings(dev_mode=True)
    assert dev.signing_secret == dev.signing_secret and len(dev.signing_secret) >= 32
    assert GatewaySettings(jwt_secret=SECRET).signing_secret == SECRET


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("CORS_ORIGINS", " http://a.example ,http://b.example,,")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/x")
    monkeypatch.setenv("AUTH_RATE_LIMIT", "5/second")
    monkeypatch.setenv("GATEWAY_ID", "gw-1")
    settings = GatewaySettings()
    assert settings.cors_origin_list == ["http://a.example", "http://b.example"]
    assert settings.async_database_url == "postgresql+asyncpg://u:p@db:5432/x"
    assert settings.auth_rate == (5, 1)
    assert settings.gateway_id == "gw-1"
    assert GatewaySettings().gateway_port == 3000


def test_rate_parsing() -> None:
    assert parse_rate("10/minute") == (10, 60)
    assert parse_rate("100 / hours") == (100, 3600)
    assert parse_rate("off") is None
    for bad in ("10", "ten/minute", "0/minute", "5/fortnight"):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_trusted_proxies_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert trusted_proxies("10.244.0.0/16, 127.0.0.1,,::1") == ["10.244.0.0/16", "127.0.0.1", "::1"]
    assert trusted_proxies("*") == ["*"]
    monkeypatch.setenv("JWT_SECRET", "x" * 32)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8,ingress-pod")
    with pytest.raises(ValidationError, match="'ingress-pod' is not an IP address"):
        GatewaySettings()
