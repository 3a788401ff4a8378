"""The Backpack frame parser, replayed over recorded-format frames (tests/fixtures/backpack)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from pooler.backpack import (
    BookTicker,
    FrameError,
    OtherStream,
    VenueError,
    parse_frame,
    subscribe_frame,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "backpack"


def _lines(name: str) -> list[str]:
    return [line for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def test_recorded_book_tickers_parse_exactly() -> None:
    sol, btc, eth, btc_u_string, sol_empty = (parse_frame(line) for line in _lines("book_ticker.jsonl"))
    assert sol == BookTicker("SOL_USDC", Decimal("98.97"), Decimal("22.39"), Decimal("98.96"), Decimal("288.77"),
                             4330360995, 1788367430247487, 1788367430246081)
    assert btc == BookTicker("BTC_USDC", Decimal("68983.1"), Decimal("0.06093"), Decimal("68983.0"),
                             Decimal("0.02426"), 2442329321, 1771003771693848, 1771003771690207)
    assert isinstance(eth, BookTicker)
    assert (eth.ask, eth.bid, eth.bid_qty) == (Decimal("3667.50"), Decimal("3667.49"), Decimal("0.0020"))
    # the docs' variant: u as a digit string, beyond 2^53
    assert isinstance(btc_u_string, BookTicker) and btc_u_string.update_id == 111063070525358080
    # documented empty side: parsed, with nothing to quote on that side
    assert isinstance(sol_empty, BookTicker) and sol_empty.ask is None and sol_empty.ask_qty is None
    assert sol_empty.bid == Decimal("98.96")


def test_prices_keep_their_exact_digits() -> None:
    ticker = parse_frame(_lines("book_ticker.jsonl")[1])
    assert isinstance(ticker, BookTicker) and ticker.bid is not None
    # padded to the tick: "68983.0" keeps its exponent, never becomes a binary float
    assert ticker.bid.as_tuple().exponent == -1
    assert str(ticker.bid) == "68983.0"


def test_prices_as_json_numbers_are_parsed_exactly_not_through_float() -> None:
    raw = ('{"data":{"A":0.1,"B":0.3,"E":1,"T":1,"a":0.30000000000000004,"b":0.1,"e":"bookTicker",'
           '"s":"X_USDC","u":7},"stream":"bookTicker.X_USDC"}')
    ticker = parse_frame(raw)
    assert isinstance(ticker, BookTicker)
    assert ticker.ask == Decimal("0.30000000000000004") and ticker.bid == Decimal("0.1")
    assert ticker.ask_qty == Decimal("0.1")


def test_bytes_frames_are_decoded() -> None:
    assert isinstance(parse_frame(_lines("book_ticker.jsonl")[0].encode()), BookTicker)
    with pytest.raises(FrameError) as caught:
        parse_frame(b"\xff\xfe{")
    assert caught.value.reason == "encoding"


@pytest.mark.parametrize("line", _lines("other_streams.jsonl"))
def test_other_streams_are_recognised_and_not_priced(line: str) -> None:
    frame = parse_frame(line)
    assert isinstance(frame, OtherStream)
    assert frame.stream == json.loads(line)["stream"]
    assert frame.symbol == json.loads(line)["data"]["s"]


def test_error_frames() -> None:
    frames = [parse_frame(line) for line in _lines("errors.jsonl")]
    assert frames == [VenueError(4002, "Parse error"), VenueError(4003, "Invalid signature"),
                      VenueError(4006, "Invalid stream"), VenueError(4008, "Invalid depth window")]


MALFORMED = json.loads((FIXTURES / "malformed.json").read_text())


@pytest.mark.parametrize("case", MALFORMED, ids=[case["name"] for case in MALFORMED])
def test_malformed_frames_are_refused_with_a_reason(case: dict[str, str]) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(case["raw"])
    assert caught.value.reason == case["reason"], caught.value


def test_subscribe_frame_has_no_id_and_lists_every_stream() -> None:
    assert json.loads(subscribe_frame(["bookTicker.BTC_USDC", "ticker.BTC_USDC"])) == {
        "method": "SUBSCRIBE", "params": ["bookTicker.BTC_USDC", "ticker.BTC_USDC"]}
