"""The real-server fixtures really connect: Redis streams, a fresh PostgreSQL database, MongoDB protocol."""

from __future__ import annotations

import asyncpg
import pymongo
import redis.asyncio as aioredis


async def test_redis_streams_work(redis_client: aioredis.Redis, key_prefix: str) -> None:
    stream = f"{key_prefix}stream"
    first = await redis_client.xadd(stream, {"type": "PRICE_UPDATE", "payload": b"\x00\x01"})
    await redis_client.xgroup_create(stream, "engine", id="0")
    entries = await redis_client.xreadgroup("engine", "c1", {stream: ">"}, count=10)
    assert entries[0][1] == [(first, {b"type": b"PRICE_UPDATE", b"payload": b"\x00\x01"})]


async def test_postgres_session_database_is_ours_and_writable(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        name = await conn.fetchval("select current_database()")
        assert name == postgres_url.rsplit("/", 1)[1] and name.startswith("exness_test_")
        await conn.execute("create table fixture_probe (n int)")
        await conn.execute("insert into fixture_probe values (42)")
        assert await conn.fetchval("select n from fixture_probe") == 42
        await conn.execute("drop table fixture_probe")
    finally:
        await conn.close()


def test_mongodb_protocol_server_round_trips_a_document(mongodb_url: str, mongo_database: str) -> None:
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(mongodb_url, serverSelectionTimeoutMS=5000)
    try:
        collection = client[mongo_database]["probe"]
        collection.insert_one({"_id": "x", "blob": b"\x00" * 1024, "n": 7})
        assert collection.find_one({"_id": "x"}) == {"_id": "x", "blob": b"\x00" * 1024, "n": 7}
    finally:
        client.close()
