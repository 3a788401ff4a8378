"""Pooler + fake Backpack (real websocket) + real Redis, in one event loop: publishing, reconnects, Close
frames, garbage, silent symbols, the watchdog, protocol pings, staleness, health and metrics."""

from __future__ import annotations

import asyncio
import itertools
import statistics
from decimal import Decimal

import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2

from engine import translate
from engine.domain import CreateAccount, OpenPosition, Rejection, RejectReason, Side, TradingState, default_rules
from mesh.stream_codec import decode_price_update
from pooler.fake_backpack import FakeBackpack, ScriptStep
from pooler.pricepath import Top
from tests.integration.pooler.helpers import (
    EXPECTED,
    SCRIPT,
    http_get,
    inject,
    pooler_settings,
    quotes_of,
    stream_updates,
    wait_until,
)
from tests.support.net import free_port

ALL_STREAMS = sorted(
    f"{kind}.{symbol}" for kind in ("bookTicker", "ticker") for symbol in ("BTC_USDC", "ETH_USDC", "SOL_USDC")
)


async def test_quotes_reach_stream_and_channel_with_exact_integers_at_the_cadence(
    fake, start_pooler, redis_url, key_prefix, redis_client: aioredis.Redis
) -> None:
    settings = pooler_settings(redis_url, key_prefix, feed="fake", backpack_ws_url=fake.url)
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(settings.price_channel)
    await start_pooler(settings)
    stream = settings.stream_key

    async def enough_full_updates() -> bool:
        updates = await stream_updates(redis_client, stream)
        return sum(len(u.quotes) == 3 for _, u in updates) >= 20

    await wait_until(enough_full_updates, "20 complete updates on the stream")
    updates = [u for _, u in await stream_updates(redis_client, stream)]
    full = [u for u in updates if len(u.quotes) == 3]
    for update in full:
        assert quotes_of(update) == EXPECTED
        assert update.source == "fake"
        assert [q.asset for q in update.quotes] == ["BTC_USDC", "ETH_USDC", "SOL_USDC"]
        assert all(q.decimal == 4 and q.venue_time_ms > 0 for q in update.quotes)
    gaps = [b.published_at_ms - a.published_at_ms for a, b in itertools.pairwise(updates)]
    assert 70 <= statistics.median(gaps) <= 200, gaps

    channel = []
    while len(channel) < 5:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
        if message is not None:
            channel.append(decode_price_update(message["data"]))
    assert any(quotes_of(update) == EXPECTED for update in channel)
    assert all(update.source == "fake" for update in channel)
    await pubsub.aclose()


async def test_dropped_connection_is_reconnected_and_resubscribed(
    fake: FakeBackpack, start_pooler, redis_url, key_prefix, redis_client
) -> None:
    runner = await start_pooler(pooler_settings(redis_url, key_prefix, feed="fake", backpack_ws_url=fake.url))
    await wait_until(lambda: runner.pooler.live.status.priced, "live prices")
    assert fake.drop_all() == 1
    await wait_until(
        lambda: fake.counters["connections"] == 2 and fake.stats()["subscriptions"] == [ALL_STREAMS],
        "a second connection with every stream subscribed again",
    )
    assert fake.counters["subscribe_frames"] == 2
    fake.paused = True  # the script would overwrite the top below within 90 ms
    await fake.publish_top(Top("BTC_USDC", Decimal("70000.0"), Decimal("70000.1"), Decimal(1), Decimal(1)))

    async def new_price_published() -> bool:
        return any(
            quotes_of(u).get("BTC_USDC") == (707001010, 700000000)
            for _, u in await stream_updates(redis_client, runner.pooler.settings.stream_key)
        )

    await wait_until(new_price_published, "a price sent after the reconnect on the stream")
    _, health = await http_get(runner.pooler.http.port, "/healthz")
    assert health["feed"]["live"]["reconnects"] == 1
    assert "without a close frame" in health["feed"]["live"]["last_error"]
    _, metrics = await http_get(runner.pooler.http.port, "/metrics")
    assert 'pooler_feed_reconnects_total{source="fake"} 1.0' in metrics


