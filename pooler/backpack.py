"""Backpack Exchange public-stream protocol, as pure functions: the SUBSCRIBE frame the client sends and
the parse of every frame it receives (docs/backpack-protocol.md; the wire wins over the docs).

`parse_frame` turns one text frame into a `BookTicker`, a `VenueError` (the server's
`{"id":null,"error":{...}}` reply) or an `OtherStream` (a data frame of a stream we do not price from),
and raises `FrameError` with a short reason for anything malformed. Numbers never pass through float:
prices are decimal strings on the wire (JSON numbers are accepted too, parsed exactly), and integers
such as `u` arrive as JSON numbers or, in the docs' variant, as digit strings.

Every venue number is bounded before anything computes with it: the frame's length, each JSON number's
text (while decoding), a price's digits and exponent, and the int64 range of every integer. A hostile
frame therefore costs microseconds to refuse, and whatever the parser lets through can be scaled and
rounded cheaply and (for the timestamps) fits protobuf's int64."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

BOOK_TICKER = "bookTicker"
TICKER = "ticker"

# The error codes the server is known to send (docs/backpack-protocol.md §3).
ERROR_CODES = {4002: "Parse error", 4003: "Invalid signature", 4006: "Invalid stream", 4008: "Invalid depth window"}

# Plain decimal text, as the venue pads it ("98.97", "0.00"); exponents, signs, underscores and spaces
# (all of which `Decimal()` would accept) are not prices.
_DECIMAL_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?")
_INTEGER_TEXT = re.compile(r"[0-9]{1,20}")

# A real frame (bookTicker, ticker, error) is under 300 characters; anything far longer is refused before
# JSON decoding, so the decoder's cost per frame stays within a small multiple of a real frame's.
MAX_FRAME_CHARS = 4096
# Longest JSON number text accepted while decoding (a real one is under 20 characters): Python's int()
# and Decimal() are then cheap, and no 4,300-digit integer reaches int().
MAX_NUMBER_CHARS = 40
# Bounds on a decimal (price or quantity): at most MAX_DECIMAL_DIGITS significant digits, below
# 10^(MAX_DECIMAL_ADJUSTED + 1), with no digit below 10^-MAX_DECIMAL_FRACTION (no price scale goes
# finer). `Fraction` arithmetic on such a value is cheap; on `1e999999999` it would build a
# billion-digit integer. Whether the scaled price fits int64 is checked where it is scaled.
MAX_DECIMAL_DIGITS = 30
MAX_DECIMAL_ADJUSTED = 15
MAX_DECIMAL_FRACTION = 18
# The range of every integer of a frame (E, T, u): protobuf's int64, which E reaches as venue_time_ms.
INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class BookTicker:
    """Top of book for one market. A side is None when the venue reports it empty (documented, not yet
    seen on the wire)."""

    symbol: str
    ask: Decimal | None
    ask_qty: Decimal | None
    bid: Decimal | None
    bid_qty: Decimal | None
    update_id: int
    # when the venue's websocket server emitted the frame, microseconds since the epoch
    event_time_us: int
    # matching-engine time, microseconds since the epoch
    engine_time_us: int | None


@dataclass(frozen=True, slots=True)
class VenueError:
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class OtherStream:
    """A data frame of a stream the pooler does not price from (e.g. the 1 Hz `ticker` it subscribes for
    liveness)."""

    stream: str
    event: str | None
    symbol: str | None


Frame = BookTicker | VenueError | OtherStream


class FrameError(ValueError):
    """A frame that is not valid protocol. `reason` is a short label for metrics: size, encoding, json,
    number (a number outside the bounds above), shape, field. `symbol` names the market of a bookTicker
    frame whose fields are bad (its last top can no longer be vouched for), else None."""

    def __init__(self, reason: str, detail: str, symbol: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.symbol = symbol


def book_ticker_stream(symbol: str) -> str:
    return f"{BOOK_TICKER}.{symbol}"


def ticker_stream(symbol: str) -> str:
    return f"{TICKER}.{symbol}"


def subscribe_frame(streams: list[str]) -> str:
    """One SUBSCRIBE for all streams; the server acknowledges nothing, so no `id` is sent."""
    return json.dumps({"method": "SUBSCRIBE", "params": streams})


def _reject_constant(name: str) -> object:
    raise FrameError("json", f"non-finite number {name}")


@dataclass(frozen=True, slots=True)
class _Oversized:
    """A JSON number whose text is too long to convert; stands in for it so decoding completes and the
    field that holds it is refused with the market's name."""

    length: int


def _bounded_int(text: str) -> int | _Oversized:
    return int(text) if len(text) <= MAX_NUMBER_CHARS else _Oversized(len(text))


def _bounded_float(text: str) -> Decimal | _Oversized:
    # exact (never a binary float); the exponent is bounded later, where the value is used
    return Decimal(text) if len(text) <= MAX_NUMBER_CHARS else _Oversized(len(text))


