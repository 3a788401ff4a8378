"""engine.replies: the reply hub routes replies, drops them when full, parks them for an absent gateway
and hands them over on reconnect."""

from __future__ import annotations

import grpc
from exness.engine.v1 import commands_pb2

from engine.metrics import EngineMetrics
from engine.replies import MAX_PARKED_GATEWAYS, PARK_SECONDS, QUEUE_CAPACITY, RESEND_SECONDS, ReplyHub


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
    hub.detach(call)  # the gateway's call broke before "b" went out, and maybe with "a" still in its buffers
    again = hub.open("gw")
    # "a" was only handed to gRPC: sent again (a gateway ignores a reply it already has), then "b"
    assert (await again.next()).request_id == "a"  # type: ignore[union-attr]
    assert (await again.next()).request_id == "b"  # type: ignore[union-attr]
    assert not again.items


async def test_a_batch_handed_to_grpc_is_sent_again_after_a_break_until_it_is_old() -> None:
    """A review found a batch lost when the call broke while it still sat in the send buffers: `sent` only
    means gRPC took it. Replies handed over within RESEND_SECONDS go out again on the reconnect; older ones
    (the gateway stopped waiting for them long ago) do not."""
    now = [1_000.0]
    hub = ReplyHub(EngineMetrics(), clock=lambda: now[0])
    call = hub.open("gw")
    assert hub.send("gw", _reply("old"))
    batch = await call.next_batch()
    assert [r.request_id for r in batch or []] == ["old"]
    call.sent(1)
    now[0] += RESEND_SECONDS + 1
    assert hub.send("gw", _reply("x")) and hub.send("gw", _reply("y"))
    batch = await call.next_batch()
    call.sent(len(batch or []))
    assert not call.items
    again = hub.open("gw")  # a reconnect with the same id ends the broken call
    assert [r.request_id for r in again.items] == ["x", "y"]
    # the same after a detach: the maybe-undelivered replies are parked for the reconnect
    batch = await again.next_batch()
    again.sent(len(batch or []))
    hub.detach(again)
    third = hub.open("gw")
    assert [r.request_id for r in third.items] == ["x", "y"]


async def test_held_replies_go_out_only_when_released() -> None:
    """Fencing: a batch's replies wait for its fenced acknowledgement; a refused one drops them."""
    metrics = EngineMetrics()
    hub = ReplyHub(metrics)
    stream = hub.open("gw")
    hub.hold()
    assert hub.send("gw", _reply("a")) and hub.send("gw", _reply("b"))
    assert list(stream.items) == []
    hub.release()
    assert [reply.request_id for reply in stream.items] == ["a", "b"]
    assert hub.send("gw", _reply("c"))  # not holding any more: queued at once
    assert len(stream.items) == 3

    hub.hold()
    hub.send("gw", _reply("stale"))
    assert hub.discard() == 1
    hub.release()  # nothing held: nothing sent
    assert [reply.request_id for reply in stream.items] == ["a", "b", "c"]
    assert _dropped(metrics, "fenced") == 1

    hub.hold()
    hub.send("gw", _reply("at-step-down"))
    hub.end_all(grpc.StatusCode.UNAVAILABLE, "not the leader")
    assert _dropped(metrics, "fenced") == 2