async def test_close_frame_triggers_an_immediate_reconnect(fake, start_pooler, redis_url, key_prefix) -> None:
    # a backoff this long would stall the test: the Close frame must bypass it
    runner = await start_pooler(
        pooler_settings(
            redis_url,
            key_prefix,
            feed="fake",
            backpack_ws_url=fake.url,
            feed_backoff_initial_ms=60_000,
            feed_backoff_max_ms=60_000,
        )
    )
    await wait_until(lambda: runner.pooler.live.status.priced, "live prices")
    assert await fake.close_all(1001, "server shutting down") == 1
    await wait_until(
        lambda: fake.counters["connections"] == 2 and fake.stats()["subscriptions"] == [ALL_STREAMS],
        "reconnected and resubscribed after the Close frame",
        limit=10,
    )
    assert "code 1001" in runner.pooler.live.status.last_error


async def test_garbage_and_error_frames_do_not_stop_the_feed(
    fake, start_pooler, redis_url, key_prefix, redis_client
) -> None:
    runner = await start_pooler(pooler_settings(redis_url, key_prefix, feed="fake", backpack_ws_url=fake.url))
    await wait_until(lambda: runner.pooler.live.status.priced, "live prices")
    for text in (
        "this is not json {",
        "[1,2]",
        '{"id":null,"error":{"code":4006,"message":"Invalid stream"}}',
        '{"data":{"e":"bookTicker","s":"BTC_USDC","a":"1e5","b":"1","E":1,"u":1},"stream":"bookTicker.BTC_USDC"}',
        "\x00\x01",
    ):
        await fake.send_raw_all(text)
    fake.u_as_string = True
    fake.paused = True  # the script would overwrite the top below within 90 ms
    await fake.publish_top(Top("SOL_USDC", Decimal("101.00"), Decimal("101.01"), Decimal(1), Decimal(1)))

    async def new_price_published() -> bool:
        return any(
            quotes_of(u).get("SOL_USDC") == (1020201, 1010000)
            for _, u in await stream_updates(redis_client, runner.pooler.settings.stream_key)
        )

    await wait_until(new_price_published, "a price sent after the garbage (with u as a string) on the stream")
    assert fake.counters["connections"] == 1
    _, metrics = await http_get(runner.pooler.http.port, "/metrics")
    assert 'pooler_feed_parse_errors_total{reason="json",source="fake"} 2.0' in metrics
    assert 'pooler_feed_parse_errors_total{reason="shape",source="fake"} 1.0' in metrics
    assert 'pooler_feed_parse_errors_total{reason="field",source="fake"} 1.0' in metrics
    assert 'pooler_feed_venue_errors_total{code="4006",source="fake"} 1.0' in metrics


async def test_unknown_symbol_is_reported_silent_while_the_others_publish(
    fake, start_pooler, redis_url, key_prefix, redis_client
) -> None:
    runner = await start_pooler(
        pooler_settings(
            redis_url,
            key_prefix,
            feed="fake",
            backpack_ws_url=fake.url,
            feed_subscribe_timeout_seconds=0.5,
            assets="BTC_USDC:4:0.00001,NOPE_USDC:4:0.01",
        )
    )
    await wait_until(lambda: runner.pooler.live.status.silent_symbols == ["NOPE_USDC"], "NOPE_USDC reported silent")
    status, health = await http_get(runner.pooler.http.port, "/healthz")
    assert health["feed"]["live"]["silent_symbols"] == ["NOPE_USDC"]
    assert status == 200 and health["status"] == "degraded" and health["quotes"]["NOPE_USDC"] is None
    updates = await stream_updates(redis_client, runner.pooler.settings.stream_key)
    assert updates and all([q.asset for q in u.quotes] == ["BTC_USDC"] for _, u in updates)
    assert fake.counters["connections"] == 1


async def test_watchdog_drops_a_silent_connection(fake, start_pooler, redis_url, key_prefix) -> None:
    runner = await start_pooler(
        pooler_settings(redis_url, key_prefix, feed="fake", backpack_ws_url=fake.url, feed_watchdog_seconds=0.5)
    )
    await wait_until(lambda: runner.pooler.live.status.priced, "live prices")
    fake.paused = True
    await wait_until(lambda: fake.counters["connections"] >= 2, "the watchdog reconnects a silent socket")
    assert "no frame for 0.5s" in runner.pooler.live.status.last_error
    fake.paused = False
    await wait_until(lambda: runner.pooler.live.status.priced, "prices again")


