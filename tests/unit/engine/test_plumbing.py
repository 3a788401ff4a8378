"""The engine's small pure parts: stream id ordering, page tokens, settings, the reply hub's routing."""

from __future__ import annotations

from fractions import Fraction

import grpc
import pytest
from exness.engine.v1 import commands_pb2
from pydantic import ValidationError

from engine.config import EngineSettings
from engine.metrics import EngineMetrics
from engine.replies import MAX_PARKED_GATEWAYS, PARK_SECONDS, QUEUE_CAPACITY, ReplyHub
from engine.stream import entry_key, entry_time_ms
from engine.trades import InvalidPageToken, asyncpg_url, decode_page_token, encode_page_token


def test_entry_ids_order_numerically_and_give_the_time() -> None:
    assert entry_key("1700000000000-10") > entry_key("1700000000000-9")
    assert entry_key("1700000000001-0") > entry_key("1700000000000-99")
    assert entry_time_ms("1700000000123-4") == 1700000000123


def test_page_tokens_round_trip_and_garbage_is_refused() -> None:
    assert decode_page_token(encode_page_token(1234, "pos-1-2")) == (1234, "pos-1-2")
    forged = [encode_page_token(10**20, "x"), encode_page_token(-1, "x"), encode_page_token(5, "pos\x00x"),
              encode_page_token(5, "p" * 500)]
    for garbage in ("%%%", "bm90LWEtdG9rZW4=", "", *forged):
        with pytest.raises(InvalidPageToken):
            decode_page_token(garbage)


def test_database_url_gets_the_asyncpg_driver() -> None:
    assert asyncpg_url("postgresql://postgres@h:5432/db") == "postgresql+asyncpg://postgres@h:5432/db"
    with pytest.raises(ValueError):
        asyncpg_url("mysql://h/db")


def test_settings_build_exact_rules() -> None:
    settings = EngineSettings(maintenance_margin_rate="0.005", max_leverage=50, assets="BTC_USDC:2:0.001")
    rules = settings.rules()
    assert rules.maintenance_margin_rate == Fraction(1, 200)
    assert rules.max_leverage == 50 and rules.assets["BTC_USDC"].step == 100_000
    assert EngineSettings(stream_key="s:1").lease_key == "s:1:lease"
    with pytest.raises(ValidationError):
        EngineSettings(maintenance_margin_rate="1.5")
    assert EngineSettings().rules().max_open_positions_per_account == 1_000
    assert EngineSettings(max_open_positions_per_account=7).rules().max_open_positions_per_account == 7
    with pytest.raises(ValidationError):
        EngineSettings(max_open_positions_per_account=0)


def _dropped(metrics: EngineMetrics, reason: str) -> float | None:
    return metrics.registry.get_sample_value("engine_replies_dropped_total", {"reason": reason})


def _reply(request_id: str) -> commands_pb2.Reply:
    return commands_pb2.Reply(request_id=request_id)


async def test_reply_hub_routes_drops_and_hands_over_on_reconnect() -> None:
    metrics = EngineMetrics()
    hub = ReplyHub(metrics)
    first = hub.open("gw")
    assert hub.send("gw", _reply("a"))
    # the gateway reconnects before draining: the new call gets "a", the old call ends cleanly
    second = hub.open("gw")
    assert await first.next() is None and first.end_status == grpc.StatusCode.OK
    assert (await second.next()).request_id == "a"  # type: ignore[union-attr]
    hub.detach(first)  # the old call's cleanup must not unregister the new one
    assert hub.gateway_ids == ["gw"]

    for i in range(QUEUE_CAPACITY):
        assert hub.send("gw", _reply(str(i)))
    assert not hub.send("gw", _reply("overflow"))
    assert _dropped(metrics, "queue_full") == 1

    hub.end_all(grpc.StatusCode.UNAVAILABLE, "bye")
    # an ended stream still delivers what was queued before it ends
    delivered = [reply.request_id for reply in [await second.next() for _ in range(QUEUE_CAPACITY)] if reply]
    assert delivered == [str(i) for i in range(QUEUE_CAPACITY)]
    assert await second.next() is None and second.end_status == grpc.StatusCode.UNAVAILABLE
    assert hub.gateway_ids == []


async def test_replies_for_an_absent_gateway_are_parked_until_it_attaches_or_they_expire() -> None:
    metrics = EngineMetrics()
    now = [1000.0]
    hub = ReplyHub(metrics, clock=lambda: now[0])
    # a replaying engine answers before the gateway has reconnected: the replies wait for it
    assert hub.send("gw", _reply("a")) and hub.send("gw", _reply("b"))
    assert hub.gateway_ids == []
    stream = hub.open("gw")
    assert [(await stream.next()).request_id for _ in range(2)] == ["a", "b"]  # type: ignore[union-attr]
    assert "gw" not in hub.parked

    # nobody claims them: dropped (and counted) once they are older than any gateway's wait
    assert hub.send("gone", _reply("c"))
    now[0] += PARK_SECONDS
    assert hub.send("other", _reply("d"))
    assert "gone" not in hub.parked and _dropped(metrics, "gateway_absent") == 1
    assert not hub.open("gone").items

    # bounded: beyond MAX_PARKED_GATEWAYS absent gateways, replies are dropped at once
    for i in range(MAX_PARKED_GATEWAYS - 1):
        assert hub.send(f"absent-{i}", _reply("e"))
    assert not hub.send("one-too-many", _reply("f"))
    assert _dropped(metrics, "gateway_absent") == 2
    hub.end_all(grpc.StatusCode.UNAVAILABLE, "stepping down")
    assert hub.parked == {}


async def test_replies_queued_on_a_call_that_goes_away_wait_for_the_reconnect() -> None:
    hub = ReplyHub(EngineMetrics())
    call = hub.open("gw")
    assert hub.send("gw", _reply("a")) and hub.send("gw", _reply("b"))
    assert (await call.next()).request_id == "a"  # type: ignore[union-attr]
    hub.detach(call)  # the gateway's call broke before "b" went out
    again = hub.open("gw")
    assert (await again.next()).request_id == "b"  # type: ignore[union-attr]
    assert not again.items
