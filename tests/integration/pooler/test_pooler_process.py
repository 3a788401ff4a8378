"""The pooler as its own process (`python -m pooler`): FEED=auto against an unreachable endpoint publishes
the simulation, says so in /healthz and the log, returns to live once the endpoint appears, and stops
cleanly on SIGTERM; hostile venue frames are counted and skipped while the process stays up."""

from __future__ import annotations

import sys
from pathlib import Path

from pooler.fake_backpack import FakeBackpack
from tests.integration.pooler.helpers import (
    EXPECTED,
    SCRIPT,
    http_get,
    inject,
    quotes_of,
    stream_updates,
    wait_until,
)
from tests.support.net import free_port, wait_listening
from tests.support.processes import ManagedProcess


async def test_auto_falls_back_to_sim_and_back_to_live(redis_url, key_prefix, redis_client, tmp_path: Path) -> None:
    live_port, http_port = free_port(), free_port()  # nothing listens on live_port yet: connection refused
    stream = f"{key_prefix}stream:engine"
    pooler = ManagedProcess(
        [sys.executable, "-m", "pooler"],
        tmp_path / "pooler.log",
        env={
            "FEED": "auto",
            "BACKPACK_WS_URL": f"ws://127.0.0.1:{live_port}",
            "POOLER_HTTP_PORT": str(http_port),
            "REDIS_URL": redis_url,
            "STREAM_KEY": stream,
            "PRICE_CHANNEL": f"{key_prefix}ws:price:update",
            "FEED_BACKOFF_INITIAL_MS": "100",
            "FEED_BACKOFF_MAX_MS": "300",
            "FEED_FALLBACK_AFTER_SECONDS": "1",
            "SIM_SEED": "5",
            "LOG_FORMAT": "json",
            "SHUTDOWN_GRACE_SECONDS": "5",
        },
    ).start()
    fake: FakeBackpack | None = None
    try:
        wait_listening("127.0.0.1", http_port, what="pooler health")

        async def source_is(source: str) -> bool:
            return (await http_get(http_port, "/healthz"))[1]["feed"]["source"] == source

        await wait_until(lambda: source_is("sim"), "fallback to the simulation")
        status, health = await http_get(http_port, "/healthz")
        assert health["feed"]["fallback"] is True and health["feed"]["simulated"] is True
        assert "cannot connect" in health["feed"]["live"]["last_error"]

        async def published(source: str) -> bool:
            return any(u.source == source and len(u.quotes) == 3 for _, u in await stream_updates(redis_client, stream))

        await wait_until(lambda: published("sim"), "simulated prices on the stream")
        status, health = await http_get(http_port, "/healthz")
        assert (status, health["status"]) == (200, "degraded")
        assert "publishing SIMULATED prices" in pooler.output()

        fake = FakeBackpack(port=live_port, script=SCRIPT, ticker_interval=0.2, close_grace=1.0)
        await fake.start()
        await wait_until(lambda: source_is("backpack"), "back to the live feed")
        await wait_until(lambda: published("backpack"), "live prices on the stream")
        live_updates = [u for _, u in await stream_updates(redis_client, stream) if u.source == "backpack"]
        assert all(quotes_of(u).items() <= EXPECTED.items() for u in live_updates)
        assert "live feed is back" in pooler.output()
        # once live, the simulation no longer reaches the stream
        last_id = (await redis_client.xrevrange(stream, count=1))[0][0]
        await wait_until(lambda: fake is not None and fake.counters["bookTicker_frames"] > 30, "more live frames")
        newer = [u for entry_id, u in await stream_updates(redis_client, stream) if entry_id > last_id]
        assert newer and all(u.source == "backpack" for u in newer)
    finally:
        code = pooler.stop()
        if fake is not None:
            await fake.stop()
    assert code == 0, pooler.output()[-3000:]
    assert "pooler stopped" in pooler.output()


def test_bad_configuration_exits_with_a_clear_message(tmp_path: Path) -> None:
    proc = ManagedProcess(
        [sys.executable, "-m", "pooler"],
        tmp_path / "pooler.log",
        env={"FEED": "fake", "BACKPACK_WS_URL": "wss://ws.backpack.exchange"},
    ).start()
    assert proc.proc is not None and proc.proc.wait(timeout=60) == 2
    assert "FEED=fake needs BACKPACK_WS_URL" in proc.output()


async def test_hostile_frames_leave_the_process_up_and_publishing(
    redis_url, key_prefix, redis_client, tmp_path: Path
) -> None:
    http_port, stream = free_port(), f"{key_prefix}stream:engine"
    fake = FakeBackpack(script=SCRIPT, ticker_interval=0.2, close_grace=1.0)
    await fake.start()
    pooler = ManagedProcess(
        [sys.executable, "-m", "pooler"],
        tmp_path / "pooler.log",
        env={
            "FEED": "fake",
            "BACKPACK_WS_URL": fake.url,
            "POOLER_HTTP_PORT": str(http_port),
            "REDIS_URL": redis_url,
            "STREAM_KEY": stream,
            "PRICE_CHANNEL": f"{key_prefix}ws:price:update",
            "LOG_FORMAT": "json",
            "SHUTDOWN_GRACE_SECONDS": "5",
        },
    ).start()
    try:
        wait_listening("127.0.0.1", http_port, what="pooler health")

        async def publishing_everything() -> bool:
            return any(quotes_of(u) == EXPECTED for _, u in await stream_updates(redis_client, stream))

        await wait_until(publishing_everything, "all three assets published")
        # the three frames, over the fake's HTTP control and a real websocket
        for fields in ({"a": '"10000000000000000"'}, {"E": "9" * 30}, {"a": "1e999999999"}):
            assert await inject(fake.port, "BTC_USDC", fields) == {"sent": 1}

        async def all_counted() -> bool:
            _, metrics = await http_get(http_port, "/metrics")
            return 'pooler_feed_parse_errors_total{reason="number",source="fake"} 3.0' in metrics

        await wait_until(all_counted, "the three hostile values counted")
        last = (await redis_client.xrevrange(stream, count=1))[0][0]

        async def published_after() -> bool:
            return any(
                entry_id > last and quotes_of(u) == EXPECTED
                for entry_id, u in await stream_updates(redis_client, stream)
            )

        await wait_until(published_after, "every asset published after the hostile frames")
        assert pooler.proc is not None and pooler.proc.poll() is None, pooler.output()[-3000:]
        assert fake.counters["connections"] == 1
    finally:
        code = pooler.stop()
        await fake.stop()
    assert code == 0, pooler.output()[-3000:]