async def test_protocol_pings_are_answered_and_the_connection_stays(start_pooler, redis_url, key_prefix) -> None:
    server = FakeBackpack(seed=3, ping_interval=0.1, ping_timeout=0.3, ticker_interval=0.2)
    await server.start()
    try:
        runner = await start_pooler(pooler_settings(redis_url, key_prefix, feed="fake", backpack_ws_url=server.url))
        await wait_until(lambda: runner.pooler.live.status.priced, "live prices")
        # ten ping intervals: a client that did not pong would have been closed after the first timeout
        await asyncio.sleep(1.0)
        assert server.counters["connections"] == 1 and server.stats()["open"] == 1
        assert runner.pooler.live.status.connections == 1
    finally:
        await server.stop()


async def test_stale_quotes_are_not_published(fake, start_pooler, redis_url, key_prefix, redis_client) -> None:
    runner = await start_pooler(
        pooler_settings(
            redis_url, key_prefix, feed="fake", backpack_ws_url=fake.url, quote_max_age_ms=300, feed_watchdog_seconds=60
        )
    )
    pooler = runner.pooler
    await wait_until(lambda: pooler.publisher.status.published >= 3, "publishing")
    fake.paused = True
    await wait_until(lambda: pooler.publisher.status.skipped >= 5, "ticks skipped once every quote is stale")
    length = await redis_client.xlen(pooler.settings.stream_key)
    skipped = pooler.publisher.status.skipped
    await wait_until(lambda: pooler.publisher.status.skipped >= skipped + 3, "more skipped ticks")
    assert await redis_client.xlen(pooler.settings.stream_key) == length
    _, health = await http_get(pooler.http.port, "/healthz")
    assert all(not q["fresh"] for q in health["quotes"].values())
    fake.paused = False
    await wait_until(lambda: pooler.publisher.status.published > length, "publishing again once quotes are fresh")


async def test_publishing_never_trims_the_stream(fake, start_pooler, redis_url, key_prefix, redis_client) -> None:
    # the cadence is out of the way (first tick after a minute): the test publishes by hand
    runner = await start_pooler(
        pooler_settings(redis_url, key_prefix, feed="fake", backpack_ws_url=fake.url, publish_interval_ms=60_000)
    )
    pooler, stream = runner.pooler, runner.pooler.settings.stream_key
    await wait_until(lambda: len(pooler.book.fresh("fake", asyncio.get_running_loop().time())) == 3, "quotes")
    # commands already in the log that no engine has applied: the pooler must never cut them
    for number in range(250):
        await redis_client.xadd(stream, {"type": "PRICE_UPDATE", "payload": b"", "n": number})
    watcher = aioredis.Redis.from_url(redis_url)
    xadds: list[str] = []
    try:
        async with watcher.monitor() as monitor:
            for _ in range(5):
                assert await pooler.publisher.publish_once(asyncio.get_running_loop().time())
            # the server reports every command; the shared server's other traffic is skipped
            async with asyncio.timeout(60):  # only bounds a broken run
                while len(xadds) < 5:
                    command = (await monitor.next_command())["command"]
                    if command.upper().startswith("XADD") and stream in command:
                        xadds.append(command)
    finally:
        await watcher.aclose()
    assert all("MAXLEN" not in c.upper() and "MINID" not in c.upper() for c in xadds), xadds
    info = await redis_client.xinfo_stream(stream)
    assert info["entries-added"] == info["length"] == 255
    # the growth is visible instead: the length the pooler saw
    assert pooler.publisher.status.stream_length == 255
    assert pooler.metrics.registry.get_sample_value("pooler_stream_length") == 255
    _, health = await http_get(pooler.http.port, "/healthz")
    assert health["publisher"]["stream_length"] == 255


