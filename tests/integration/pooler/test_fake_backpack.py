"""The fake Backpack server behaves like the recorded venue (docs/backpack-protocol.md §2-3): no acks, the real
error frames, silence for unknown symbols, real field names/types/order, a Close frame on shutdown, REST klines
of its own price path; and its command-line form can be steered over HTTP."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedOK

from pooler.backpack import BookTicker, OtherStream, parse_frame
from pooler.fake_backpack import FakeBackpack, ScriptStep
from tests.integration.pooler.helpers import wait_until
from tests.support.net import free_port, wait_listening
from tests.support.processes import ManagedProcess


@pytest.fixture
async def server():
    fake = FakeBackpack(seed=11, interval_ms=20, ticker_interval=0.1, close_grace=1.0)
    await fake.start()
    yield fake
    await fake.stop()


async def _next(ws: ClientConnection) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=5))


async def test_subscribe_gets_no_ack_and_data_has_the_recorded_shape(server: FakeBackpack) -> None:
    async with connect(server.url, proxy=None) as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["bookTicker.ETH_USDC"], "id": 1}))
        raw = await asyncio.wait_for(ws.recv(), timeout=5)
    assert raw.startswith('{"data":{"A":"') and raw.endswith('"stream":"bookTicker.ETH_USDC"}')
    data = json.loads(raw)["data"]
    assert list(data) == ["A", "B", "E", "T", "a", "b", "e", "s", "u"]
    assert all(isinstance(data[k], str) for k in "ABab") and all(type(data[k]) is int for k in "ETu")
    assert data["E"] >= data["T"] and len(str(data["E"])) == 16
    # padded to the ETH tick (0.01) and step (0.0001)
    assert len(data["a"].split(".")[1]) == 2 and len(data["A"].split(".")[1]) == 4
    assert isinstance(parse_frame(raw), BookTicker)


async def test_error_frames_and_the_socket_stays_open(server: FakeBackpack) -> None:
    async with connect(server.url, proxy=None) as ws:
        for request, expected_code in [
            ('{"method":"SUBSCRIBE","params":["nope.BTC_USDC"],"id":9}', 4006),
            ('{"method":"SUBSCRIBE","params":["depth.100ms.BTC_USDC"]}', 4008),
            ('{"method":"SUBSCRIBE","params":["kline.7m.SOL_USDC"]}', 4006),
            ('{"method":"FOO","params":[]}', 4002),
            ("not json", 4002),
            ('{"method":"SUBSCRIBE","params":["account.orderUpdate"]}', 4003),
        ]:
            await ws.send(request)
            reply = await _next(ws)
            assert reply["id"] is None and reply["error"]["code"] == expected_code
        await ws.send('{"method":"SUBSCRIBE","params":["ticker.SOL_USDC"]}')
        frame = parse_frame(await asyncio.wait_for(ws.recv(), timeout=5))
        assert isinstance(frame, OtherStream) and frame.stream == "ticker.SOL_USDC"
    assert server.counters["error_frames"] == 6


async def test_unknown_symbols_are_silent_and_unsubscribe_stops_data(server: FakeBackpack) -> None:
    async with connect(server.url, proxy=None) as ws:
        await ws.send('{"method":"SUBSCRIBE","params":["bookTicker.NOPE_USDC","ticker.NOPE_USDC"]}')
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), timeout=0.5)  # twenty price ticks and five ticker periods
        await ws.send('{"method":"SUBSCRIBE","params":["bookTicker.BTC_USDC"]}')
        assert (await _next(ws))["stream"] == "bookTicker.BTC_USDC"
        await ws.send('{"method":"UNSUBSCRIBE","params":["bookTicker.BTC_USDC"]}')
        await asyncio.sleep(0.1)
        assert server.stats()["subscriptions"] == [["bookTicker.NOPE_USDC", "ticker.NOPE_USDC"]]
        # what was in flight before the UNSUBSCRIBE landed, then silence (frames came every 20 ms)
        in_flight = 0
        with pytest.raises(TimeoutError):
            while in_flight < 10:
                await asyncio.wait_for(ws.recv(), timeout=0.3)
                in_flight += 1


async def test_shutdown_sends_a_close_frame() -> None:
    fake = FakeBackpack(seed=1, close_grace=1.0)
    await fake.start()
    async with connect(fake.url, proxy=None) as ws:
        await ws.send('{"method":"SUBSCRIBE","params":["bookTicker.BTC_USDC"]}')
        await _next(ws)
        await fake.stop()
        with pytest.raises(ConnectionClosedOK) as closed:
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


def _control(port: int, action: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/control/{action}", timeout=5) as response:
        return json.loads(response.read())


async def test_command_line_server_is_steerable_over_http_and_closes_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "path.jsonl"
    script.write_text('# one fixed top\n{"s": "SOL_USDC", "b": "98.96", "a": "98.97", "after_ms": 20}\n')
    proc = ManagedProcess(
        [
            sys.executable,
            "-m",
            "pooler.fake_backpack",
            "--port",
            str(port),
            "--script",
            str(script),
            "--close-grace",
            "2",
        ],
        tmp_path / "fake.log",
    ).start()
    try:
        wait_listening("127.0.0.1", port, what="fake Backpack")
        async with connect(f"ws://127.0.0.1:{port}", proxy=None) as ws:
            await ws.send('{"method":"SUBSCRIBE","params":["bookTicker.SOL_USDC"]}')
            data = (await _next(ws))["data"]
            assert (data["b"], data["a"]) == ("98.96", "98.97")
            stats = await asyncio.to_thread(_control, port, "stats")
            assert stats["open"] == 1 and stats["subscriptions"] == [["bookTicker.SOL_USDC"]]
            await asyncio.to_thread(_control, port, "error?code=4006")
            while "error" not in (message := await _next(ws)):
                pass
            assert message == {"id": None, "error": {"code": 4006, "message": "Invalid stream"}}
            proc.proc.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosedOK) as closed:
                while True:
                    await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        # it exits by itself after the one SIGTERM (a second one could hit it after its handler is gone)
        code = await asyncio.to_thread(proc.proc.wait, 30)
    finally:
        proc.stop()
    assert code == 0, proc.output()


def _rest(port: int, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


async def test_klines_over_http_are_candles_of_the_published_tops() -> None:
    script = [ScriptStep("BTC_USDC", Decimal("68983.0"), Decimal("68983.1"), Decimal("0.02426"), Decimal("1"), 20)]
    fake = FakeBackpack(symbols=["BTC_USDC"], script=script)
    await fake.start()
    try:
        since = int(time.time())
        path = f"/api/v1/klines?symbol=BTC_USDC&interval=1s&startTime={since}"

        async def a_finished_candle() -> bool:
            return json.loads((await asyncio.to_thread(_rest, fake.port, path))[2]) != []

        # the fake publishes its tops whether or not anyone subscribed: its "trades" go on
        await wait_until(a_finished_candle, "a finished 1s candle")
        status, content_type, body = await asyncio.to_thread(_rest, fake.port, path)
        assert (status, content_type) == (200, "application/json; charset=utf-8")
        candles = json.loads(body)
        first = candles[0]
        assert sorted(first) == ["close", "end", "high", "low", "open", "quoteVolume", "start", "trades", "volume"]
        assert (first["open"], first["high"], first["low"], first["close"]) == ("68983.0",) * 4
        assert Decimal(first["volume"]) == Decimal("0.02426") * int(first["trades"])
        assert [c["start"] for c in candles] == sorted(c["start"] for c in candles)
        status, content_type, body = await asyncio.to_thread(_rest, fake.port, "/api/v1/klines?symbol=BTC_USDC")
        assert (status, content_type.split(";")[0], body) == (
            400,
            "text/plain",
            "missing required parameter `interval`",
        )
    finally:
        await fake.stop()
