"""No service writes a secret to its log when it refuses to start: each one is started as a real process
with a password in every URL it reads and one wrong setting, and its output must name the wrong variable
and hold none of the passwords (a pydantic ValidationError printed whole would repeat every input)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.polling import poll_until
from tests.support.net import free_port
from tests.support.processes import ManagedProcess

PASSWORD = "Hunter2pw"
# a password with the characters that end a naive pattern early
ODD_PASSWORD = "s3cr@t:x/y"
# port 1 on loopback: nothing listens, so nothing is ever sent off the machine
URLS = {
    "REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:1/0",
    "DATABASE_URL": f"postgresql://app:{PASSWORD}@127.0.0.1:1/x",
    "MONGODB_URL": f"mongodb://app:{ODD_PASSWORD}@127.0.0.1:1",
    "BACKPACK_WS_URL": f"ws://feed:{PASSWORD}@127.0.0.1:1/stream",
}
SECRETS = (PASSWORD, ODD_PASSWORD, "s3cr@t")

CASES = [
    # (service, the wrong settings, the variable the message must name)
    ("gateway", {"JWT_SECRET": "", "DEV_MODE": "false"}, "JWT_SECRET"),
    ("gateway", {"JWT_SECRET": "x" * 40, "GATEWAY_PORT": "not-a-port"}, "GATEWAY_PORT"),
    ("engine", {"MAX_LEVERAGE": "0"}, "MAX_LEVERAGE"),
    ("engine", {"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ("pooler", {"PUBLISH_INTERVAL_MS": "often"}, "PUBLISH_INTERVAL_MS"),
    # the variable whose value is the URL: the reason may quote it, the password must still not appear
    ("pooler", {"BACKPACK_WS_URL": f"http://feed:{PASSWORD}@127.0.0.1:1/"}, "BACKPACK_WS_URL"),
    ("candles", {"CANDLES_BATCH_SIZE": "0"}, "CANDLES_BATCH_SIZE"),
    ("candles", {"CANDLES_BACKFILL_URL": f"ftp://venue:{PASSWORD}@127.0.0.1:1/"}, "CANDLES_BACKFILL_URL"),
]


def _run(service: str, env: dict[str, str], log_format: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in URLS and key != "JWT_SECRET"}
    return subprocess.run(
        [sys.executable, "-m", service],
        env={**clean, **URLS, "LOG_FORMAT": log_format, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("log_format", ["json", "text"])
@pytest.mark.parametrize(("service", "wrong", "variable"), CASES)
def test_bad_configuration_names_the_variable_and_no_password(
    service: str, wrong: dict[str, str], variable: str, log_format: str
) -> None:
    result = _run(service, wrong, log_format)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    for secret in SECRETS:
        assert secret not in output
    assert "invalid configuration" in output and variable in output, output


def test_a_running_service_logs_urls_without_their_password(tmp_path: Path) -> None:
    """The pooler names its venue URL in its connect/reconnect lines: with a password in it (and in
    REDIS_URL, unreachable too) the lines show the URL with the password replaced."""
    env = {key: value for key, value in os.environ.items() if key not in URLS}
    env.update(
        {
            **URLS,
            "FEED": "backpack",
            "LOG_FORMAT": "json",
            "POOLER_HTTP_HOST": "127.0.0.1",
            "POOLER_HTTP_PORT": str(free_port()),
            "FEED_BACKOFF_INITIAL_MS": "50",
            "FEED_BACKOFF_MAX_MS": "100",
        }
    )
    pooler = ManagedProcess([sys.executable, "-m", "pooler"], tmp_path / "pooler.log", env=env).start()
    try:
        poll_until(lambda: "reconnecting to" in pooler.output(), "the pooler to try the venue once", 60, pooler)
    finally:
        pooler.stop()
    output = pooler.output()
    assert "reconnecting to ws://feed:***@127.0.0.1:1/stream" in output, output[-2000:]
    for secret in SECRETS:
        assert secret not in output
