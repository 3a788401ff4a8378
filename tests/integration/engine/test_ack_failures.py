"""A batch's fenced acknowledgement failing, with the Engine in this process against real Redis,
PostgreSQL and MongoDB (the failure injected by wrapping the one acknowledgement call).

Replies are held while a batch is applied and go out with its fenced acknowledgement (engine.replies
`hold`). That includes a close's reply the trade writer releases meanwhile, although its own entry was
acknowledged in an earlier batch: no replay would ever answer it again. So a Redis error on the way
(the leader still holding its lease) must not drop what is held: the acknowledgement is retried and the
replies go out once it lands, with no second dead letter when the first attempt did land and only its
answer was lost. A stale epoch still drops them: the newer leader replays and answers what is owed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
from exness.engine.v1 import commands_pb2
from redis.exceptions import ConnectionError as RedisConnectionError

from engine.config import EngineSettings
from engine.lifecycle import Engine
from engine.stream import DeadLetter, StreamLog
from harness.polling import apoll_until
from mesh.stream_codec import encode_command
from tests.integration.engine.in_process import running_engine
from tests.integration.engine.support import Producer, close_position, create_account, open_position, price_update

BTC = (600_500_000, 600_000_000)
GATEWAY = "gw-ack-failures"
Ack = Callable[[Sequence[str], Sequence[DeadLetter], int], Awaitable[None]]


class Gateway:
    """What a gateway's StreamReplies call does, on the engine's reply hub: collect every reply, and
    attach again (same gateway id) whenever a lost session ended the call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.replies: dict[str, list[commands_pb2.Reply]] = {}
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            await apoll_until(lambda: self.engine.leader, "the engine to lead", 60)
            stream = self.engine.hub.open(GATEWAY)
            while (reply := await stream.next()) is not None:
                self.replies.setdefault(reply.request_id, []).append(reply)

    async def reply(self, request_id: str, within: float = 60) -> commands_pb2.Reply:
        await apoll_until(lambda: request_id in self.replies, f"the reply to {request_id}", within)
        return self.replies[request_id][0]


@contextlib.asynccontextmanager
async def attached(engine: Engine) -> AsyncIterator[Gateway]:
    gateway = Gateway(engine)
    task = asyncio.create_task(gateway.run())
    try:
        yield gateway
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def failing_once(engine: Engine, before: Callable[[], Awaitable[None]], *, land_first: bool) -> list[int]:
    """Make the next acknowledgement fail once with a Redis connection error, after `before` ran; with
    `land_first` the acknowledgement is written and only its answer lost. Returns the attempts made."""
    original: Ack = engine.stream.ack
    attempts: list[int] = []

    async def ack(entry_ids: Sequence[str], dead_letters: Sequence[DeadLetter], epoch: int) -> None:
        attempts.append(len(entry_ids))
        if len(attempts) > 1:
            await original(entry_ids, dead_letters, epoch)
            return
        await before()
        if land_first:
            await original(entry_ids, dead_letters, epoch)
        raise RedisConnectionError("injected: connection reset while acknowledging")

    engine.stream.ack = ack  # type: ignore[method-assign]
    return attempts


async def _nothing() -> None:
    return None


async def _pending(redis_client: aioredis.Redis, settings: EngineSettings) -> int:
    info: Any = await redis_client.xpending(settings.stream_key, settings.consumer_group)
    return int(info["pending"])


async def _all_acknowledged(redis_client: aioredis.Redis, settings: EngineSettings, what: str) -> None:
    async def none_pending() -> bool:
        return await _pending(redis_client, settings) == 0

    await apoll_until(none_pending, what, 60)


@pytest.fixture
def settings(engine_settings: EngineSettings) -> EngineSettings:
    return engine_settings.model_copy(update={"snapshot_interval_seconds": 3600.0})


async def test_a_close_reply_released_during_a_failing_acknowledgement_goes_out_once_it_lands(
    settings: EngineSettings, redis_client: aioredis.Redis
) -> None:
    producer = Producer(redis_client, settings.stream_key, settings)
    async with running_engine(settings) as engine, attached(engine) as gateway:
        await producer.send(create_account("alice", "alice@example.com", reply_to=GATEWAY, request_id="signup"))
        await producer.send(price_update({"BTC_USDC": BTC}))
        await producer.send(open_position("alice", "BTC_USDC", "LONG", 100_000, 5, reply_to=GATEWAY,
                                          request_id="open"))  # fmt: skip
        opened = await gateway.reply("open")
        await apoll_until(lambda: not engine.writer.pending, "the open's rows committed", 60)
        session = engine.applier

        # the close's reply waits for its trade row, whose commit is held back until the next batch's
        # acknowledgement is under way: then it is released into that batch's held replies
        commit_gate = asyncio.Event()
        store = engine.trade_store
        insert = store.insert

        async def gated_insert(*args: Any, **kwargs: Any) -> None:
            await commit_gate.wait()
            await insert(*args, **kwargs)

        store.insert = gated_insert  # type: ignore[method-assign]
        close = await producer.send(close_position("alice", opened.position_opened.position.id,
                                                   reply_to=GATEWAY, request_id="close"))  # fmt: skip
        await apoll_until(lambda: engine.last_applied_id == close, "the close applied", 60)
        await _all_acknowledged(redis_client, settings, "the close acknowledged")

        async def commit_the_close() -> None:
            commit_gate.set()
            await apoll_until(lambda: not engine.writer.pending, "the close's rows committed", 60)

        attempts = failing_once(engine, commit_the_close, land_first=False)
        tick = await producer.send(price_update({"BTC_USDC": BTC}))

        assert await gateway.reply("close") == producer.expected["close"]
        assert engine.applier is session, "the leader session was dropped over a transient Redis error"
        assert attempts == [1, 1]
        assert engine.last_applied_id == tick and await _pending(redis_client, settings) == 0
        assert len(gateway.replies["close"]) == 1


