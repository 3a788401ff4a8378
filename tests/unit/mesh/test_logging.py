"""mesh.logging: every log line has URL passwords replaced, in the message, the extras and tracebacks;
mesh.settings.configuration_problems names variables without their values."""

from __future__ import annotations

import json
import logging
import sys
import threading

import pytest
from pydantic import Field, ValidationError

from mesh.logging import MAX_FIELD_CHARS, JsonFormatter, TextFormatter, configure_logging, redact
from mesh.settings import CommonSettings, configuration_problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://app:Hunter2pw@db/x", "postgresql://app:***@db/x"),
        ("redis://:Hunter2pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("mongodb://u:p@ss:w/rd@h:27017/?authSource=admin", "mongodb://u:***@h:27017/?authSource=admin"),
        ("rediss://default:pw@a, postgresql://b:pw2@c", "rediss://default:***@a, postgresql://b:***@c"),
        ("'redis://:pw@h'", "'redis://:***@h'"),
        # a password as a query parameter or in a keyword DSN
        ("redis://h/0?password=Hunter2pw", "redis://h/0?password=***"),
        (
            "postgresql://u@h/db?sslmode=require&password=Hunter2pw&x=1",
            "postgresql://u@h/db?sslmode=require&password=***&x=1",
        ),
        ("redis://h:6379/0?pass=Hunter2pw", "redis://h:6379/0?pass=***"),
        ("host=db user=app password=Hunter2pw dbname=x", "host=db user=app password=*** dbname=x"),
        ("host=db PASSWORD='Hunter 2pw' port=5432", "host=db PASSWORD=*** port=5432"),
        ('{"dsn": "host=db password=Hunter2pw"}', '{"dsn": "host=db password=***"}'),
        # nothing to hide: no password, or no credentials at all
        ("bypass=1 compass=north", "bypass=1 compass=north"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("postgresql://postgres@127.0.0.1:5432/postgres", "postgresql://postgres@127.0.0.1:5432/postgres"),
        ("connect to db:5432 failed", "connect to db:5432 failed"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def _record_with_secret_everywhere() -> logging.LogRecord:
    try:
        raise ConnectionError("cannot reach postgresql://app:Hunter2pw@db/x")
    except ConnectionError:
        exc_info = sys.exc_info()
    record = logging.makeLogRecord(
        {
            "name": "t",
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "msg": "failed: %s",
            "args": ("redis://:Hunter2pw@r:6379",),
            "exc_info": exc_info,
            "url": "mongodb://m:Hunter2pw@h",
        }
    )
    return record


@pytest.mark.parametrize("formatter", [JsonFormatter("svc"), TextFormatter()])
def test_formatters_redact_message_extras_and_traceback(formatter: logging.Formatter) -> None:
    line = formatter.format(_record_with_secret_everywhere())
    assert "Hunter2pw" not in line
    assert line.count("***") >= 3  # message, extra, exception (and the traceback's source line)


def test_json_line_stays_json_after_redaction() -> None:
    entry = json.loads(JsonFormatter("svc").format(_record_with_secret_everywhere()))
    assert entry["msg"] == "failed: redis://:***@r:6379" and entry["url"] == "mongodb://m:***@h"


class _Settings(CommonSettings):
    some_port: int = Field(default=1, ge=0)


def test_configuration_problems_name_the_variable_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_PORT", "Hunter2pw")
    monkeypatch.setenv("LOG_LEVEL", "postgresql://a:Hunter2pw@h")
    with pytest.raises(ValidationError) as caught:
        _Settings()
    problems = configuration_problems(caught.value)
    assert sorted(problem.split(":")[0] for problem in problems) == ["LOG_LEVEL", "SOME_PORT"]
    assert "Hunter2pw" not in " ".join(problems)


def test_uncaught_exceptions_are_logged_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    configure_logging("svc", "INFO", "json")
    try:
        raise RuntimeError("cannot open redis://:Hunter2pw@r:6379/0")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    worker = threading.Thread(target=lambda: (_ for _ in ()).throw(OSError("mongodb://m:Hunter2pw@h")))
    worker.start()
    worker.join()
    err = capsys.readouterr().err
    assert "Hunter2pw" not in err
    assert "redis://:***@r:6379/0" in err and "mongodb://m:***@h" in err


@pytest.mark.parametrize("formatter", [JsonFormatter("svc"), TextFormatter()])
def test_a_huge_field_is_cut_and_a_url_cut_before_its_at_sign_still_hides_its_password(
    formatter: logging.Formatter,
) -> None:
    record = logging.makeLogRecord({"msg": "u" * (1 << 20), "levelno": logging.INFO, "levelname": "INFO"})
    record.gateway_id = "x" * 4090 + " redis://:Hunter2pw@host"
    line = formatter.format(record)
    assert len(line) < 3 * MAX_FIELD_CHARS
    assert "Hunter2pw" not in line and "Hunter" not in line
    assert "(1048576 characters, cut)" in line


def test_redaction_stays_linear_on_hostile_text() -> None:
    # an unbounded scheme made a 1 MiB run of letters cost minutes (quadratic backtracking): found by
    # sending a 1 MiB gateway_id to StreamReplies, which stalled the engine's loop in its log line
    assert redact("u" * (1 << 20)) == "u" * (1 << 20)
    hostile = "a://b:" * 20_000
    assert redact(hostile) == hostile
    assert redact("x" * 100 + " redis://:Hunter2pw@h") == "x" * 100 + " redis://:***@h"
