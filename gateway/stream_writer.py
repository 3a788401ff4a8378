"""XADDs commands to the engine's stream. Commands issued in the same event-loop iteration (the requests
that arrived together) go out as one pipeline: one write and one read on one connection instead of one
round trip each. Each caller still learns its own command's outcome, and a failure keeps its meaning:
`xadd_never_sent` tells a connection that never opened (nothing written) from one that broke after
the write (outcome unknown). The Redis client must not retry (`command_redis`): a retried XADD after a
timeout can put the same command on the stream twice, which without an Idempotency-Key is a second
execution."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

Fields = dict[str, bytes]


def command_redis(url: str, timeout: float = 5.0) -> aioredis.Redis:
    """The gateway's Redis client: commands time out instead of hanging a request, and nothing is
    retried (see the module docstring)."""
    return aioredis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=min(timeout, 2.0), retry=Retry(NoBackoff(), 0)
    )


def xadd_never_sent(exc: RedisError) -> bool:
    """True when redis-py failed while opening the connection (refused, or the TCP connect timed out), so
    the command cannot have been written."""
    text = str(exc)
    if isinstance(exc, RedisConnectionError):
        return "connecting to" in text
    # raised only around the TCP connect itself, before any byte of a command is written
    return isinstance(exc, RedisTimeoutError) and text == "Timeout connecting to server"


class StreamWriter:
    def __init__(self, redis: aioredis.Redis, stream_key: str) -> None:
        self._redis = redis
        self._stream_key = stream_key
        self._batch: list[tuple[Fields, asyncio.Future[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def xadd(self, fields: Fields) -> None:
        """Append one entry; raises the RedisError of its write."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self._batch:
            # runs after every callback already ready in this iteration: their XADDs join this batch
            asyncio.get_running_loop().call_soon(self._flush)
        self._batch.append((fields, future))
        await future

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        task = asyncio.create_task(self._send(batch))
        # a reference until it is done: the loop keeps only weak ones
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[Fields, asyncio.Future[None]]]) -> None:
        results: list[Any]
        try:
            if len(batch) == 1:
                results = [await self._redis.xadd(self._stream_key, cast(Any, batch[0][0]))]
            else:
                pipe = self._redis.pipeline(transaction=False)
                for fields, _ in batch:
                    pipe.xadd(self._stream_key, cast(Any, fields))
                results = await pipe.execute(raise_on_error=False)
        except RedisError as exc:
            results = [exc] * len(batch)
        except BaseException as exc:
            # never leave a waiter hanging, whatever broke (cancellation at shutdown included)
            for _, future in batch:
                if not future.done():
                    future.set_exception(RedisError(f"XADD aborted: {exc!r}"))
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(None)
