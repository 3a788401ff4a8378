"""The live feed: one websocket to Backpack (or its fake) carrying `bookTicker.<symbol>` for pricing and
`ticker.<symbol>` (pushed about once a second) for liveness, kept up for as long as the pooler runs.

Per connection: subscribe everything again (the server keeps no session state), parse every frame
defensively, warn about symbols that stay silent (the venue ignores unknown symbols without a word),
and drop the socket when nothing at all arrives for the watchdog period. Between connections: a Close
frame from a healthy connection means the server is shutting down, so reconnect at once; anything else
waits an exponentially growing, jittered delay, reset once a connection has delivered data for a
while (FEED_STABLE_SECONDS), so a socket that keeps dropping soon after it opens backs off too. Protocol
pings are answered by `websockets` itself."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import random
import time
import urllib.parse
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from pooler.backpack import (
    ERROR_CODES,
    BookTicker,
    FrameError,
    OtherStream,
    VenueError,
    book_ticker_stream,
    parse_frame,
    subscribe_frame,
    ticker_stream,
)
from pooler.events import Emit, Heartbeat, TopOfBook, Withdrawn
from pooler.metrics import PoolerMetrics

log = logging.getLogger("pooler.feed")

_sessions = itertools.count(1)


def next_session() -> int:
    return next(_sessions)


def backoff_delay(failures: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Delay before the next attempt after `failures` consecutive failures: initial x 2^failures, capped,
    then jittered into [half, full] so a fleet of poolers does not reconnect in lockstep."""
    ceiling = min(maximum, initial * 2 ** min(failures, 32))
    return float(ceiling / 2 + rng.random() * ceiling / 2)


def is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class FeedTiming:
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    watchdog: float = 15.0
    subscribe_timeout: float = 10.0
    open_timeout: float = 10.0
    # a connection that delivered data for this long resets the backoff
    stable_after: float = 60.0


@dataclass(slots=True)
class LiveStatus:
    connected: bool = False
    # a frame for one of our markets has arrived on the current connection
    delivering: bool = False
    # ... and among them a bookTicker, so there are live prices to publish
    priced: bool = False
    connections: int = 0
    # connection attempts since the last stable connection (one that delivered data for `stable_after`)
    failures: int = 0
    # time.monotonic() since when no connection has delivered data (None while delivering)
    down_since: float | None = field(default_factory=time.monotonic)
    last_frame_at: float | None = None
    last_error: str | None = None
    silent_symbols: list[str] = field(default_factory=list)
    last_tops: dict[str, BookTicker] = field(default_factory=dict)


@dataclass(slots=True)
class _Session:
    id: int
    opened_at: float
    pending: set[str]
    delivered: bool = False
    warned_silent: bool = False
    bad_frames: int = 0