def parse_frame(raw: str | bytes) -> Frame:
    if len(raw) > MAX_FRAME_CHARS:
        raise FrameError("size", f"frame of {len(raw)} characters (at most {MAX_FRAME_CHARS})")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("encoding", "frame is not UTF-8") from None
    try:
        message = json.loads(raw, parse_float=_bounded_float, parse_int=_bounded_int, parse_constant=_reject_constant)
    except FrameError:
        raise
    except RecursionError:
        # nesting deeper than the interpreter's recursion limit
        raise FrameError("json", "not JSON (nested too deeply)") from None
    except ValueError as exc:
        raise FrameError(
            "json",
            f"not JSON ({exc.msg} at {exc.pos})" if isinstance(exc, json.JSONDecodeError) else f"not JSON ({exc})",
        ) from None
    if not isinstance(message, dict):
        raise FrameError("shape", f"frame is a JSON {type(message).__name__}, not an object")
    # route by the presence of `error` vs `data` (docs/backpack-protocol.md §6)
    if "error" in message:
        return _venue_error(message["error"])
    data, stream = message.get("data"), message.get("stream")
    if not isinstance(data, dict) or not isinstance(stream, str):
        raise FrameError("shape", "frame has neither an error nor a data object with a stream name")
    if stream.split(".", 1)[0] != BOOK_TICKER:
        event, symbol = data.get("e"), data.get("s")
        return OtherStream(
            stream, event if isinstance(event, str) else None, symbol if isinstance(symbol, str) else None
        )
    return _book_ticker(stream, data)


def _venue_error(error: object) -> VenueError:
    if not isinstance(error, dict):
        raise FrameError("shape", "error is not an object")
    code, message = error.get("code"), error.get("message")
    if isinstance(code, _Oversized):
        raise FrameError("number", f"error code of {code.length} characters")
    if isinstance(code, bool) or not isinstance(code, int) or not isinstance(message, str):
        raise FrameError("shape", "error needs an integer code and a string message")
    return VenueError(code, message)


def _book_ticker(stream: str, data: dict[str, object]) -> BookTicker:
    if data.get("e") != BOOK_TICKER:
        raise FrameError("shape", f"stream {stream} carries event {data.get('e')!r}")
    symbol = data.get("s")
    if not isinstance(symbol, str) or stream != book_ticker_stream(symbol):
        raise FrameError("shape", f"stream {stream} carries symbol {symbol!r}")
    try:
        return _book_ticker_fields(symbol, data)
    except FrameError as exc:
        raise FrameError(exc.reason, exc.detail, symbol) from None


def _book_ticker_fields(symbol: str, data: dict[str, object]) -> BookTicker:
    ask, bid = _decimal(data, "a", positive=True), _decimal(data, "b", positive=True)
    if ask is not None and bid is not None and bid > ask:
        raise FrameError("field", f"crossed book: bid {bid} > ask {ask}")
    engine_time = _integer(data, "T") if "T" in data else None
    return BookTicker(
        symbol=symbol,
        ask=ask,
        ask_qty=_decimal(data, "A", positive=False),
        bid=bid,
        bid_qty=_decimal(data, "B", positive=False),
        update_id=_integer(data, "u"),
        event_time_us=_integer(data, "E"),
        engine_time_us=engine_time,
    )


def _decimal(data: dict[str, object], key: str, *, positive: bool) -> Decimal | None:
    if key not in data:
        raise FrameError("field", f"missing {key!r}")
    value = data[key]
    if value is None:
        return None
    number = _as_decimal(key, value)
    _check_bounds(key, value, number)
    if positive and number <= 0:
        raise FrameError("field", f"{key!r} must be positive, got {number}")
    return number


def _as_decimal(key: str, value: object) -> Decimal:
    """The venue value as an exact Decimal: decimal text, or a JSON number parsed exactly (never float)."""
    if isinstance(value, _Oversized):
        raise FrameError("number", f"{key!r} is a number of {value.length} characters")
    if isinstance(value, str):
        if len(value) > MAX_NUMBER_CHARS:
            raise FrameError("number", f"{key!r} is {len(value)} characters long")
        if not _DECIMAL_TEXT.fullmatch(value):
            raise FrameError("field", f"{key!r} is not decimal text: {value[:40]!r}")
        return Decimal(value)
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        # a JSON number: its text is at most MAX_NUMBER_CHARS long, but its exponent may be anything
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise FrameError("field", f"{key!r} is not a number") from None
        if not number.is_finite() or number < 0:
            raise FrameError("field", f"{key!r} is not a non-negative finite number: {str(value)[:40]}")
        return number
    raise FrameError("field", f"{key!r} has type {type(value).__name__}")


def _check_bounds(key: str, value: object, number: Decimal) -> None:
    """Digits, fraction and magnitude within the bounds, judged on the representation alone (no
    arithmetic), so the check is cheap for any exponent."""
    _, digits, exponent = number.as_tuple()
    if (
        not isinstance(exponent, int)
        or len(digits) > MAX_DECIMAL_DIGITS
        or exponent < -MAX_DECIMAL_FRACTION
        or (number and number.adjusted() > MAX_DECIMAL_ADJUSTED)
        or (not number and exponent > 0)
    ):
        raise FrameError("number", f"{key!r} is out of bounds: {str(value)[:40]}")


def _integer(data: dict[str, object], key: str) -> int:
    if key not in data:
        raise FrameError("field", f"missing {key!r}")
    value = data[key]
    if isinstance(value, _Oversized):
        raise FrameError("number", f"{key!r} is a number of {value.length} characters")
    if isinstance(value, str) and len(value) <= 20 and _INTEGER_TEXT.fullmatch(value):
        # the docs show `u` as a digit string; the wire sends a number: accept both
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        if value > INT64_MAX:
            raise FrameError("number", f"{key!r} is beyond int64: {value}")
        return value
    raise FrameError("field", f"{key!r} is not a non-negative integer: {str(value)[:40]!r}")
