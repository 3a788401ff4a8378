"""One checkout's local state for `make up` and `make reset`: its id and the namespace derived from it.

Two checkouts on one machine share the machine's Redis and PostgreSQL. Each keeps a random id in its data
directory (`.data/checkout_id`); `make up` names every piece of state after it (the stream, the dead-letter
stream, the price channel and the lease key under the Redis prefix `exness:<id>:`, the PostgreSQL database
and the MongoDB database `exness_<id>`), so a checkout never reads another's log, snapshots or users.
`make reset` drops exactly that namespace and the data directory; the next `make up` draws a new id, so
whatever could not be dropped (a server that was down) can never be read again.

    python scripts/local_state.py env        # shell `export` lines for the settings not already set
    python scripts/local_state.py ensure-db  # create this checkout's PostgreSQL database when missing
    python scripts/local_state.py reset      # wipe this checkout's state, nothing of another's
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ID_FILE = "checkout_id"
_ID = re.compile(r"^[0-9a-f]{8}$")
# the PostgreSQL server that holds every checkout's database (`make up` creates its own there)
DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def data_dir(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("EXNESS_DATA_DIR") or REPO / ".data")


def read_id(data: Path) -> str | None:
    """The checkout's id, or None before its first `make up` (or after a reset)."""
    path = data / ID_FILE
    if not path.exists():
        return None
    value = path.read_text().strip()
    if not _ID.match(value):
        raise SystemExit(f"local_state: {path} holds {value!r}, not an id of 8 hex digits; `make reset` starts over")
    return value


def ensure_id(data: Path) -> str:
    existing = read_id(data)
    if existing:
        return existing
    data.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(4)
    (data / ID_FILE).write_text(value + "\n")
    return value


def with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


@dataclass(frozen=True)
class Namespace:
    """Every name `make up` gives this checkout's state, derived from the id alone."""

    checkout_id: str
    postgres_admin_url: str

    @property
    def redis_prefix(self) -> str:
        return f"exness:{self.checkout_id}:"

    @property
    def database(self) -> str:
        return f"exness_{self.checkout_id}"

    @property
    def database_url(self) -> str:
        return with_database(self.postgres_admin_url, self.database)

    def settings(self) -> dict[str, str]:
        """The services' settings that place this checkout's state (the lease key follows STREAM_KEY)."""
        return {
            "STREAM_KEY": f"{self.redis_prefix}stream:engine",
            "DEAD_LETTER_STREAM": f"{self.redis_prefix}stream:engine:dead",
            "PRICE_CHANNEL": f"{self.redis_prefix}ws:price:update",
            "CANDLE_CHANNEL": f"{self.redis_prefix}ws:candle:update",
            "DATABASE_URL": self.database_url,
            "MONGODB_DATABASE": self.database,
        }


def namespace(checkout_id: str, env: Mapping[str, str] = os.environ) -> Namespace:
    return Namespace(checkout_id, env.get("POSTGRES_ADMIN_URL") or DEFAULT_POSTGRES_ADMIN_URL)


def env_lines(env: Mapping[str, str] = os.environ) -> list[str]:
    """`export NAME=value` for each namespaced setting the caller did not set itself (its choice wins)."""
    ns = namespace(ensure_id(data_dir(env)), env)
    lines = [f"export CHECKOUT_ID={ns.checkout_id}"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in ns.settings().items() if not env.get(name)]
    return lines


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _database_exists(url: str, name: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def ensure_database(env: Mapping[str, str] = os.environ) -> None:
    """Create the checkout's database, unless DATABASE_URL names another one (the caller's own)."""
    ns = namespace(ensure_id(data_dir(env)), env)
    if env.get("DATABASE_URL", ns.database_url) != ns.database_url:
        return
    if not asyncio.run(_database_exists(ns.postgres_admin_url, ns.database)):
        asyncio.run(_admin(ns.postgres_admin_url, f'CREATE DATABASE "{ns.database}"'))


async def _drop_redis_keys(url: str, prefix: str) -> int:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        return len(keys)
    finally:
        await client.aclose()


def _drop_mongo_database(url: str, name: str) -> None:
    import pymongo

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(url, serverSelectionTimeoutMS=3000)
    try:
        client.drop_database(name)
    finally:
        client.close()


def _up_running(data: Path) -> int | None:
    """The pid of this checkout's `make up` while it runs (scripts/up.sh writes it)."""
    try:
        pid = int((data / "run" / "up.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def reset(env: Mapping[str, str] = os.environ) -> list[str]:
    """Drop this checkout's Redis keys, PostgreSQL database and (on a shared MONGODB_URL) MongoDB database,
    then its data directory (the local SecantusDB's data, the id, the JWT secret). Returns what was left
    behind because its server did not answer; the new id makes that unreachable anyway."""
    data = data_dir(env)
    running = _up_running(data)
    if running:
        raise SystemExit(f"local_state: `make up` of this checkout is running (pid {running}); stop it first")
    # servers a `make up` that was SIGKILLed left running: their record is about to go with the directory
    started = data / "run" / "started"
    if started.exists():
        subprocess.run(["bash", str(REPO / "scripts" / "services.sh"), "stop-recorded", str(started)], check=False)
    checkout_id = read_id(data)
    problems: list[str] = []
    if checkout_id:
        ns = namespace(checkout_id, env)
        redis_url = env.get("REDIS_URL") or DEFAULT_REDIS_URL
        drop_database = f'DROP DATABASE IF EXISTS "{ns.database}" WITH (FORCE)'
        steps: list[tuple[str, Callable[[], object]]] = [
            (f"Redis keys {ns.redis_prefix}*", lambda: asyncio.run(_drop_redis_keys(redis_url, ns.redis_prefix))),
            (f"PostgreSQL database {ns.database}", lambda: asyncio.run(_admin(ns.postgres_admin_url, drop_database))),
        ]
        mongodb_url = env.get("MONGODB_URL")
        if mongodb_url:  # a shared server; a local SecantusDB keeps its data in the data directory
            steps.append((f"MongoDB database {ns.database}", lambda: _drop_mongo_database(mongodb_url, ns.database)))
        for what, step in steps:
            try:
                step()
            except Exception as exc:  # a server that is down must not keep the rest from being wiped
                problems.append(f"{what}: {type(exc).__name__}: {exc}")
    _remove_own_files(data)
    return problems


# What a checkout keeps in its data directory (scripts/up.sh, services.sh, the gateway's local secret):
# reset removes exactly these, so a data directory pointed somewhere else by mistake (EXNESS_DATA_DIR) loses
# nothing that is not the checkout's own.
OWN_DATA_ENTRIES = ("checkout_id", "jwt_secret", "run", "mongo")


def _remove_own_files(data: Path) -> None:
    for name in OWN_DATA_ENTRIES:
        entry = data / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.exists() or entry.is_symlink():
            entry.unlink()
    with contextlib.suppress(OSError):
        data.rmdir()  # only when nothing else is left in it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["id", "env", "ensure-db", "reset"])
    command = parser.parse_args(argv).command
    if command == "id":
        print(ensure_id(data_dir()))
    elif command == "env":
        print("\n".join(env_lines()))
    elif command == "ensure-db":
        ensure_database()
    else:
        problems = reset()
        for problem in problems:
            print(f"local_state: not wiped (its server did not answer): {problem}", file=sys.stderr)
        print(f"local_state: wiped {data_dir()} and its namespace", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