async def test_an_acknowledgement_whose_answer_was_lost_answers_once_and_dead_letters_once(
    settings: EngineSettings, redis_client: aioredis.Redis
) -> None:
    producer = Producer(redis_client, settings.stream_key, settings)
    async with running_engine(settings) as engine, attached(engine) as gateway:
        await producer.send(create_account("bob", "bob@example.com", reply_to=GATEWAY, request_id="warm-up"))
        await gateway.reply("warm-up")
        attempts = failing_once(engine, _nothing, land_first=True)
        session = engine.applier
        # one batch: a reply owed and a dead letter owed (the engine reads both in one XREADGROUP or two)
        async with redis_client.pipeline(transaction=True) as pipe:
            pipe.xadd(settings.stream_key, {b"type": b"CREATE_ACCOUNT", b"payload": b"\xff not a protobuf"})
            pipe.xadd(settings.stream_key, {b"type": b"RM_RF", b"payload": b""})
            entry = create_account("carol", "carol@example.com", reply_to=GATEWAY, request_id="signup")
            pipe.xadd(settings.stream_key, encode_command(entry))  # type: ignore[arg-type]
            garbage_id, unknown_id, signup_id = [value.decode() for value in await pipe.execute()]
        producer.observe(signup_id, encode_command(entry))

        assert await gateway.reply("signup") == producer.expected["signup"]
        await apoll_until(lambda: engine.last_applied_id == signup_id, "the batch applied", 60)
        await _all_acknowledged(redis_client, settings, "the batch acknowledged")
        assert engine.applier is session and len(attempts) >= 2
        dead = await redis_client.xrange(settings.dead_letter_stream)
        assert sorted(fields[b"source_id"].decode() for _, fields in dead) == sorted([garbage_id, unknown_id])
        assert len(gateway.replies["signup"]) == 1


async def test_a_stale_epoch_drops_the_held_replies_and_the_next_leader_answers(
    settings: EngineSettings, redis_client: aioredis.Redis
) -> None:
    producer = Producer(redis_client, settings.stream_key, settings)
    async with running_engine(settings) as engine, attached(engine) as gateway:
        await producer.send(create_account("dave", "dave@example.com", reply_to=GATEWAY, request_id="warm-up"))
        await gateway.reply("warm-up")
        stale_session, stale_epoch = engine.applier, engine.lease.epoch
        original: Ack = engine.stream.ack

        async def newer_leader_first(entry_ids: Sequence[str], dead_letters: Sequence[DeadLetter], epoch: int) -> None:
            if epoch == stale_epoch:
                # what a newer leader's acquisition does to the epoch key; this ack is refused (StaleEpoch)
                await redis_client.set(engine.stream.epoch_key, stale_epoch + 1)
            await original(entry_ids, dead_letters, epoch)

        engine.stream.ack = newer_leader_first  # type: ignore[method-assign]
        await producer.send(create_account("erin", "erin@example.com", reply_to=GATEWAY, request_id="signup"))

        # the next session (here: this engine again, once its old lease expired) replays the unacknowledged
        # entry and answers it; the stale session's copy was dropped, never sent
        assert await gateway.reply("signup") == producer.expected["signup"]
        assert engine.applier is not stale_session and engine.lease.epoch > stale_epoch + 1
        assert len(gateway.replies["signup"]) == 1
        dropped = engine.metrics.registry.get_sample_value("engine_replies_dropped_total", {"reason": "fenced"})
        fenced = engine.metrics.registry.get_sample_value("engine_fenced_writes_total", {"what": "stream ack"})
        assert (dropped, fenced) == (1.0, 1.0)
        await _all_acknowledged(redis_client, settings, "the replayed entry acknowledged")


async def test_a_repeated_acknowledgement_writes_its_dead_letters_once(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    """The script's own rule, on a StreamLog without an engine: in an acknowledgement a dead letter is
    written as its entry leaves the pending list; after replay (entries never delivered) it always is."""
    stream_key, dead_key = f"{key_prefix}stream", f"{key_prefix}dead"
    log = StreamLog(redis_client, stream_key, "engine", "e0", dead_key)
    await log.ensure_group()
    await redis_client.set(log.epoch_key, 7)
    ids = [(await redis_client.xadd(stream_key, {b"type": b"RM_RF", b"payload": b""})).decode() for _ in range(3)]
    assert len(await log.read_new(2, 0)) == 2
    dead = [DeadLetter(entry_id, {b"type": b"RM_RF"}, "unknown entry type") for entry_id in ids[:2]]
    await log.ack(ids[:2], dead, 7)
    await log.ack(ids[:2], dead, 7)
    assert [fields[b"source_id"].decode() for _, fields in await redis_client.xrange(dead_key)] == ids[:2]
    await log.finish_replay([DeadLetter(ids[2], {b"type": b"RM_RF"}, "unknown entry type")], ids[2], 7)
    assert [fields[b"source_id"].decode() for _, fields in await redis_client.xrange(dead_key)] == ids
    assert await log.pending_ids() == set()
