"""scripts/local_state.py without servers: the names a checkout's id gives its state, that the caller's own
settings win, and that `make reset` wipes the data directory even when the servers do not answer."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest

from scripts import local_state
from tests.support.net import free_port


def test_a_checkout_keeps_one_id_and_every_name_carries_it(tmp_path: Path) -> None:
    env = {"EXNESS_DATA_DIR": str(tmp_path / "data")}
    lines = local_state.env_lines(env)
    checkout_id = (tmp_path / "data" / "checkout_id").read_text().strip()
    assert local_state.env_lines(env) == lines, "the id is drawn once and kept"
    exported = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert exported == {
        "CHECKOUT_ID": checkout_id,
        "STREAM_KEY": f"exness:{checkout_id}:stream:engine",
        "DEAD_LETTER_STREAM": f"exness:{checkout_id}:stream:engine:dead",
        "PRICE_CHANNEL": f"exness:{checkout_id}:ws:price:update",
        "CANDLE_CHANNEL": f"exness:{checkout_id}:ws:candle:update",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/exness_{checkout_id}",
        "MONGODB_DATABASE": f"exness_{checkout_id}",
    }


def test_two_data_directories_get_two_namespaces(tmp_path: Path) -> None:
    first = local_state.ensure_id(tmp_path / "a")
    second = local_state.ensure_id(tmp_path / "b")
    assert first != second
    assert not set(local_state.namespace(first).settings().values()) & set(
        local_state.namespace(second).settings().values()
    )


def test_the_callers_settings_win_and_the_admin_url_places_the_database(tmp_path: Path) -> None:
    env = {"EXNESS_DATA_DIR": str(tmp_path), "STREAM_KEY": "mine", "POSTGRES_ADMIN_URL": "postgresql://u@db:6432/x"}
    exported = dict(line.removeprefix("export ").split("=", 1) for line in local_state.env_lines(env))
    assert "STREAM_KEY" not in exported
    assert exported["DATABASE_URL"] == f"postgresql://u@db:6432/exness_{exported['CHECKOUT_ID']}"


def test_a_corrupt_id_is_refused_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "checkout_id").write_text("../../etc\n")
    with pytest.raises(SystemExit, match="not an id"):
        local_state.read_id(tmp_path)


def test_reset_wipes_the_data_directory_and_names_what_it_could_not_reach(tmp_path: Path) -> None:
    data = tmp_path / "data"
    checkout_id = local_state.ensure_id(data)
    (data / "mongo").mkdir()
    closed = free_port()
    env = {
        "EXNESS_DATA_DIR": str(data),
        "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
        "POSTGRES_ADMIN_URL": f"postgresql://postgres@127.0.0.1:{closed}/postgres",
    }
    problems = local_state.reset(env)
    assert not data.exists()
    assert len(problems) == 2
    assert problems[0].startswith(f"Redis keys exness:{checkout_id}:*: ")
    assert problems[1].startswith(f"PostgreSQL database exness_{checkout_id}: ")


def test_reset_removes_only_what_the_checkout_keeps_there(tmp_path: Path) -> None:
    """EXNESS_DATA_DIR pointed at a directory that holds other things (or an old layout's Redis data, which
    a running server may still be writing): reset removes the checkout's own entries and nothing else."""
    data = tmp_path / "data"
    local_state.ensure_id(data)
    (data / "mongo" / "db").mkdir(parents=True)
    (data / "jwt_secret").write_text("s")
    (data / "redis").mkdir()
    (data / "redis" / "appendonly.aof").write_text("someone's log")
    (data / "notes.txt").write_text("keep me")
    closed = free_port()
    local_state.reset(
        {
            "EXNESS_DATA_DIR": str(data),
            "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
            "POSTGRES_ADMIN_URL": f"postgresql://postgres@127.0.0.1:{closed}/postgres",
        }
    )
    assert sorted(entry.name for entry in data.iterdir()) == ["notes.txt", "redis"]
    assert (data / "redis" / "appendonly.aof").read_text() == "someone's log"


def test_reset_refuses_while_the_checkouts_platform_runs(tmp_path: Path) -> None:
    local_state.ensure_id(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "up.pid").write_text(f"{os.getpid()}\n")
    with pytest.raises(SystemExit, match="is running"):
        local_state.reset({"EXNESS_DATA_DIR": str(tmp_path)})
    assert (tmp_path / "checkout_id").exists()


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has stopped; only its parent's wait is missing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_reset_stops_what_a_killed_make_up_left_running(tmp_path: Path) -> None:
    """up.sh records each server it starts; after a SIGKILL nobody stopped them, so reset does."""
    data = tmp_path / "data"
    local_state.ensure_id(data)
    (data / "run").mkdir()
    # an orphan, as a server whose `make up` died is (its parent gone, so no zombie lingers)
    spawned = subprocess.run(
        ["bash", "-c", "setsid sleep 300 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True, check=True
    )
    pid = int(spawned.stdout)
    try:
        (data / "run" / "started").write_text(f"pid {pid} sleep\n")
        closed = free_port()
        local_state.reset(
            {
                "EXNESS_DATA_DIR": str(data),
                "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
                "POSTGRES_ADMIN_URL": f"postgresql://postgres@127.0.0.1:{closed}/postgres",
            }
        )
        assert not _running(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