async def test_health_and_metrics_endpoints(fake, start_pooler, redis_url, key_prefix) -> None:
    runner = await start_pooler(pooler_settings(redis_url, key_prefix, feed="fake", backpack_ws_url=fake.url))
    port = runner.pooler.http.port

    async def healthy() -> bool:
        return (await http_get(port, "/healthz"))[1]["status"] == "ok"

    await wait_until(healthy, "healthy")
    status, health = await http_get(port, "/healthz")
    assert status == 200
    assert health["feed"] | {"live": None} == {
        "mode": "fake",
        "source": "fake",
        "fallback": False,
        "simulated": False,
        "live": None,
    }
    assert {q["buy_price"] for q in health["quotes"].values()} == {b for b, _ in EXPECTED.values()}
    assert all(q["age_ms"] < 5000 for q in health["quotes"].values())
    _, metrics = await http_get(port, "/metrics")
    for name in (
        "pooler_feed_frames_total",
        "pooler_feed_reconnects_total",
        "pooler_quote_age_seconds",
        "pooler_publish_lag_seconds_bucket",
        "pooler_feed_parse_errors_total",
        "pooler_feed_delay_seconds",
    ):
        assert name in metrics
    assert (await http_get(port, "/nope"))[0] == 404
    for request, expected in [(b"POST /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"405"), (b"nonsense\r\n\r\n", b"400")]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        status_line = await reader.readline()
        writer.close()
        assert status_line.split()[1] == expected, status_line


async def test_auto_falls_back_when_live_goes_away_and_returns(
    start_pooler, redis_url, key_prefix, redis_client
) -> None:
    # BTC far from the walk's built-in start, to see the simulation continue from the live price
    away = [ScriptStep("BTC_USDC", Decimal("50000.0"), Decimal("50000.1"), Decimal(1), Decimal(1), 30), *SCRIPT[1:]]
    live = FakeBackpack(script=away, ticker_interval=0.2, close_grace=0.5)
    await live.start()
    port = live.port
    runner = await start_pooler(
        pooler_settings(
            redis_url, key_prefix, feed="auto", backpack_ws_url=live.url, feed_fallback_after_seconds=0.5, sim_seed=1
        )
    )
    pooler = runner.pooler
    await wait_until(lambda: pooler.live.status.priced and pooler.active_source == "backpack", "live prices")
    await live.stop()  # Close frame, then the port is gone: every reconnect is refused
    await wait_until(lambda: pooler.active_source == "sim", "fallback to the simulation")
    assert pooler.auto.fallbacks == 1
    # the walk continues from the last live prices instead of jumping to its built-in ones
    await wait_until(lambda: pooler.book.latest("sim", "BTC_USDC") is not None, "a simulated BTC quote")
    btc = pooler.book.latest("sim", "BTC_USDC")
    assert btc is not None and abs(btc.sell_price - 50000_0000) < 100 * 10**4
    _, metrics = await http_get(pooler.http.port, "/metrics")
    assert "pooler_feed_fallback 1.0" in metrics and 'pooler_feed_active{source="sim"} 1.0' in metrics
    live = FakeBackpack(port=port, script=SCRIPT, ticker_interval=0.2, close_grace=0.5)
    await live.start()
    try:
        await wait_until(lambda: pooler.active_source == "backpack", "back to live")

        async def live_published() -> bool:
            updates = await stream_updates(redis_client, pooler.settings.stream_key)
            return updates[-1][1].source == "backpack" and quotes_of(updates[-1][1]).items() <= EXPECTED.items()

        await wait_until(live_published, "live prices on the stream again")
    finally:
        await live.stop()


async def test_refused_handshakes_back_off_then_recover(fake, start_pooler, redis_url, key_prefix) -> None:
    runner = await start_pooler(pooler_settings(redis_url, key_prefix, feed="fake", backpack_ws_url=fake.url))
    status = runner.pooler.live.status
    await wait_until(lambda: status.priced, "live prices")
    fake.refusing = True
    fake.drop_all()
    await wait_until(lambda: fake.counters["refused"] >= 3, "three refused attempts")
    assert status.failures >= 3 and "503" in status.last_error
    fake.refusing = False
    await wait_until(lambda: status.priced, "prices again after the outage")
    assert fake.counters["connections"] == 2


async def test_redis_outage_is_reported_and_the_pooler_keeps_running(fake, start_pooler, redis_url, key_prefix) -> None:
    closed_port = free_port()
    runner = await start_pooler(
        pooler_settings(f"redis://127.0.0.1:{closed_port}/0", key_prefix, feed="fake", backpack_ws_url=fake.url)
    )
    pooler = runner.pooler
    await wait_until(lambda: pooler.publisher.status.errors >= 3, "failed publishes")
    status, health = await http_get(pooler.http.port, "/healthz")
    assert status == 503 and health["status"] in ("starting", "down")
    assert "ConnectionError" in health["publisher"]["last_error"]
    assert not runner.task.done() and pooler.live.status.priced


async def test_sim_feed_publishes_a_seeded_walk(start_pooler, redis_url, key_prefix, redis_client) -> None:
    runner = await start_pooler(pooler_settings(redis_url, key_prefix, feed="sim", sim_seed=42, sim_interval_ms=20))
    stream = runner.pooler.settings.stream_key

    async def published() -> bool:
        return len(await stream_updates(redis_client, stream)) >= 5

    await wait_until(published, "simulated updates")
    for _, update in await stream_updates(redis_client, stream):
        assert update.source == "sim" and [q.asset for q in update.quotes] == ["BTC_USDC", "ETH_USDC", "SOL_USDC"]
        # ask > bid and a 1% spread on top: buy is always above sell
        assert all(q.buy_price > q.sell_price > 0 for q in update.quotes)
    _, health = await http_get(runner.pooler.http.port, "/healthz")
    assert health["feed"] == {"mode": "sim", "source": "sim", "fallback": False, "simulated": True}


async def test_an_empty_book_side_stops_that_asset_until_a_full_top(
    fake, start_pooler, redis_url, key_prefix, redis_client
) -> None:
    runner = await start_pooler(pooler_settings(redis_url, key_prefix, feed="fake", backpack_ws_url=fake.url))
    stream = runner.pooler.settings.stream_key
    await wait_until(lambda: runner.pooler.publisher.status.published >= 1, "publishing")
    fake.paused = True
    await fake.publish_top(
        Top("BTC_USDC", Decimal("68990.0"), Decimal("68990.1"), Decimal(1), Decimal(1)), empty_side="ask"
    )
    last = (await redis_client.xrevrange(stream, count=1))[0][0]

    async def published_without_btc() -> bool:
        newer = [u for entry_id, u in await stream_updates(redis_client, stream) if entry_id > last]
        return len(newer) >= 2 and all("BTC_USDC" not in quotes_of(u) for u in newer[1:])

    await wait_until(published_without_btc, "updates without BTC after its ask side emptied")
    await fake.publish_top(Top("BTC_USDC", Decimal("68990.0"), Decimal("68990.1"), Decimal(1), Decimal(1)))

    async def btc_back() -> bool:
        _, update = (await stream_updates(redis_client, stream))[-1]
        return quotes_of(update).get("BTC_USDC") == (696800010, 689900000)

    await wait_until(btc_back, "BTC quoted again after a full top")


async def test_hostile_numbers_are_counted_and_skipped_while_the_other_assets_keep_publishing(
    fake, start_pooler, redis_url, key_prefix, redis_client
) -> None:
    runner = await start_pooler(pooler_settings(redis_url, key_prefix, feed="fake", backpack_ws_url=fake.url))
    pooler, stream = runner.pooler, runner.pooler.settings.stream_key
    await wait_until(lambda: pooler.publisher.status.published >= 1, "publishing")
    # BTC_USDC tops whose numbers, unbounded, overflow int64 (the publisher dies and the pooler with it),
    # build a billion-digit integer (the loop freezes for hours), or exceed Python's int() limit
    hostile = [
        {"a": '"10000000000000000"'},
        {"E": "99999999999999999999"},
        {"a": "1e999999999"},
        {"b": "1e-999999999"},
        {"u": "9" * 1000},
        {"A": "1E+999999999"},
        # inside the parser's bounds, beyond int64 once scaled to 10^4 with the spread
        {"a": '"1000000000000000"'},
    ]
    for fields in hostile:
        # over the fake's HTTP control, as a test of the pooler process would; the frame goes on the websocket
        assert await inject(fake.port, "BTC_USDC", fields) == {"sent": 1}

    def refused(reason: str) -> float:
        return (
            pooler.metrics.registry.get_sample_value(
                "pooler_feed_parse_errors_total", {"source": "fake", "reason": reason}
            )
            or 0.0
        )

    await wait_until(lambda: (refused("number"), refused("range")) == (6.0, 1.0), "every hostile value counted")
    last = (await redis_client.xrevrange(stream, count=1))[0][0]

    async def complete_update_after_the_hostile_frames() -> bool:
        return any(
            entry_id > last and quotes_of(u) == EXPECTED for entry_id, u in await stream_updates(redis_client, stream)
        )

    # ETH and SOL never stopped; BTC is back with the script's next good top
    await wait_until(complete_update_after_the_hostile_frames, "all three assets published after the hostile frames")
    assert not runner.task.done(), "the pooler stopped"
    assert fake.counters["connections"] == 1, "a bad value must not cost the connection"
    assert pooler.publisher.status.errors == 0


async def test_a_republished_quote_is_dated_by_its_last_confirmation_and_the_engine_ages_it_from_there(
    fake, start_pooler, redis_url, key_prefix, redis_client
) -> None:
    # a long QUOTE_MAX_AGE_MS: the pooler goes on re-publishing the last tops after the venue falls silent
    runner = await start_pooler(
        pooler_settings(
            redis_url,
            key_prefix,
            feed="fake",
            backpack_ws_url=fake.url,
            quote_max_age_ms=60_000,
            feed_watchdog_seconds=60,
        )
    )
    stream = runner.pooler.settings.stream_key
    await wait_until(lambda: runner.pooler.publisher.status.published >= 3, "publishing")
    fake.paused = True  # no more tops and no tickers: nothing confirms the last tops

    async def republishing_unconfirmed_tops() -> bool:
        tail = [u for _, u in await stream_updates(redis_client, stream)][-5:]
        return (
            len(tail) == 5
            and all(len(u.quotes) == 3 for u in tail)
            and len({tuple(q.confirmed_at_ms for q in u.quotes) for u in tail}) == 1
        )

    await wait_until(republishing_unconfirmed_tops, "five updates re-publishing the same confirmations")
    entries = await stream_updates(redis_client, stream)
    tail = [u for _, u in entries][-5:]
    # the confirmation stays put while the publish time moves on
    assert tail[-1].published_at_ms - tail[0].published_at_ms >= 4 * runner.pooler.settings.publish_interval_ms - 50
    for update in tail:
        assert all(0 < q.confirmed_at_ms <= update.published_at_ms for q in update.quotes)

    # the engine's domain, fed these very entries at their stream times (the Redis clock), up to the last
    # one still within the staleness limit of the final confirmation (on a slow machine, later ones exist).
    # It dates each quote by its entry's time minus the age the pooler measured on its own clock
    # (published - confirmed): the re-published top keeps ageing from its confirmation, not from its entry.
    limit = default_rules().price_stale_after_ms
    btc_confirmed = tail[-1].quotes[0].confirmed_at_ms
    state = TradingState(default_rules())
    state.apply(CreateAccount("alice", "alice@example.com", 1_000_000), entry_id="0-1", time_ms=1)
    last_entry_ms = expected_date = 0
    for entry_id, update in entries:
        entry_ms = int(entry_id.split(b"-")[0])
        if entry_ms >= btc_confirmed + limit:
            break
        command = translate.command_from_proto(commands_pb2.Command(price_update=update))
        state.apply(command, entry_id=entry_id.decode(), time_ms=entry_ms)
        btc = update.quotes[0]
        age = max(0, update.published_at_ms - btc.confirmed_at_ms)
        if age <= limit:
            last_entry_ms, expected_date = entry_ms, entry_ms - age
    quote = state.quote("BTC_USDC")
    # the last entry applied re-published the final confirmation (it is not the one that first carried it):
    # the quote is dated well before that entry
    assert quote is not None and quote.received_at_ms == expected_date < last_entry_ms - 1
    order = OpenPosition("alice", "BTC_USDC", Side.LONG, 1_000, 10, 100, 0, 0, 0)
    at_ms = expected_date + limit + 1
    # within the limit of the last entry, beyond it of the quote's date: stale
    assert at_ms - last_entry_ms < limit
    refused = state.apply(order, entry_id=f"{at_ms}-0", time_ms=at_ms).reply
    assert isinstance(refused, Rejection) and refused.reason is RejectReason.PRICE_STALE