class LiveFeed:
    def __init__(
        self,
        url: str,
        symbols: list[str],
        source: str,
        emit: Emit,
        metrics: PoolerMetrics,
        timing: FeedTiming,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.symbols = list(symbols)
        self.source = source
        self.status = LiveStatus()
        self._emit = emit
        self._metrics = metrics
        self._timing = timing
        self._rng = rng or random.Random()
        self._streams = [book_ticker_stream(s) for s in symbols] + [ticker_stream(s) for s in symbols]

    async def run(self) -> None:
        """Connect, stream, reconnect; forever (until cancelled)."""
        while True:
            session = _Session(next_session(), time.monotonic(), set(self.symbols))
            try:
                close_frame = await self._session(session)
            except Exception as exc:
                # a bug or an error nobody foresaw must cost a reconnect, never the feed
                log.exception("feed connection failed unexpectedly", extra={"source": self.source})
                self.status.last_error = f"unexpected {type(exc).__name__}: {exc}"
                close_frame = False
            self._metrics.connected.labels(self.source).set(0)
            status = self.status
            status.connected = False
            if status.delivering:
                status.delivering = status.priced = False
                status.down_since = time.monotonic()
            if session.delivered and time.monotonic() - session.opened_at >= self._timing.stable_after:
                status.failures = 0
            if close_frame and session.delivered and status.failures == 0:
                delay = 0.0  # the server is shutting down: its replacement is ready now (docs/backpack-protocol.md §5)
            else:
                # a connection that keeps failing, or keeps dropping soon after it opens, waits longer each time
                delay = backoff_delay(
                    status.failures, self._timing.backoff_initial, self._timing.backoff_max, self._rng
                )
                status.failures += 1
            log.info(
                "reconnecting to %s in %.2fs",
                self.url,
                delay,
                extra={"source": self.source, "delay_s": round(delay, 3), "failures": status.failures},
            )
            await asyncio.sleep(delay)
            self._metrics.reconnects.labels(self.source).inc()

    async def _session(self, session: _Session) -> bool:
        """One connection from open to close; returns True when the server ended it with a Close frame."""
        status = self.status
        try:
            async with connect(
                self.url,
                open_timeout=self._timing.open_timeout,
                close_timeout=2,
                max_size=1 << 20,
                # never send loopback traffic to a proxy taken from the environment
                proxy=None if is_loopback(self.url) else True,
            ) as ws:
                session.opened_at = time.monotonic()
                status.connected = True
                status.connections += 1
                self._metrics.connected.labels(self.source).set(1)
                await ws.send(subscribe_frame(self._streams))
                log.info(
                    "connected to %s, subscribed %s",
                    self.url,
                    ",".join(self._streams),
                    extra={"source": self.source, "session": session.id},
                )
                await self._receive(ws, session)
                return False
        except ConnectionClosed as exc:
            if exc.rcvd is not None:
                status.last_error = f"server closed the connection: code {exc.rcvd.code} {exc.rcvd.reason!r}"
                log.warning("%s", status.last_error, extra={"source": self.source})
                return True
            status.last_error = f"connection lost without a close frame ({exc})"
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            status.last_error = f"cannot connect to {self.url}: {type(exc).__name__}: {exc}"
        log.warning("%s", status.last_error, extra={"source": self.source})
        return False

    async def _receive(self, ws: ClientConnection, session: _Session) -> None:
        """Read frames until the connection closes (raises ConnectionClosed) or the watchdog trips."""
        timing = self._timing
        last_frame = time.monotonic()
        while True:
            now = time.monotonic()
            deadline = last_frame + timing.watchdog
            if session.pending and not session.warned_silent:
                deadline = min(deadline, session.opened_at + timing.subscribe_timeout)
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that lands
                # together with a frame, and the feed would then never stop
                async with asyncio.timeout(max(0.0, deadline - now)):
                    raw = await ws.recv()
            except TimeoutError:
                now = time.monotonic()
                if now - last_frame >= timing.watchdog:
                    self._metrics.watchdog_trips.labels(self.source).inc()
                    self.status.last_error = f"no frame for {timing.watchdog:g}s: dropping the connection"
                    log.warning("%s", self.status.last_error, extra={"source": self.source})
                    await ws.close(1000, "no data")
                    return
                self._warn_silent(session)
                continue
            # both clocks at receipt: freshness is judged on the monotonic one, the quote dated by the wall one
            last_frame, wall_ms = time.monotonic(), time.time_ns() // 1_000_000
            self.status.last_frame_at = last_frame
            self._handle(raw, session, last_frame, wall_ms)

    def _warn_silent(self, session: _Session) -> None:
        session.warned_silent = True
        self.status.silent_symbols = sorted(session.pending)
        log.error(
            "no data for %s after %gs: the venue ignores unknown symbols silently; check ASSETS",
            ",".join(sorted(session.pending)),
            self._timing.subscribe_timeout,
            extra={"source": self.source, "silent_symbols": sorted(session.pending)},
        )

    def _mark_delivering(self, session: _Session, symbol: str) -> None:
        if symbol in session.pending:
            session.pending.discard(symbol)
            if session.warned_silent:
                self.status.silent_symbols = sorted(session.pending)
        if not session.delivered:
            session.delivered = True
            self.status.delivering = True
            self.status.down_since = None

    def _handle(self, raw: str | bytes, session: _Session, now: float, wall_ms: int) -> None:
        try:
            frame = parse_frame(raw)
        except FrameError as exc:
            self._metrics.frames.labels(self.source, "malformed").inc()
            self._metrics.parse_errors.labels(self.source, exc.reason).inc()
            session.bad_frames += 1
            # a flood of garbage must not flood the log: the first few, then every thousandth
            if session.bad_frames <= 5 or session.bad_frames % 1000 == 0:
                log.warning(
                    "ignoring malformed frame: %s",
                    exc,
                    extra={"source": self.source, "frame": str(raw)[:200], "count": session.bad_frames},
                )
            if exc.symbol in self.symbols:
                self._emit(Withdrawn(self.source, session.id, exc.symbol, now))
            return
        if isinstance(frame, BookTicker):
            self._metrics.frames.labels(self.source, "bookTicker").inc()
            self._metrics.feed_delay.labels(self.source).observe(max(0.0, time.time() - frame.event_time_us / 1e6))
            if frame.symbol not in self.symbols:
                return
            self._mark_delivering(session, frame.symbol)
            self.status.priced = True
            self.status.last_tops[frame.symbol] = frame
            self._emit(TopOfBook(self.source, session.id, frame, now, wall_ms))
        elif isinstance(frame, OtherStream):
            self._metrics.frames.labels(self.source, "other").inc()
            if frame.symbol in self.symbols:
                self._mark_delivering(session, frame.symbol)
                self._emit(Heartbeat(self.source, session.id, frame.symbol, now, wall_ms))
        elif isinstance(frame, VenueError):
            self._metrics.frames.labels(self.source, "error").inc()
            self._metrics.venue_errors.labels(self.source, str(frame.code)).inc()
            log.error(
                "venue error %d %r (%s)",
                frame.code,
                frame.message,
                ERROR_CODES.get(frame.code, "unknown code"),
                extra={"source": self.source, "code": frame.code},
            )
