"""pooler.connection: the reconnect backoff and loopback detection."""

from __future__ import annotations

import random

from pooler.config import LIVE_URL
from pooler.connection import backoff_delay, is_loopback


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
