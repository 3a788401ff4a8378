"""`python -m candles` as a process: with PostgreSQL unreachable it stays up, NOT_SERVING, retrying its
migrations (and stops cleanly on SIGTERM); with it reachable it migrates and serves."""

from __future__ import annotations

import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.candles_process import candles_env, start_candles
from harness.polling import poll_until
from harness.processes import ManagedProcess


def _status(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return -1
    return int(reply.status)


def test_without_postgresql_it_waits_not_serving_and_stops_on_sigterm(tmp_path: Path, redis_url: str) -> None:
    env = candles_env({"REDIS_URL": redis_url, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    proc = ManagedProcess([sys.executable, "-m", "candles"], tmp_path / "candles.log", env=env).start()
    address = f"127.0.0.1:{env['CANDLES_GRPC_PORT']}"
    try:
        poll_until(lambda: _status(address) == health_pb2.HealthCheckResponse.NOT_SERVING, "NOT_SERVING", 60, proc)
        poll_until(lambda: proc.output().count("candle migrations failed") >= 2, "migrations retried", 60, proc)
        assert not proc.exited()
    finally:
        code = proc.stop()
    assert code == 0, proc.output()[-3000:]


def test_with_postgresql_it_serves(tmp_path: Path, redis_url: str, candles_db_url: str, key_prefix: str) -> None:
    proc, address = start_candles(
        {"REDIS_URL": redis_url, "DATABASE_URL": candles_db_url, "STREAM_KEY": f"{key_prefix}stream:engine"}, tmp_path
    )
    try:
        assert _status(address) == health_pb2.HealthCheckResponse.SERVING
    finally:
        assert proc.stop() == 0, proc.output()[-3000:]
