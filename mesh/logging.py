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
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:'\"]*:)(?P<password>\S*)@")
# password=... as a URL query parameter (redis://h/0?password=x, ...?pass=x) or a keyword DSN
# (host=h password=x, password='x y'): the value runs to the next separator of either form or a quote
_KEY_PASSWORD = re.compile(
    r"(?P<head>(?<![A-Za-z0-9_])(?:password|passwd|pass|pwd)=)(?P<password>'[^']*'|[^\s&;'\"\\]+)", re.IGNORECASE
)
REDACTED = "***"


def redact(text: str) -> str:
    """`text` with the password of every URL (user:password@ or a password= parameter) and keyword DSN in it
    replaced by ***."""
    text = _URL_PASSWORD.sub(lambda match: f"{match.group('head')}{REDACTED}@", text)
    return _KEY_PASSWORD.sub(lambda match: f"{match.group('head')}{REDACTED}", text)


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
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{key}={value}"
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        )
        line = f"{record.levelname:<7} {record.name}: {record.getMessage()}" + (f"  {extras}" if extras else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
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
