"""Snapshot faults under load: the MongoDB-protocol server becomes unreachable in the middle of a snapshot
write (a proxy forwards half of a chunk insert, then resets every connection and refuses new ones for 6 s),
and later the newest snapshot is corrupted and the engine SIGKILLed: it restarts from the previous
snapshot and replays. Nothing acknowledged is lost or doubled (tests/chaos/verify.py)."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from pathlib import Path

import pymongo
import redis.asyncio as aioredis

from engine.config import EngineSettings
from harness.polling import apoll_until
from harness.processes import ManagedProcess
from tests.chaos.load import Load
from tests.chaos.verify import Figures, report, verify
from tests.integration.engine.tcp_proxy import TcpProxy
from tests.support import engine_process
from tests.support.engine_process import start_engine, wait_serving

# beyond the store's server selection timeout (5 s): the driver's one retry of the write fails too
DOWN_SECONDS = 6.0


class MidWriteCut(TcpProxy):
    """A TcpProxy that, once armed, forwards half of the next client message naming `marker` and then goes
    down (the server seems to die with the write half received)."""

    def __init__(self, host: str, port: int, marker: bytes) -> None:
        super().__init__(host, port)
        self.marker = marker
        self.armed = False
        self.cut_done = asyncio.Event()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, server_writer}
        await asyncio.gather(self._upstream(client_reader, server_writer), self._pipe(server_reader, client_writer))

    async def _upstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.armed and self.marker in data:
                    self.armed = False
                    writer.write(data[: len(data) // 2])
                    await writer.drain()
                    await self._down()
                    self.cut_done.set()
                    return
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        self._writers.discard(writer)
        writer.transport.abort()

    def is_cut(self) -> bool:
        return self.cut_done.is_set()


async def test_snapshot_write_cut_and_corrupt_newest(
    redis_url: str, chaos_env: dict[str, str], chaos_prefix: str, postgres_url: str, artifacts_dir: Path
) -> None:
    target = urllib.parse.urlsplit(chaos_env["MONGODB_URL"])
    proxy = MidWriteCut(target.hostname or "127.0.0.1", target.port or 27017, b"snapshot_chunks")
    proxy.up()
    # directConnection: the driver must not discover the server's own address and go around the proxy
    proxied = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"
    env = engine_process.engine_env({**chaos_env, "REDIS_URL": redis_url, "MONGODB_URL": proxied})
    settings = EngineSettings(**{k.lower(): v for k, v in env.items() if not k.startswith("ENGINE_")})
    proc, address = start_engine(env, artifacts_dir)
    figures = Figures("mongodb: cut mid snapshot write; newest snapshot corrupted, engine SIGKILLed", faults=2)
    mongo: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(chaos_env["MONGODB_URL"])
    database = mongo[chaos_env["MONGODB_DATABASE"]]
    try:
        async with Load(redis_url, env["STREAM_KEY"], [address], prefix=chaos_prefix) as load:
            await asyncio.sleep(2)
            proxy.armed = True
            await apoll_until(proxy.is_cut, "a snapshot write to be cut in the middle", 30)
            await asyncio.sleep(DOWN_SECONDS)
            proxy.up()
            back = time.monotonic()
            written = database["snapshots"].count_documents({})
            await apoll_until(lambda: database["snapshots"].count_documents({}) > written + 1,
                              "snapshots written again", 30)  # fmt: skip
            figures.recovery_seconds["snapshots_resumed"] = round(time.monotonic() - back, 2)

            newest = database["snapshots"].find().sort([("last_applied_ms", -1), ("last_applied_seq", -1)])[0]
            proc.kill()
            chunk = database["snapshot_chunks"].find_one({"snapshot_id": newest["snapshot_id"]})
            assert chunk is not None
            damaged = bytes(b ^ 0x5A for b in bytes(chunk["data"]))  # type: ignore[arg-type]
            database["snapshot_chunks"].update_one({"_id": chunk["_id"]}, {"$set": {"data": damaged}})
            restarted = time.monotonic()
            proc = ManagedProcess(proc.args, proc.log_path, env=env).start()
            await asyncio.to_thread(wait_serving, address, proc)
            figures.recovery_seconds["restart_from_previous_snapshot"] = round(time.monotonic() - restarted, 2)
            figures.recovery_seconds["every_client_served"] = round(await load.recovered_after(restarted), 2)
            await asyncio.sleep(1)
        await verify(load, figures, address=address, redis_url=redis_url, settings=settings, postgres_url=postgres_url)
        output = proc.output()
        assert "snapshot failed" in output
        assert "trying an older one" in output and newest["snapshot_id"] in output
        report(figures, artifacts_dir)
    finally:
        proc.stop()
        proxy.close()
        mongo.close()
        client = aioredis.Redis.from_url(redis_url)
        keys = [key async for key in client.scan_iter(match=f"{chaos_prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
