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
    assert sol == BookTicker(
        "SOL_USDC",
        Decimal("98.97"),
        Decimal("22.39"),
        Decimal("98.96"),
        Decimal("288.77"),
        4330360995,
        1788367430247487,
        1788367430246081,
    )
    assert btc == BookTicker(
        "BTC_USDC",
        Decimal("68983.1"),
        Decimal("0.06093"),
        Decimal("68983.0"),
        Decimal("0.02426"),
        2442329321,
        1771003771693848,
        1771003771690207,
    )
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
    raw = (
        '{"data":{"A":0.1,"B":0.3,"E":1,"T":1,"a":0.30000000000000004,"b":0.1,"e":"bookTicker",'
        '"s":"X_USDC","u":7},"stream":"bookTicker.X_USDC"}'
    )
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
    assert frames == [
        VenueError(4002, "Parse error"),
        VenueError(4003, "Invalid signature"),
        VenueError(4006, "Invalid stream"),
        VenueError(4008, "Invalid depth window"),
    ]


MALFORMED = json.loads((FIXTURES / "malformed.json").read_text())


@pytest.mark.parametrize("case", MALFORMED, ids=[case["name"] for case in MALFORMED])
def test_malformed_frames_are_refused_with_a_reason(case: dict[str, str]) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(case["raw"])
    assert caught.value.reason == case["reason"], caught.value


def test_subscribe_frame_has_no_id_and_lists_every_stream() -> None:
    assert json.loads(subscribe_frame(["bookTicker.BTC_USDC", "ticker.BTC_USDC"])) == {
        "method": "SUBSCRIBE",
        "params": ["bookTicker.BTC_USDC", "ticker.BTC_USDC"],
    }


def _sol(**fields: str) -> str:
    """A SOL_USDC bookTicker frame with some fields replaced by raw JSON text."""
    values = {
        "A": '"22.39"',
        "B": '"288.77"',
        "E": "1788367430247487",
        "T": "1788367430246081",
        "a": '"98.97"',
        "b": '"98.96"',
        "u": "4330360995",
        **fields,
    }
    body = ",".join(f'"{key}":{value}' for key, value in values.items())
    return '{"data":{' + body + ',"e":"bookTicker","s":"SOL_USDC"},"stream":"bookTicker.SOL_USDC"}'


# Each value would, unbounded, overflow protobuf's int64 downstream, build a gigantic integer in the
# pricing arithmetic (hours of CPU), or raise something other than FrameError out of the parser.
HOSTILE = {
    "digit-string price beyond int64 once scaled": (_sol(a='"10000000000000000"'), "number"),
    "digit-string price of 40 digits": (_sol(a='"' + "1" * 40 + '"'), "number"),
    "digit-string price longer than any number": (_sol(a='"' + "1" * 41 + '"'), "number"),
    "price with 19 fractional digits": (_sol(b='"0.0000000000000000001"'), "number"),
    "JSON-number price with a giant exponent": (_sol(a="1e999999999"), "number"),
    "JSON-number price with a giant negative exponent": (_sol(b="1e-999999999"), "number"),
    "JSON-number zero with a giant exponent": (_sol(A="0e999999999"), "number"),
    "JSON-number quantity with a giant exponent": (_sol(B="1E+999999999"), "number"),
    "JSON-number price of 41 characters": (_sol(a="1." + "0" * 39), "number"),
    "E beyond int64": (_sol(E="9223372036854775808"), "number"),
    "E of 100 digits": (_sol(E="1" + "0" * 99), "number"),
    "E of 1,000 digits": (_sol(E="9" * 1000), "number"),
    "E with a giant exponent": (_sol(E="1e999999999"), "field"),
    "T beyond int64": (_sol(T=str(2**63)), "number"),
    "u as a digit string beyond int64": (_sol(u='"99999999999999999999"'), "number"),
    "u as a digit string of 1,000 digits": (_sol(u='"' + "9" * 1000 + '"'), "field"),
}


@pytest.mark.parametrize("raw,reason", HOSTILE.values(), ids=list(HOSTILE))
def test_hostile_numbers_are_refused_before_any_arithmetic(raw: str, reason: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(raw)
    assert caught.value.reason == reason, caught.value
    # the market is known: its last top is no longer the venue's, and the feed withdraws it
    assert caught.value.symbol == "SOL_USDC"


def test_bounds_keep_every_accepted_value_usable() -> None:
    # the widest values inside the bounds still parse, exactly
    widest = _sol(a='"9999999999999999.999999999999"', b="1e-18", E=str(2**63 - 1), u=f'"{2**63 - 1}"')
    ticker = parse_frame(widest)
    assert isinstance(ticker, BookTicker)
    assert ticker.ask == Decimal("9999999999999999.999999999999") and ticker.bid == Decimal("1e-18")
    assert ticker.event_time_us == ticker.update_id == 2**63 - 1


@pytest.mark.parametrize(
    "raw,reason",
    [
        ("{" + '"x":' + '"' + "y" * 20_000 + '"}', "size"),
        (b"[" * 20_000, "size"),
        (_sol(E="9" * 5000), "size"),
        ("[" * 2_000 + "]" * 2_000, "json"),
        ('{"data":' * 500, "json"),
        ('{"id":null,"error":{"code":' + "9" * 1000 + ',"message":"x"}}', "number"),
    ],
    ids=[
        "long text frame",
        "long bytes frame",
        "a 5,000-digit E (beyond Python's int() limit)",
        "nested beyond the recursion limit",
        "deep objects",
        "long integer elsewhere",
    ],
)
def test_frames_that_would_cost_the_decoder_are_refused(raw: str | bytes, reason: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(raw)
    assert caught.value.reason == reason, caught.value
    assert caught.value.symbol is None
