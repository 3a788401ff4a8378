"""What a feed hands to the pooler's ingest queue: a top of book, a heartbeat saying that a market's
latest top is still current on the same connection (the venue only pushes bookTicker on change), or a
withdrawal: the venue sent a top for the market that could not be read, so the last one is no longer
its top."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pooler.backpack import BookTicker


@dataclass(frozen=True, slots=True)
class TopOfBook:
    source: str
    # one id per websocket connection (or simulation run): a heartbeat only vouches for its own session
    session: int
    ticker: BookTicker
    # time.monotonic() at receipt (freshness is judged on it)
    received_at: float
    # the wall clock at the same instant, ms since the epoch (what the quote is dated by downstream)
    received_at_ms: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    source: str
    session: int
    symbol: str
    received_at: float
    received_at_ms: int


@dataclass(frozen=True, slots=True)
class Withdrawn:
    source: str
    session: int
    symbol: str
    received_at: float


FeedEvent = TopOfBook | Heartbeat | Withdrawn
Emit = Callable[[FeedEvent], None]
