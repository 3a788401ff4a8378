"""Structured logging: one JSON object per line (or plain text for a terminal), with the service name
and any `extra=` fields a call site passes. Every line is written through `redact`, so a URL's password
(`scheme://user:PASSWORD@host`, `?password=PASSWORD`) or a keyword DSN's (`password=PASSWORD`) never
reaches a log, whoever formatted the message or raised the exception; uncaught exceptions are logged
through the same formatter instead of Python's raw traceback printer."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from types import TracebackType
from typing import Any

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

# scheme://user:password@  (user may be empty, as in redis://:password@host); the password runs to the
# last "@" before white space, so one containing "@", ":" or "/" is hidden whole (at worst more is hidden)
# Every repetition is bounded, so the scan stays linear in the line's length: with an unbounded scheme a
# long run of letters (a 1 MiB id a client sent) cost quadratic time, minutes of a service's event loop
# for one log line. No real scheme, user name or password comes near these bounds.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s/@:'\"]{0,256}:)(?P<password>\S{0,256})@")
# password=... as a URL query parameter (redis://h/0?password=x, ...?pass=x) or a keyword DSN
# (host=h password=x, password='x y'): the value runs to the next separator of either form or a quote
_KEY_PASSWORD = re.compile(
    r"(?P<head>(?<![A-Za-z0-9_])(?:password|passwd|pass|pwd)=)(?P<password>'[^']*'|[^\s&;'\"\\]+)", re.IGNORECASE
)
REDACTED = "***"
# Longer text is cut (marked with how long it was) before a line is redacted and written: a client's
# megabyte-long id must not become a megabyte-long log line, nor cost the redaction its length squared.
MAX_FIELD_CHARS = 4096
MAX_TRACEBACK_CHARS = 32768
_SPACES = (" ", "\t", "\n", "\r")


def clip(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """`text` itself when it is at most `limit` characters; else its start and a note of its length. The
    word the cut falls in is dropped whole: a URL cut before its "@" would escape the redaction."""
    if len(text) <= limit:
        return text
    kept = text[:limit]
    kept = kept[: max(kept.rfind(space) for space in _SPACES) + 1]
    return f"{kept}... ({len(text)} characters, cut)"


def _clip_value(value: Any) -> Any:
    return clip(value) if isinstance(value, str) else value


def redact(text: str) -> str:
    """`text` with the password of every URL (user:password@ or a password= parameter) and keyword DSN in it
    replaced by ***."""
    text = _URL_PASSWORD.sub(lambda match: f"{match.group('head')}{REDACTED}@", text)
    return _KEY_PASSWORD.sub(lambda match: f"{match.group('head')}{REDACTED}", text)


def _clip_tail(text: str) -> str:
    if len(text) <= MAX_TRACEBACK_CHARS:
        return text
    kept = text[-MAX_TRACEBACK_CHARS:]
    starts = [found for space in _SPACES if (found := kept.find(space)) >= 0]
    kept = kept[min(starts) :] if starts else ""
    return f"({len(text)} characters, the start cut) ...{kept}"


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": clip(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _clip_value(value)
        if record.exc_info:
            # the end of a traceback names the exception; a cut one keeps that end
            entry["exc"] = _clip_tail(self.formatException(record.exc_info))
        return redact(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{key}={_clip_value(value)}"
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        )
        line = f"{record.levelname:<7} {record.name}: {clip(record.getMessage())}" + (f"  {extras}" if extras else "")
        if record.exc_info:
            line += "\n" + _clip_tail(self.formatException(record.exc_info))
        return redact(line)


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # third-party chatter at INFO drowns the services' own lines
    for noisy in ("asyncio", "grpc", "urllib3", "pymongo", "uvicorn.access", "httpx", "websockets"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    # Python's own printer would write the exception's text (which may hold a URL) to stderr unredacted
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("uncaught").critical("uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    logging.getLogger("uncaught").critical(
        "uncaught exception in thread %s",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
